"""The pieces every dialect shares, written once: the config preflight, the ``provider_options``
merge (with its refusals), the ``User-Agent``, ``strip_model_prefix`` and the empty-conversation rule.

Each is pure and returns data: a ``Failure(LlmError)`` names what is wrong (a field, a key) and
never echoes a credential.

>>> merge_provider_options("openai", b'{"model":"m","max_completion_tokens":5}', {"max_tokens": 10**6}).failure().message
"provider_options['max_tokens'] would change the output limit the spending guard priced: pass max_tokens= instead"
>>> merge_provider_options("openai", b'{"model":"m"}', {"logprobs": True}).unwrap()
b'{"model":"m","logprobs":true}'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec
from returns.result import Failure, Result

from ._memo import remember
from ._result import ok
from ._version import __version__
from .dialect import ProviderConfig, check_base_url, invalid_request
from .errors import LlmError
from .schema import ChatChunk, ChatRequest, ChatResponse, ImagePart, Role, TextPart, Usage
from .secret import Secret

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_TOOL = Role.TOOL

__all__ = [
    "USER_AGENT",
    "TokenCount",
    "conversation_problem",
    "merge_provider_options",
    "model_id_problem",
    "preflight",
    "settle",
    "settle_usage",
    "strip_model_prefix",
]

USER_AGENT = f"interlingua/{__version__}"

TokenCount = Annotated[int, msgspec.Meta(ge=0)]
"""A token count as a provider reports it: a JSON integer, never negative. Anything else (``-5``,
``1.5``, ``"7"``) fails validation, so the dialect answers ``decode`` instead of a negative cost."""

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()

# -- provider_options: one merge, with refusals ----------------------------------------------------

_OUTPUT_LIMIT = "the output limit the spending guard priced: pass max_tokens= instead"
REFUSED_OPTIONS: Mapping[str, str] = {
    "model": "the model the call was routed, limited and priced for: put it in the model string instead",
    "stream": "streaming, which the call form decides: call stream() or stream_response() instead",
    # Every provider's name for the output limit, at the top level or one object down
    # (Gemini generationConfig, Ollama options, Bedrock inferenceConfig/additionalModelRequestFields).
    "max_tokens": _OUTPUT_LIMIT,
    "max_completion_tokens": _OUTPUT_LIMIT,
    "max_output_tokens": _OUTPUT_LIMIT,
    "maxOutputTokens": _OUTPUT_LIMIT,
    "maxTokens": _OUTPUT_LIMIT,
    "num_predict": _OUTPUT_LIMIT,
    "max_new_tokens": _OUTPUT_LIMIT,
    "max_gen_len": _OUTPUT_LIMIT,
    "maxTokenCount": _OUTPUT_LIMIT,
    # More than one answer per call multiplies the spend the guard reserved for one.
    "n": "the number of answers (the spending guard prices one): make one call per answer instead",
    "candidateCount": "the number of answers (the spending guard prices one): make one call per answer instead",
}
"""``provider_options`` keys that would silently change what the spending guard reserved for (a
``max_tokens`` of a million through ``provider_options`` once raised the spend to 353 times the cap),
each with the first-class option to use instead."""


def refused_option(options: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first refused key (as a dotted path, one object deep) and why, or ``None``.

    >>> refused_option({"generationConfig": {"temperature": 1, "maxOutputTokens": 9}})
    ('generationConfig.maxOutputTokens', 'the output limit the spending guard priced: pass max_tokens= instead')
    """
    for key, value in options.items():
        if key in REFUSED_OPTIONS:
            return key, REFUSED_OPTIONS[key]
        if isinstance(value, dict):
            for inner in value:
                if inner in REFUSED_OPTIONS and inner not in ("model", "stream"):
                    return f"{key}.{inner}", REFUSED_OPTIONS[inner]
    return None


def merge_provider_options(
    provider: str,
    raw: bytes,
    options: Mapping[str, Any],
    *,
    merged: frozenset[str] = frozenset(),
    extended: frozenset[str] = frozenset(),
    nest: tuple[str, frozenset[str]] | None = None,
) -> Result[bytes, LlmError]:
    """``raw`` (the encoded body) with ``options`` laid over it, or ``invalid_request`` naming a
    refused key and the first-class option to use instead.

    Keys in ``merged`` are objects merged key by key, keys in ``extended`` are lists appended to;
    ``nest=(name, keys)`` moves each of ``keys`` into the object ``name`` (Ollama's ``options``).
    Any other key replaces the body's value.
    """
    if not options:
        return ok(raw)
    refused = refused_option(options)
    if refused is not None:
        key, why = refused
        return invalid_request(provider, f"provider_options[{key!r}] would change {why}")
    body: dict[str, Any] = _DECODER.decode(raw)
    inner_name, inner_keys = nest if nest is not None else ("", frozenset[str]())
    inner: dict[str, Any] = dict(body.get(inner_name) or {}) if nest is not None else {}
    for k, v in options.items():
        if nest is not None and k == inner_name and isinstance(v, dict):
            inner.update(v)
        elif k in inner_keys:
            inner[k] = v
        elif k in merged and isinstance(v, dict):
            body[k] = {**(body.get(k) or {}), **v}
        elif k in extended and isinstance(v, list):
            body[k] = [*(body.get(k) or []), *v]
        else:
            body[k] = v
    if inner:
        body[inner_name] = inner
    return ok(_ENCODER.encode(body))


# -- usage --------------------------------------------------------------------------------------------


def settle_usage(usage: Usage, metadata: dict[str, Any] | None = None) -> tuple[Usage, dict[str, Any] | None]:
    """``usage`` with each part no larger than the total it belongs to (cached ≤ prompt, reasoning ≤
    completion), and ``metadata`` flagging what was clamped under ``usage_clamped`` (the counts as sent).

    >>> usage, meta = settle_usage(Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=99))
    >>> usage.cached_tokens, meta
    (10, {'usage_clamped': {'cached_tokens': 99}})
    """
    if usage.cached_tokens <= usage.prompt_tokens and usage.reasoning_tokens <= usage.completion_tokens:
        return usage, metadata
    clamped = {
        name: sent
        for name, sent, total in (
            ("cached_tokens", usage.cached_tokens, usage.prompt_tokens),
            ("reasoning_tokens", usage.reasoning_tokens, usage.completion_tokens),
        )
        if sent > total
    }
    fixed = msgspec.structs.replace(
        usage,
        cached_tokens=min(usage.cached_tokens, usage.prompt_tokens),
        reasoning_tokens=min(usage.reasoning_tokens, usage.completion_tokens),
    )
    return fixed, {**(metadata or {}), "usage_clamped": clamped}


_Counted = TypeVar("_Counted", ChatResponse, ChatChunk)


def settle(item: _Counted) -> _Counted:
    """A response or chunk with its usage settled (:func:`settle_usage`): unchanged in the usual case."""
    u = item.usage
    if u is None or (u.cached_tokens <= u.prompt_tokens and u.reasoning_tokens <= u.completion_tokens):
        return item
    usage, meta = settle_usage(u, item.provider_metadata)
    return msgspec.structs.replace(item, usage=usage, provider_metadata=meta)


# ``role.value`` as a plain ``str`` without the enum property's two Python frames (issue 19: one
# lookup per message encoded)
ROLE_NAMES: Mapping[Role, str] = {r: r.value for r in Role}


# -- model names -------------------------------------------------------------------------------------


def strip_model_prefix(model: str, *names: str) -> str:
    """``openai:gpt-4o`` / ``openai/gpt-4o`` → ``gpt-4o`` for any of ``names``; others unchanged.

    >>> strip_model_prefix("openai:gpt-4o", "openai"), strip_model_prefix("llama3:8b", "openai")
    ('gpt-4o', 'llama3:8b')
    """
    for n in names:
        for sep in (":", "/"):
            if model.startswith(n + sep):
                return model[len(n) + 1 :]
    return model


def model_id_problem(model_id: str) -> str | None:
    """Why ``model_id`` cannot go into a URL path (Bedrock ``/model/{id}``, Azure deployments,
    Gemini ``models/{id}``) or a body, or ``None``: it is empty, a dot segment (``.``/``..``, which
    HTTP clients resolve, turning ``/model/../converse`` into another endpoint), or holds a control
    character (a space is fine: the dialects percent-encode the id in a path).

    >>> model_id_problem(".."), model_id_problem("gpt-4o")
    ("the model id '..' would be a URL dot segment", None)
    """
    if not model_id:
        return "the model id is empty"
    if not model_id.strip("."):
        return f"the model id {model_id!r} would be a URL dot segment"
    if _CONTROL.search(model_id):
        return "the model id contains a control character"
    return None


# -- config preflight --------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _secret(s: Secret | None) -> str | None:
    return s.reveal() if s else None


def config_problem(cfg: ProviderConfig) -> str | None:
    """Which field holds a control character (CR, LF, NUL, …), naming the field and never its value.

    A trailing newline (a key read from a file or a secret mount) was already stripped when the
    config was built; any other control character would make the HTTP library raise while sending
    (header injection), so it is refused before anything is sent.

    >>> config_problem(ProviderConfig(api_key=Secret("sk-a\\nb")))
    'api_key contains a control character'
    >>> config_problem(ProviderConfig(headers=(("X-Team", "a\\rb"),)))
    "headers['X-Team'] contains a control character"
    """
    fields: tuple[tuple[str, str | None], ...] = (
        ("base_url", cfg.base_url),
        ("api_version", cfg.api_version),
        ("organization", cfg.organization),
        ("project", cfg.project),
        ("region", cfg.region),
        ("aws_access_key_id", cfg.aws_access_key_id),
        ("api_key", _secret(cfg.api_key)),
        ("bearer_token", _secret(cfg.bearer_token)),
        ("aws_secret_access_key", _secret(cfg.aws_secret_access_key)),
        ("aws_session_token", _secret(cfg.aws_session_token)),
    )
    for field, value in fields:
        if value and _CONTROL.search(value):
            return f"{field} contains a control character"
    for name, value in cfg.headers:
        if _CONTROL.search(name) or not name:
            return "a header name is empty or contains a control character"
        if _CONTROL.search(value):
            return f"headers[{name!r}] contains a control character"
    return None


# (provider, id(cfg), base URL) -> (cfg, verdict). The verdict depends only on these (the config
# is frozen), and the same few configs recur on every request (issue 19: ~10 calls per request).
# The entry holds ``cfg`` itself, so its id cannot be reused by another config while it is cached;
# ``is`` confirms the hit. Bounded: cleared when full.
_PREFLIGHT: dict[tuple[str, int, str], tuple[ProviderConfig, Result[str, LlmError]]] = {}


def preflight(provider: str, cfg: ProviderConfig, base_url: str) -> Result[str, LlmError]:
    """The checks every dialect makes before it builds a request: no control character in any
    config field, and a base URL that is http(s), has no credentials in it, and is not plain http
    to a remote host. ``Success`` is the base URL to use."""
    key = (provider, id(cfg), base_url)
    hit = _PREFLIGHT.get(key)
    if hit is not None and hit[0] is cfg:
        return hit[1]
    problem = config_problem(cfg)
    verdict = invalid_request(provider, problem) if problem is not None else check_base_url(provider, base_url, cfg.allow_insecure_http)
    return remember(_PREFLIGHT, key, (cfg, verdict))[1]


# -- the conversation --------------------------------------------------------------------------------


def conversation_problem(req: ChatRequest) -> str | None:
    """``None`` when the request has something to answer: at least one message with non-empty
    content (text, an image, a tool call or a tool result). Every provider refuses an empty
    conversation, each in its own words (or, like OpenAI, takes and bills it); refusing it here
    makes the answer the same everywhere and sends nothing.

    >>> from .schema import Message
    >>> conversation_problem(ChatRequest(model="m", messages=(Message.user(""), Message.system("  "))))
    'the conversation is empty: no message has any content'
    """
    if not req.messages:
        return "messages must not be empty"
    for m in req.messages:
        if m.tool_calls or m.role is _TOOL:
            return None
        if isinstance(m.content, str):
            if m.content.strip():
                return None
            continue
        for p in m.content:
            if isinstance(p, ImagePart) or (isinstance(p, TextPart) and p.text.strip()):
                return None
    return "the conversation is empty: no message has any content"


def refuse_empty(provider: str, req: ChatRequest) -> Failure[LlmError] | None:
    """:func:`conversation_problem` as the ``invalid_request`` every dialect returns first."""
    problem = conversation_problem(req)
    return None if problem is None else invalid_request(provider, problem)
