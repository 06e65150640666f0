"""The response cache's pure half: the key of a request, the stored entry, and the replay of a
cached answer as a stream.

The key is a SHA-256 of a canonical encoding of everything that changes the answer: provider,
resolved model, the base URL's host (two deployments of one model are two caches), and the whole
:class:`ChatRequest` — messages, tools, tool_choice, sampling parameters, max tokens, stop, seed,
response_format, reasoning, ``provider_options`` — with mapping keys sorted at every depth, so a
request built in another key order finds the same entry (LiteLLM misses on key order,
BerriAI/litellm#40128). Never in the key: the API key or any header (they do not change the
answer, and a key must not be derivable from a cache), and ``user`` (an end-user id for abuse
monitoring; it would split one answer into one entry per user).

An entry carries a format version and its own key; anything that does not decode to the current
version with the same key (a schema change between releases, a truncated or corrupted row, a
value another program wrote) is a miss, never an exception, and the fresh answer replaces it.

>>> from .schema import ChatRequest, Message
>>> a = ChatRequest(model="gpt-4o", messages=(Message.user("hi"),), provider_options={"a": 1, "b": {"y": 2, "x": 1}})
>>> b = ChatRequest(model="gpt-4o", messages=(Message.user("hi"),), provider_options={"b": {"x": 1, "y": 2}, "a": 1})
>>> request_key("openai", a, "https://api.openai.com/v1") == request_key("openai", b, "https://api.openai.com/v1")
True
>>> request_key("openai", a, None) == request_key("openai", a, "https://eu.api.openai.com/v1")
False
"""

from __future__ import annotations

import hashlib
import math
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .prompt_cache import has_breakpoints
from .schema import ChatChunk, ChatRequest, ChatResponse, ReasoningPart, TextPart, ToolCallDelta

__all__ = ["ENTRY_VERSION", "CacheEntry", "decode_entry", "encode_entry", "replay_chunks", "request_key"]

ENTRY_VERSION = 1
"""Bumped whenever the stored shape or the key's canonical form changes: older entries then miss."""

_KEY_PREFIX = b"interlingua-cache-key/1\n"


class CacheEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What a cache stores under a key: the answer, the key it belongs to and the format version."""

    v: int
    key: str
    response: ChatResponse


# "sorted" orders dict keys *and* struct fields at every depth: one canonical byte string.
_CANONICAL = msgspec.json.Encoder(order="sorted")
_ENTRY_ENCODER = msgspec.json.Encoder()
_ENTRY_DECODER = msgspec.json.Decoder(CacheEntry)
# Fields of the call's bookkeeping, stamped by the client on each call: never part of a stored answer.
_CALL_METADATA = ("attempts", "failed_over_from", "cache")


def _canonical_numbers(value: Any) -> Any:
    """Make equal numbers encode equally: ``1`` and ``1.0`` (a temperature) are one value to the provider."""
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _canonical_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_numbers(v) for v in value]
    return value


def host_of(base_url: str | None) -> str:
    """The host[:port] a base URL names (lower case), or ``""`` for the provider's default."""
    if not base_url:
        return ""
    try:
        return (urlsplit(base_url).netloc or base_url).lower()
    except ValueError:
        return base_url.lower()


def _drop_breakpoints(body: dict[str, Any]) -> None:
    """Prompt-cache breakpoints change what the provider bills, never the answer: not in the key."""
    for tool in body.get("tools", ()):
        tool.pop("cache", None)
    for m in body["messages"]:
        m.pop("cache", None)
        if isinstance(m.get("content"), list):
            for part in m["content"]:
                part.pop("cache", None)


def request_key(provider: str, request: ChatRequest, base_url: str | None) -> str:
    """The cache key (64 hex digits) of ``request`` sent to ``provider`` at ``base_url``.

    ``request.model`` must be the resolved model (what :meth:`Client.prepare` leaves there).
    """
    body = msgspec.to_builtins(request)  # omit_defaults: an unset field and its default are one request
    body.pop("user", None)
    if has_breakpoints(request):
        _drop_breakpoints(body)
    canonical = _CANONICAL.encode({"provider": provider, "host": host_of(base_url), "request": _canonical_numbers(body)})
    return hashlib.sha256(_KEY_PREFIX + canonical).hexdigest()


def _stored(response: ChatResponse) -> ChatResponse:
    meta = response.provider_metadata
    if not any(k in meta for k in _CALL_METADATA):
        return response
    return msgspec.structs.replace(response, provider_metadata={k: v for k, v in meta.items() if k not in _CALL_METADATA})


def encode_entry(key: str, response: ChatResponse) -> bytes:
    """The bytes to store for ``response`` under ``key`` (the call's own bookkeeping left out)."""
    return _ENTRY_ENCODER.encode(CacheEntry(v=ENTRY_VERSION, key=key, response=_stored(response)))


def decode_entry(key: str, data: bytes | None) -> ChatResponse | None:
    """The response stored in ``data`` for ``key``; ``None`` (a miss) for anything else.

    Total: never raises, whatever the bytes.

    >>> decode_entry("k", b"\\x00garbage") is None
    True
    """
    if not data:
        return None
    try:
        entry = _ENTRY_DECODER.decode(data)
    except (msgspec.DecodeError, ValueError, TypeError):
        # ValueError/TypeError: a __post_init__ (Message role, ImagePart) refusing a foreign value
        return None
    if entry.v != ENTRY_VERSION or entry.key != key:
        return None
    return entry.response


def replay_chunks(response: ChatResponse) -> tuple[ChatChunk, ...]:
    """Chunks whose fold (:func:`interlingua.core.fold_chunks`) is ``response`` again: how a cached
    answer is replayed to a stream call.

    >>> from .fold import fold_chunks
    >>> from .schema import FinishReason, Usage, assistant_text
    >>> r = ChatResponse(id="r", model="m", created=1, message=assistant_text("hi"),
    ...                  finish_reason=FinishReason.STOP, usage=Usage(), provider="openai")
    >>> fold_chunks(replay_chunks(r), "openai") == r
    True
    """
    msg = response.message
    meta = dict(response.provider_metadata) or None
    chunks: list[ChatChunk] = [ChatChunk(id=response.id, model=response.model, created=response.created, provider_metadata=meta)]
    for part in msg.parts:
        match part:
            case TextPart(text=text):
                chunks.append(ChatChunk(text=text))
            case ReasoningPart(redacted=str(redacted)):
                chunks.append(ChatChunk(redacted_reasoning=redacted))
            case ReasoningPart(text=text, signature=signature):
                # an empty unsigned reasoning block folds to nothing; one signed with "" keeps its marker
                chunks.append(ChatChunk(reasoning=text, reasoning_signature=signature))
            case _:
                # ImagePart in an answer has no chunk form; it never comes from a decoder today
                pass
    if msg.tool_calls:
        chunks.append(
            ChatChunk(
                tool_calls=tuple(
                    ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments, signature=c.signature)
                    for i, c in enumerate(msg.tool_calls)
                )
            )
        )
    chunks.append(
        ChatChunk(
            refusal=msg.refusal,
            finish_reason=response.finish_reason,
            raw_finish_reason=response.raw_finish_reason,
            usage=response.usage,
        )
    )
    return tuple(chunks)
