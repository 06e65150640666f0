"""Provider prompt caching: the rules shared by the dialects that take explicit breakpoints.

A :class:`~interlingua.core.schema.CacheControl` on a tool, a system message, a message or a text
part marks the end of a prefix the provider may cache. Anthropic (``cache_control``) and Bedrock
Converse (``cachePoint``) take these breakpoints; OpenAI ("Prompt Caching is enabled for all recent
models … on prompts 1024 tokens or longer", platform docs) and Gemini ("implicit caching is enabled
by default", Gemini API docs) cache on their own, so there a breakpoint changes nothing on the wire.

The checks below run before anything is sent:

* "You can define up to 4 cache breakpoints" (Anthropic prompt-caching docs); Bedrock allows the
  same number of cache checkpoints per request.
* "When mixing TTLs … cache entries with longer TTL must appear before shorter TTLs" (Anthropic):
  a 1-hour breakpoint after a 5-minute one is refused, in prompt order (tools, system, messages).

>>> from .schema import CacheControl, ChatRequest, Message
>>> req = ChatRequest(model="m", messages=tuple(Message.user(str(i), cache=CacheControl()) for i in range(5)))
>>> breakpoint_problem(req)
'at most 4 prompt-cache breakpoints are allowed per request, this one has 5'
"""

from __future__ import annotations

import hashlib
import re

import msgspec

from .schema import CacheControl, ChatRequest, Message, Role, TextPart

__all__ = [
    "BREAKPOINT_PROVIDERS",
    "EXTENDED_RETENTION_MODELS",
    "MAX_BREAKPOINTS",
    "breakpoint_problem",
    "breakpoints",
    "explicit_breakpoints",
    "has_breakpoints",
    "has_breakpoints_in",
    "openai_cache_fields",
]

EXTENDED_RETENTION_MODELS = ("gpt-5", "gpt-4.1")
"""Model families with OpenAI's extended prompt-cache retention ("prompt_cache_retention: 24h …
available for gpt-5.1, gpt-5.1-codex, gpt-5.1-codex-mini, gpt-5.1-chat-latest, gpt-5, gpt-5-codex,
gpt-4.1" — prompt-caching guide); others keep the default in-memory retention."""

_SORTED = msgspec.json.Encoder(order="sorted")

MAX_BREAKPOINTS = 4

BREAKPOINT_PROVIDERS = frozenset({"anthropic", "bedrock", "openai"})
"""Providers whose dialect sends breakpoints (or, for OpenAI, a prefix cache key); the others cache
on their own (Gemini implicit caching, xAI, Azure OpenAI) or not at all (local runtimes)."""


def breakpoints(req: ChatRequest) -> list[CacheControl]:
    """Every breakpoint of ``req`` in prompt order: tools, then system messages, then the others
    (within a message, its parts' breakpoints before the message's own)."""
    found = [t.cache for t in req.tools if t.cache is not None]
    for system in (True, False):
        for m in req.messages:
            if (m.role is Role.SYSTEM) is not system:
                continue
            if not isinstance(m.content, str):
                found.extend(p.cache for p in m.content if isinstance(p, TextPart) and p.cache is not None)
            if m.cache is not None:
                found.append(m.cache)
    return found


def has_breakpoints(req: ChatRequest) -> bool:
    # plain loops: this runs on every OpenAI request, and text-only messages are then one attribute
    # test each (no generator frames; issue 19)
    for t in req.tools:
        if t.cache is not None:
            return True
    for m in req.messages:
        if m.cache is not None or (type(m.content) is not str and _message_has_breakpoint(m)):
            return True
    return False


def breakpoint_problem(req: ChatRequest) -> str | None:
    """Why ``req``'s breakpoints would be refused by Anthropic or Bedrock, or ``None``."""
    if not has_breakpoints(req):
        return None
    marks = breakpoints(req)
    if len(marks) > MAX_BREAKPOINTS:
        return f"at most {MAX_BREAKPOINTS} prompt-cache breakpoints are allowed per request, this one has {len(marks)}"
    seen_short = False
    for c in marks:
        if c.ttl == "5m":
            seen_short = True
        elif seen_short:
            return "a 1h prompt-cache breakpoint must come before every 5m one (tools, system, then messages)"
    return None


_GPT_VERSION = re.compile(r"gpt-(\d+)\.(\d+)")


def explicit_breakpoints(model: str) -> bool:
    """Whether an OpenAI model takes ``prompt_cache_breakpoint`` on content parts ("supported for
    gpt-5.6 and later models" — Chat Completions reference).

    >>> explicit_breakpoints("gpt-5.6-mini"), explicit_breakpoints("gpt-5.1"), explicit_breakpoints("gpt-4o")
    (True, False, False)
    """
    found = _GPT_VERSION.match(model)
    return found is not None and (int(found[1]), int(found[2])) >= (5, 6)


def has_breakpoints_in(m: Message) -> bool:
    return _message_has_breakpoint(m)


def _message_has_breakpoint(m: Message) -> bool:
    return m.cache is not None or (
        not isinstance(m.content, str) and any(isinstance(p, TextPart) and p.cache is not None for p in m.content)
    )


def openai_cache_fields(req: ChatRequest, model: str) -> dict[str, str]:
    """What breakpoints mean on OpenAI, which caches prompts of 1024+ tokens by itself.

    ``prompt_cache_key``: "OpenAI routes requests to machines based on a hash of the initial prefix
    … the prompt_cache_key is combined with the prefix hash", so requests sharing a marked prefix
    name it with one key (a hash of the tools and the messages up to the last breakpoint), which
    keeps them on the machines that hold it. ``prompt_cache_retention: "24h"`` when a breakpoint asks
    for the 1-hour TTL and the model offers extended retention. ``provider_options`` override both.

    >>> from .schema import CacheControl, ChatRequest, Message
    >>> req = ChatRequest(model="gpt-5", messages=(Message.system("long rules", cache=CacheControl(ttl="1h")), Message.user("q")))
    >>> sorted(openai_cache_fields(req, "gpt-5"))
    ['prompt_cache_key', 'prompt_cache_retention']
    >>> openai_cache_fields(ChatRequest(model="gpt-5", messages=(Message.user("q"),)), "gpt-5")
    {}
    """
    if not has_breakpoints(req):
        return {}
    last = max((i for i, m in enumerate(req.messages) if _message_has_breakpoint(m)), default=-1)
    prefix = {"tools": msgspec.to_builtins(req.tools), "messages": msgspec.to_builtins(req.messages[: last + 1])}
    fields = {"prompt_cache_key": "interlingua-" + hashlib.sha256(_SORTED.encode(prefix)).hexdigest()[:40]}
    if any(c.ttl == "1h" for c in breakpoints(req)) and model.startswith(EXTENDED_RETENTION_MODELS):
        fields["prompt_cache_retention"] = "24h"
    return fields
