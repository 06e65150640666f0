"""A fake of Anthropic's Messages API, written from Anthropic's API reference.

Paths: ``POST /v1/messages`` (JSON, or SSE when ``"stream": true``), ``POST /v1/messages/count_tokens``,
``GET /v1/models``, ``GET /v1/models/{model_id}``. An SDK's base URL is the fake's origin (the SDK
appends ``/v1/messages``); any other path gets 404 ``not_found_error``.

Auth: ``x-api-key: <key>``; a missing or wrong key gets 401 ``authentication_error``. The
``anthropic-version`` header is required (400 ``invalid_request_error`` without it). Every
response carries a ``request-id`` header; error bodies are Anthropic's shape
(https://docs.anthropic.com/en/api/errors)::

    {"type": "error", "error": {"type": "invalid_request_error", "message": "…"}, "request_id": "req_…"}

Body validation follows the documented rules: required ``model``/``max_tokens``/``messages``,
roles ``user``/``assistant`` only, a first ``user`` turn, non-empty text blocks, every
``tool_use`` answered by a ``tool_result`` in the next turn (results first), thinking budgets
(≥ 1024, < ``max_tokens``), ``temperature`` in [0, 1]. Unknown models get 404 ``not_found_error``.

Content follows :mod:`interlingua.fakes._content`; with thinking enabled the answer starts with a
signed ``thinking`` block. Streams are framed as the streaming docs show
(https://docs.anthropic.com/en/api/messages-streaming): ``event: <type>\\ndata: <json>\\n\\n`` for
``message_start`` (the whole message skeleton with usage), then per block ``content_block_start``,
``content_block_delta``\\ s, ``content_block_stop`` (a ``ping`` after the first start), then
``message_delta`` (stop reason; cumulative ``input_tokens``, cache token counts and ``output_tokens``)
and ``message_stop``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
from typing import Any, NamedTuple

from aiohttp import web

from interlingua.core._memo import remember

from ._content import SCRIPTED, count_tokens, decide, split_for_stream, stable_id
from ._faults import Fault
from ._jsonenc import compact
from ._prompt_cache import Segment, install, prompt_cache
from ._server import Call, FakeSpec, endpoint, send_json, send_stream, state_of

__all__ = [
    "MODELS",
    "SPEC",
    "message_payload",
    "stream_frames",
    "validate_count_tokens_body",
    "validate_messages_body",
]

NAME = "anthropic"
VERSION = "2023-06-01"
# model -> (context window, max output tokens, display name, created_at)
MODELS: dict[str, tuple[int, int, str, str]] = {
    "claude-opus-4-6": (200_000, 128_000, "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    "claude-sonnet-4-6": (200_000, 64_000, "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    "claude-opus-4-5": (200_000, 64_000, "Claude Opus 4.5", "2025-11-24T00:00:00Z"),
    "claude-opus-4-1": (200_000, 32_000, "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    "claude-opus-4-0": (200_000, 32_000, "Claude Opus 4", "2025-05-22T00:00:00Z"),
    "claude-sonnet-4-5": (200_000, 64_000, "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    "claude-sonnet-4-0": (200_000, 64_000, "Claude Sonnet 4", "2025-05-22T00:00:00Z"),
    "claude-haiku-4-5": (200_000, 64_000, "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
    "claude-3-7-sonnet-latest": (200_000, 64_000, "Claude Sonnet 3.7", "2025-02-24T00:00:00Z"),
    "claude-3-5-haiku-latest": (200_000, 8_192, "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
    "claude-3-haiku-20240307": (200_000, 4_096, "Claude Haiku 3", "2024-03-07T00:00:00Z"),
}
_BLOCK_TYPES = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "search_result"}
)
_COUNT_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "output_format",
     "mcp_servers", "cache_control", "context_management"}
)

# https://docs.anthropic.com/en/api/errors — HTTP status -> error.type
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STATUS_MESSAGES: dict[str, str] = {
    "rate_limit_error": "This request would exceed the rate limit for your organization of 50 requests per minute. "
    "For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
    "timeout_error": "Request timed out",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
}


class _Invalid(Exception):
    """Internal: a validation failure (status, type, message); never leaves this module."""

    def __init__(self, message: str, status: int = 400, type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


def _request_id(*parts: object) -> str:
    return "req_011C" + stable_id(*parts, time.time_ns(), n=20)


def _error(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    rid = _request_id(status, message)
    return web.json_response(
        {"type": "error", "error": {"type": type_, "message": message}, "request_id": rid},
        status=status,
        headers={"request-id": rid, **(headers or {})},
    )


# The quota the fake reports: an account well inside its limits (Anthropic's usage tier 4 for a
# Sonnet model: 4,000 requests, 2,000,000 input and 400,000 output tokens a minute), as the real API
# reports it after this one request. The limits are token buckets that refill continuously, and each
# ``…-reset`` is "the time when the rate limit will be fully replenished" (RFC 3339, whole seconds):
# remaining = limit minus this request, reset = when this request's share is back (docs.anthropic.com,
# "Rate limits" → "Response headers"). ``…-tokens-*`` is the most restrictive of the token limits,
# here the output one; token counts are rounded to the nearest thousand. The fake does not meter load,
# so a fuller account is the consistent claim: a tier-1 figure (50 requests a minute) reported as
# nearly untouched by a server answering thousands of requests a second would make a client that
# paces by these headers (interlingua does) throttle to a quota the fake never enforces.
_RPM, _ITPM, _OTPM = 4_000, 2_000_000, 400_000


_STAMPS: dict[int, str] = {}


def _reset(seconds: float) -> str:
    at = math.ceil(time.time() + seconds)
    stamp = _STAMPS.get(at)
    if stamp is None:  # one strftime per second, not three per response
        stamp = remember(_STAMPS, at, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)), bound=64)
    return stamp


def _ratelimit_headers(input_tokens: int, output_tokens: int) -> dict[str, str]:
    requests_reset = _reset(60 / _RPM)
    input_reset = _reset(60 * input_tokens / _ITPM)
    output_reset = _reset(60 * output_tokens / _OTPM)
    output_left = str(round(_OTPM - output_tokens, -3))
    return {
        "anthropic-ratelimit-requests-limit": str(_RPM),
        "anthropic-ratelimit-requests-remaining": str(_RPM - 1),
        "anthropic-ratelimit-requests-reset": requests_reset,
        "anthropic-ratelimit-input-tokens-limit": str(_ITPM),
        "anthropic-ratelimit-input-tokens-remaining": str(round(_ITPM - input_tokens, -3)),
        "anthropic-ratelimit-input-tokens-reset": input_reset,
        "anthropic-ratelimit-output-tokens-limit": str(_OTPM),
        "anthropic-ratelimit-output-tokens-remaining": output_left,
        "anthropic-ratelimit-output-tokens-reset": output_reset,
        "anthropic-ratelimit-tokens-limit": str(_OTPM),
        "anthropic-ratelimit-tokens-remaining": output_left,
        "anthropic-ratelimit-tokens-reset": output_reset,
    }


def _exhausted_headers(retry_after: str) -> dict[str, str]:
    """A 429's quota: the request bucket is empty until ``retry-after`` has passed."""
    try:
        wait = float(retry_after)
    except ValueError:
        wait = 1.0
    if not math.isfinite(wait):  # "inf"/"nan" as an injected Retry-After: no reset time to show for it
        wait = 1.0
    wait = max(wait, 0.0)
    return {
        "retry-after": retry_after,
        "anthropic-ratelimit-requests-limit": str(_RPM),
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": _reset(wait),
    }


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """Anthropic's body for a status the fault asked for."""
    type_ = ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    headers: dict[str, str] = {}
    if status == 429:
        headers = _exhausted_headers(fault.retry_after if fault and fault.retry_after else "1")
    return _error(status, type_, _STATUS_MESSAGES.get(type_, message), headers)


def stream_error_frame() -> bytes:
    """The ``error`` event Anthropic sends mid-stream when it runs out of capacity."""
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return _frame("error", body)


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + compact(data) + b"\n\n"


def _check_headers(request: web.Request) -> web.Response | None:
    # The API takes the key as ``x-api-key`` (the documented header) or as ``Authorization: Bearer``
    # (what the official SDK sends since 2.x).
    key = request.headers.get("x-api-key")
    auth = request.headers.get("Authorization", "")
    if not key and auth.startswith("Bearer "):
        key = auth[7:].strip()
    if not key:
        return _error(401, "authentication_error", "x-api-key header is required")
    if key != state_of(request).api_key:
        return _error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return _error(400, "invalid_request_error", "anthropic-version: header is required")
    return None


# Any well-formed Claude id is answered (every id of the published model list, dated snapshots and
# ``-latest`` aliases included, e.g. ``claude-3-5-haiku-20241022``), so a test never breaks the day an id
# is missing from MODELS; ids a test declares unknown (``fake.models("anthropic", unknown=[…])``) and
# ids of other families get 404 ``not_found_error``.
_FAMILY = re.compile(r"claude-[a-z0-9.-]+")


def known_model(model: str) -> bool:
    return (model in MODELS or any(model.startswith(m + "-20") for m in MODELS) or _base_model(model) in MODELS
            or _FAMILY.fullmatch(model) is not None)


def _unknown(request: web.Request, model: Any) -> bool:
    return not isinstance(model, str) or model in state_of(request).unknown_models.get(NAME, ()) \
        or not known_model(model)


def _base_model(model: str) -> str:
    # dated snapshots: "claude-sonnet-4-5-20250929" -> "claude-sonnet-4-5"
    head, _, tail = model.rpartition("-")
    return head if tail.isdigit() and len(tail) == 8 else model


def _limits(model: str) -> tuple[int, int]:
    info = MODELS.get(model) or MODELS.get(_base_model(model)) or (200_000, 8_192, "", "")
    return info[0], info[1]


# ---------------------------------------------------------------------------------------------
# Validation (the documented request rules), shared by /v1/messages and count_tokens


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _check_blocks(i: int, role: str, content: Any, prev_tool_ids: set[str], last: bool) -> set[str]:
    """Validate one message's content; return the tool_use ids it opens."""
    if isinstance(content, str):
        if not content and not (last and role == "assistant"):
            raise _Invalid(f"messages.{i}: all messages must have non-empty content except for the optional "
                           "final assistant message")
        if prev_tool_ids:
            raise _Invalid(_missing_results(i, prev_tool_ids))
        return set()
    if not isinstance(content, list):
        raise _Invalid(f"messages.{i}.content: Input should be a valid list")
    if not content and not (last and role == "assistant"):
        raise _Invalid(f"messages.{i}: all messages must have non-empty content except for the optional "
                       "final assistant message")
    opened: set[str] = set()
    answered: set[str] = set()
    seen_other = False
    for j, b in enumerate(content):
        if not isinstance(b, dict) or b.get("type") not in _BLOCK_TYPES:
            raise _Invalid(f"messages.{i}.content.{j}.type: Input tag '{b.get('type') if isinstance(b, dict) else b}' "
                           "found using 'type' does not match any of the expected tags")
        t = b["type"]
        if t == "text" and not b.get("text"):
            raise _Invalid(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
        if t in ("tool_use", "thinking", "redacted_thinking") and role != "assistant":
            raise _Invalid(f"messages.{i}.content.{j}: `{t}` blocks are only allowed in `assistant` messages")
        if t in ("tool_result", "image", "document") and role != "user":
            raise _Invalid(f"messages.{i}.content.{j}: `{t}` blocks are only allowed in `user` messages")
        if t == "tool_use":
            for f in ("id", "name", "input"):
                if f not in b:
                    raise _Invalid(f"messages.{i}.content.{j}.tool_use.{f}: Field required")
            opened.add(b["id"])
        elif t == "thinking":
            for f in ("thinking", "signature"):
                if f not in b:
                    raise _Invalid(f"messages.{i}.content.{j}.thinking.{f}: Field required")
        elif t == "tool_result":
            tid = b.get("tool_use_id")
            if tid not in prev_tool_ids:
                raise _Invalid(f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                               f"{tid}. Each `tool_result` block must have a corresponding `tool_use` block in "
                               "the previous message.")
            if seen_other:
                raise _Invalid(f"messages.{i}: tool_result blocks must come first in the content array, "
                               "before any other content")
            answered.add(tid)
        elif t == "image":
            src = b.get("source")
            if not isinstance(src, dict) or src.get("type") not in ("base64", "url", "file"):
                raise _Invalid(f"messages.{i}.content.{j}.image.source: Input tag found using 'type' does not match "
                               "any of the expected tags: 'base64', 'url', 'file'")
        if t != "tool_result":
            seen_other = True
    missing = prev_tool_ids - answered
    if missing:
        raise _Invalid(_missing_results(i, missing))
    return opened


def _missing_results(i: int, ids: set[str]) -> str:
    return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(sorted(ids))}. Each `tool_use` block must have a corresponding `tool_result` block "
            "in the next message.")


def _check_common(body: Any) -> None:
    if not isinstance(body, dict):
        raise _Invalid("There was an issue with your request body: expected a JSON object")
    for f in ("model", "messages"):
        if f not in body:
            raise _Invalid(f"{f}: Field required")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise _Invalid("messages: Input should be a valid list")
    if not msgs:
        raise _Invalid("messages: at least one message is required")
    open_ids: set[str] = set()
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise _Invalid(f"messages.{i}: Input should be a valid dictionary")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise _Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise _Invalid('messages: first message must use the "user" role')
        if "content" not in m:
            raise _Invalid(f"messages.{i}.content: Field required")
        open_ids = _check_blocks(i, role, m["content"], open_ids, i == len(msgs) - 1)
    system = body.get("system")
    if system is not None and not isinstance(system, str) and (
        not isinstance(system, list) or not all(isinstance(b, dict) and b.get("type") == "text" for b in system)
    ):
        raise _Invalid("system: Input should be a valid string or a list of text blocks")
    names: list[str] = []
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _Invalid("tools: Input should be a valid list")
    for k, t in enumerate(tools or ()):
        if not isinstance(t, dict) or not t.get("name"):
            raise _Invalid(f"tools.{k}.custom.name: Field required")
        if not isinstance(t["name"], str):
            raise _Invalid(f"tools.{k}.custom.name: Input should be a valid string")
        if t.get("type", "custom") == "custom" and not isinstance(t.get("input_schema"), dict):
            raise _Invalid(f"tools.{k}.custom.input_schema: Field required")
        names.append(t["name"])
    tc = body.get("tool_choice")
    if tc is not None:
        if not isinstance(tc, dict) or tc.get("type") not in ("auto", "any", "tool", "none"):
            raise _Invalid("tool_choice: Input tag found using 'type' does not match any of the expected tags: "
                           "'auto', 'any', 'tool', 'none'")
        if tc["type"] == "tool" and tc.get("name") not in names:
            raise _Invalid(f"tool_choice.tool.name: tool '{tc.get('name')}' is not among the provided tools")
    th = body.get("thinking")
    if th is not None:
        if not isinstance(th, dict) or th.get("type") not in ("enabled", "disabled", "adaptive"):
            raise _Invalid("thinking: Input tag found using 'type' does not match any of the expected tags: "
                           "'enabled', 'disabled', 'adaptive'")
        if th["type"] == "enabled":
            b = th.get("budget_tokens")
            if not isinstance(b, int) or isinstance(b, bool) or b < 1024:
                raise _Invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    # prompt caching (cache: marked edit): "A maximum of 4 blocks with cache_control may be provided."
    marks = sum(s.breakpoint is not None for s in _segments(body))
    if marks > 4:
        raise _Invalid(f"A maximum of 4 blocks with cache_control may be provided. Found {marks}.")
    oc = body.get("output_config")
    if oc is not None:
        fmt = oc.get("format") if isinstance(oc, dict) else None
        if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") != "json_schema"
                                or not isinstance(fmt.get("schema"), dict)):
            raise _Invalid("output_config.format: expected {'type': 'json_schema', 'schema': {...}}")


def validate_messages_body(body: Any) -> tuple[int, str, str] | None:
    """``(status, error type, message)`` for a body ``POST /v1/messages`` would refuse, else ``None``."""
    try:
        _check_common(body)
        if "max_tokens" not in body:
            raise _Invalid("max_tokens: Field required")
        mt = body["max_tokens"]
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise _Invalid("max_tokens: Input should be greater than or equal to 1")
        model = body["model"]
        if isinstance(model, str) and known_model(model):
            limit = _limits(model)[1]
            if mt > limit:
                raise _Invalid(f"max_tokens: {mt} > {limit}, which is the maximum allowed number of output "
                               f"tokens for {model}")
        th = body.get("thinking") or {}
        if th.get("type") == "enabled" and th["budget_tokens"] >= mt:
            raise _Invalid("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                           "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                           "#max-tokens-and-context-window-size")
        for p, hi in (("temperature", 1), ("top_p", 1)):
            v = body.get(p)
            if v is not None and (not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= hi):
                raise _Invalid(f"{p}: Input should be less than or equal to {hi}")
        stops = body.get("stop_sequences")
        if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
            raise _Invalid("stop_sequences: Input should be a valid list of strings")
    except _Invalid as e:
        return e.status, e.type, e.message
    return None


def validate_count_tokens_body(body: Any) -> tuple[int, str, str] | None:
    """``(status, error type, message)`` for a body ``POST /v1/messages/count_tokens`` would refuse."""
    try:
        _check_common(body)
        for k in body:
            if k not in _COUNT_FIELDS:
                raise _Invalid(f"{k}: Extra inputs are not permitted")
    except _Invalid as e:
        return e.status, e.type, e.message
    return None


# ---------------------------------------------------------------------------------------------
# Content


def _block_tokens(b: Any) -> int:
    if not isinstance(b, dict):
        return 0
    t = b.get("type")
    if t == "text":
        return count_tokens(b.get("text", ""))
    if t == "tool_use":
        return 3 + count_tokens(b.get("name", "")) + count_tokens(json.dumps(b.get("input", {})))
    if t == "tool_result":
        return 3 + count_tokens(_text_of(b.get("content")))
    if t == "thinking":
        return count_tokens(b.get("thinking", ""))
    if t == "image":
        return 1_600  # "about (width * height) / 750" tokens; a fixed ~1092x1092 estimate
    return 0


def input_tokens(body: dict[str, Any]) -> int:
    """Prompt tokens, counted with the tokenizer: system, every block, tool definitions."""
    n = 3
    system = body.get("system")
    if system:
        n += count_tokens(system if isinstance(system, str) else _text_of(system))
    for m in body["messages"]:
        c = m.get("content")
        n += 3 + (count_tokens(c) if isinstance(c, str) else sum(_block_tokens(b) for b in c))
    for t in body.get("tools") or ():
        n += count_tokens(json.dumps(t, separators=(",", ":")))
    return n


def _breakpoint(block: Any) -> str | None:
    cc = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
        return None
    return "1h" if cc.get("ttl") == "1h" else "5m"


def _segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt in cache order ("tools, system, then messages" — prompt-caching docs), block by
    block, as the model sees it: a string content is its one text block, and where the breakpoints
    sit does not change the prefix (so a conversation that moves its breakpoint still hits)."""

    def bare(b: Any) -> Any:
        return {k: v for k, v in b.items() if k != "cache_control"} if isinstance(b, dict) else b

    def text(t: str) -> dict[str, str]:
        return {"type": "text", "text": t}

    out = [Segment(bare(t), count_tokens(json.dumps(bare(t), separators=(",", ":"))), _breakpoint(t))
           for t in body.get("tools") or () if isinstance(t, dict)]
    system = body.get("system")
    if isinstance(system, str):
        out.append(Segment(["system", text(system)], count_tokens(system)))
    elif isinstance(system, list):
        out.extend(Segment(["system", bare(b)], count_tokens(_text_of([b])), _breakpoint(b)) for b in system)
    for m in body.get("messages") or ():
        c = m.get("content") if isinstance(m, dict) else None
        blocks = [text(c)] if isinstance(c, str) else c if isinstance(c, list) else []
        out.extend(Segment([m.get("role"), i, bare(b)], (3 if i == 0 else 0) + _block_tokens(b), _breakpoint(b))
                   for i, b in enumerate(blocks))
    return out


def _minimum_cacheable(model: str) -> int:
    # "The minimum cacheable prompt length is: 1024 tokens for Claude Opus 4.1, Opus 4, Sonnet 4.5,
    # Sonnet 4, Sonnet 3.7 and Opus 3; 4096 tokens for Claude Opus 4.5 and Haiku 4.5; 2048 tokens for
    # Claude Haiku 3.5 and Haiku 3" (prompt-caching docs)
    base = _base_model(model)
    if "opus-4-5" in base or "haiku-4-5" in base:
        return 4096
    if "haiku" in base:
        return 2048
    return 1024


def _signature(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return base64.b64encode(b"\x12\x08" + digest * 3).decode()


def _answer(body: dict[str, Any], seed: str) -> tuple[list[dict[str, Any]], str, str | None, int]:
    """The content blocks, stop reason, stop sequence and output tokens for a valid request."""
    msgs = body["messages"]
    prompt = next(
        (_text_of(m["content"]) for m in reversed(msgs) if m["role"] == "user" and _text_of(m["content"])), ""
    )
    tool_result = None
    last = msgs[-1]
    if last["role"] == "user" and isinstance(last["content"], list):
        results = [b for b in last["content"] if b.get("type") == "tool_result"]
        # results followed by a new question (text after them in the same turn) answer the question
        if results and not _text_of(last["content"]):
            uses = {b["id"]: b["name"] for m in msgs if isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "tool_use"}
            tool_result = (uses.get(results[0]["tool_use_id"], "tool"), _text_of(results[0].get("content")))
    tools = [(t["name"], t.get("input_schema") or {}) for t in body.get("tools") or () if "input_schema" in t]
    tc = body.get("tool_choice") or {"type": "auto"}
    choice = {"auto": "auto", "any": "required", "tool": "required", "none": "none"}[tc["type"]]
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    stops = body.get("stop_sequences") or []
    kw: dict[str, Any] = {
        "prompt": prompt, "tools": tools, "choice": choice, "forced_tool": tc.get("name"),
        "tool_result": tool_result, "schema": fmt.get("schema"), "thinking": thinking,
    }
    d = decide(**kw, max_tokens=body["max_tokens"], stop=stops)
    blocks: list[dict[str, Any]] = []
    if d.reasoning:
        blocks.append({"type": "thinking", "thinking": d.reasoning, "signature": _signature(seed, d.reasoning)})
    if d.text:
        blocks.append({"type": "text", "text": d.text})
    stop_sequence = None
    if d.tool_name:
        blocks.append({"type": "tool_use", "id": "toolu_01" + stable_id(seed, d.tool_name, n=22),
                       "name": d.tool_name, "input": d.tool_args or {}})
        reason = "tool_use"
    elif d.finish == "length":
        reason = "max_tokens"
    else:
        full = decide(**kw).text if stops else d.text
        stop_sequence = next((s for s in stops if s and s in full), None)
        reason = "stop_sequence" if stop_sequence else "end_turn"
    out = count_tokens(d.text) + count_tokens(d.reasoning)
    if d.tool_name:
        out += 3 + count_tokens(json.dumps(d.tool_args))
    return blocks, reason, stop_sequence, max(1, out)


answer = _answer  # the Docker fake's Anthropic-compatible API answers the same content


def _usage(input_: int, output: int, read: int = 0, write: int = 0, write_1h: int = 0) -> dict[str, Any]:
    # input_tokens counts only the tokens after the last cache read or write ("total input tokens
    # in a request is the summation of input_tokens, cache_creation_input_tokens and
    # cache_read_input_tokens" — API reference); cache_creation splits the writes by TTL.
    return {"input_tokens": max(0, input_ - read - write), "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": write - write_1h, "ephemeral_1h_input_tokens": write_1h},
            "output_tokens": output, "service_tier": "standard"}


_DELTA_USAGE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


def message_payload(mid: str, model: str, blocks: list[dict[str, Any]], stop_reason: str,
                    stop_sequence: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    """A ``message`` object as the Messages API returns it."""
    return {"id": mid, "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": stop_reason, "stop_sequence": stop_sequence, "usage": usage}


def stream_frames(mid: str, model: str, blocks: list[dict[str, Any]], stop_reason: str,
                  stop_sequence: str | None, usage: dict[str, Any]) -> list[bytes]:
    """The SSE events of the same message, streamed (one ``bytes`` per event)."""
    start_usage = {**usage, "output_tokens": 1}
    out = [_frame("message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]
    for i, b in enumerate(blocks):
        t = b["type"]
        empties: dict[str, dict[str, Any]] = {
            "text": {"type": "text", "text": ""},
            "thinking": {"type": "thinking", "thinking": "", "signature": ""},
            "tool_use": {"type": "tool_use", "id": b.get("id"), "name": b.get("name"), "input": {}},
        }
        empty = empties.get(t, b)
        out.append(_frame("content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}))
        if i == 0:
            out.append(_frame("ping", {"type": "ping"}))
        deltas: list[dict[str, Any]] = []
        if t == "text":
            deltas = [{"type": "text_delta", "text": p} for p in split_for_stream(b["text"])]
        elif t == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_for_stream(b["thinking"])]
            deltas.append({"type": "signature_delta", "signature": b["signature"]})
        elif t == "tool_use":
            # The API streams the input as partial JSON text in its own spacing, starting empty.
            text = json.dumps(b["input"], ensure_ascii=False)
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [{"type": "input_json_delta", "partial_json": text[k:k + 12]} for k in range(0, len(text), 12)]
        out.extend(_frame("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})
                   for d in deltas)
        out.append(_frame("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(_frame("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                                        # cumulative, as the first-party API sends it (the SDK's
                                        # MessageDeltaUsage): clients such as LangChain read usage here only
                                        "usage": {k: usage[k] for k in _DELTA_USAGE if k in usage}}))
    out.append(_frame("message_stop", {"type": "message_stop"}))
    return out


# ---------------------------------------------------------------------------------------------
# Handlers


class _Prepared(NamedTuple):
    """What ``messages`` derives from the request body alone (see :func:`_prepare`)."""

    invalid: tuple[int, str, str] | None
    body: dict[str, Any]
    model: str
    prompt: int
    seed: str
    answer: tuple[list[dict[str, Any]], str, str | None, int]
    """The rule's answer — used only when no answer is scripted."""
    segments: list[Segment]


# Memo of _prepare by raw body: a load run (and most tests) repeats a handful of bodies, and
# validating, counting and deciding again per request made the fake, not the client, the
# bottleneck. Bounded; what it keeps (the parsed body, the blocks) is only read, never written.
_PREPARED: dict[bytes, _Prepared] = {}
_PREPARED_MAX = 1024
_FRAMES: dict[tuple[bytes, bytes], list[bytes]] = {}
_FRAMES_MAX = 256


def _prepare(body: Any) -> _Prepared:
    invalid = validate_messages_body(body)
    if invalid is not None:
        return _Prepared(invalid, {}, "", 0, "", ([], "", None, 0), [])
    # the same request streamed or not gets the same message (id, content, signatures)
    seed = stable_id({k: v for k, v in body.items() if k != "stream"})
    token = SCRIPTED.set(None)
    try:
        answer = _answer(body, seed)
    finally:
        SCRIPTED.reset(token)
    return _Prepared(None, body, body["model"], input_tokens(body), seed, answer, _segments(body))


@endpoint("chat")
async def messages(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    prep = _PREPARED.get(call.raw)
    if prep is None:
        prep = remember(_PREPARED, call.raw, _prepare(call.json), bound=_PREPARED_MAX)
    if prep.invalid is not None:
        return _error(*prep.invalid)
    body, model, prompt, seed = prep.body, prep.model, prep.prompt, prep.seed
    if _unknown(request, model):
        return _error(404, "not_found_error", f"model: {model}")
    window = _limits(model)[0]
    if prompt > window:
        return _error(400, "invalid_request_error", f"prompt is too long: {prompt} tokens > {window} maximum")
    # A scripted answer replaces the rule for this request only, so it is never memoised.
    blocks, reason, stop_sequence, output = prep.answer if SCRIPTED.get() is None else _answer(body, seed)
    mid = "msg_01" + seed[:22]
    cached = prompt_cache(request).explicit(NAME, model, prep.segments, _minimum_cacheable(model))
    read = min(cached.read, prompt)
    write = min(cached.write, prompt - read)
    usage = _usage(prompt, output, read, write, min(cached.write_1h, write))
    headers = {"request-id": _request_id(seed), **_ratelimit_headers(prompt, output)}
    if not body.get("stream"):
        return await send_json(request, message_payload(mid, model, blocks, reason, stop_sequence, usage), fault, headers)
    # The events of an unscripted answer are a function of the body and the usage: built once per
    # (body, usage) instead of one JSON encoding per event per request.
    fkey = None if SCRIPTED.get() is not None else (call.raw, compact(usage))
    frames = _FRAMES.get(fkey) if fkey else None
    if frames is None:
        frames = stream_frames(mid, model, blocks, reason, stop_sequence, usage)
        if fkey:
            remember(_FRAMES, fkey, frames, bound=_FRAMES_MAX)
    return await send_stream(request, frames, content_type="text/event-stream; charset=utf-8", fault=fault,
                             error_frame=stream_error_frame, headers=headers)


@endpoint("count_tokens")
async def count_tokens_handler(call: Call) -> web.StreamResponse:
    request, raw, fault = call.request, call.raw, call.fault
    body = call.json
    invalid = validate_count_tokens_body(body)
    if invalid is not None:
        return _error(*invalid)
    if _unknown(request, body["model"]):
        return _error(404, "not_found_error", f"model: {body['model']}")
    return await send_json(request, {"input_tokens": input_tokens(body)}, fault,
                           {"request-id": _request_id(raw)})


def _model_obj(model: str) -> dict[str, Any]:
    info = MODELS.get(model) or MODELS.get(_base_model(model)) or (0, 0, model, "2025-01-01T00:00:00Z")
    return {"type": "model", "id": model, "display_name": info[2], "created_at": info[3]}


@endpoint("models", content=False)
async def list_models(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    data = [_model_obj(m) for m in MODELS]
    return await send_json(request, {"data": data, "has_more": False, "first_id": data[0]["id"],
                                     "last_id": data[-1]["id"]}, fault, {"request-id": _request_id("models")})


@endpoint("models", content=False)
async def get_model(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    model = request.match_info["model"]
    if _unknown(request, model):
        return _error(404, "not_found_error", f"model: {model}")
    return await send_json(request, _model_obj(model), fault, {"request-id": _request_id(model)})


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory, one per server
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens_handler)
    from ._batch import add_anthropic_routes  # hook: batch

    add_anthropic_routes(app)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", get_model)


def not_found(request: web.Request) -> web.Response:
    """Anthropic's answer to a path it does not serve."""
    return _error(404, "not_found_error", "Not Found")


SPEC = FakeSpec(
    name=NAME,
    base_path="",
    add_routes=add_routes,
    error_response=error_response,
    stream_error_frame=stream_error_frame,
    default_status_message=lambda status: f"fake error {status}",
    auth=lambda request, raw: _check_headers(request),
    not_found=not_found,
    server="cloudflare",  # api.anthropic.com is behind Cloudflare
)
