"""A fake of OpenAI's Chat Completions API, written from OpenAI's API reference.

Paths: ``POST /v1/chat/completions`` (JSON, or SSE when ``"stream": true``), ``GET /v1/models``,
``GET /v1/models/{model}``, ``POST /v1/embeddings`` (:func:`answer_embeddings`). Auth: ``Authorization: Bearer <key>``; a missing or wrong key gets
OpenAI's 401 body. Invalid JSON, missing parameters, mistyped or out-of-range values (the API
reference's types, bounds and enums) and orphan tool messages get 400 in OpenAI's error shape
(:func:`request_problem`). Any well-formed id of the family (``gpt-*``, ``o1``…``o9``, ``chatgpt-*``,
``ft:*``) is answered; other ids, and ids declared with ``fake.models("openai", unknown=[…])``, get
404 ``model_not_found``. Reasoning models (o-series, gpt-5) count ``reasoning_tokens`` and refuse
``max_tokens``; ``logprobs: true`` returns ``logprobs.content``. Content follows
:mod:`interlingua.fakes._content`.

Streams are framed as OpenAI frames them: ``data: <chunk>\\n\\n`` per chunk, a first delta with the
role, content deltas, a last choice chunk with ``finish_reason`` and an empty delta, then — when
``stream_options.include_usage`` is set — a chunk with ``"choices": []`` and the usage (every other
chunk then has ``"usage": null``), then ``data: [DONE]``.

The other Chat Completions servers (:mod:`.azure`, :mod:`.xai`, :mod:`.docker`) are played by the
same handler, :func:`answer_chat`, given a :class:`Flavour`: their paths, auth, model table,
error bodies, reasoning and annotations are data, never a copy of this code.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from interlingua.core._memo import remember
from interlingua.core.tokens import get_encoding

from ._content import SCRIPTED, Decision, count_tokens, decide, split_for_stream, stable_id
from ._embeddings import as_base64, vector, wire_floats
from ._faults import Fault
from ._jsonenc import compact
from ._prompt_cache import Segment, install, prompt_cache
from ._server import Call, FakeSpec, endpoint, send_json, send_stream, state_of

__all__ = [
    "EMBEDDING_MODELS",
    "FLAVOUR",
    "MODELS",
    "SPEC",
    "Extras",
    "Flavour",
    "answer_chat",
    "answer_embeddings",
    "answer_models",
    "completion_payload",
    "serve_on_v1",
    "stream_frames",
    "usage_payload",
]

NAME = "openai"
# model -> context window
MODELS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "gpt-4-turbo": 128_000,
    "gpt-3.5-turbo": 16_385,
}
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def _error(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
           code: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status=status,
        headers=headers,
    )


# The quota the fake reports: an account well inside its limits (usage tier 5 for gpt-4o: 10,000
# requests and 30,000,000 tokens a minute), as the real API reports it after this one request. The
# limits refill continuously and ``x-ratelimit-reset-*`` is "the time until the rate limit resets to
# its initial state" (platform.openai.com, "Rate limits" → "Rate limits in headers"): remaining =
# limit minus this request, reset = how long this request's share takes to come back. The fake does
# not meter load, so a fuller account is the consistent claim: a tier-1 figure reported as nearly
# untouched by a server answering thousands of requests a second would make a client that paces by
# these headers (interlingua does) throttle to a quota the fake never enforces.
_RPM, _TPM = 10_000, 30_000_000


def _quota_headers(prompt_tokens: int) -> dict[str, str]:
    return {"x-ratelimit-limit-requests": str(_RPM), "x-ratelimit-remaining-requests": str(_RPM - 1),
            "x-ratelimit-reset-requests": f"{60_000 // _RPM}ms", "x-ratelimit-limit-tokens": str(_TPM),
            "x-ratelimit-remaining-tokens": str(max(0, _TPM - prompt_tokens)),
            "x-ratelimit-reset-tokens": f"{max(1, round(60_000 * prompt_tokens / _TPM))}ms"}


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """OpenAI's body for a status the fault asked for."""
    headers = {"x-request-id": "req_" + stable_id(status, time.time())}
    if status == 429:
        headers.update({"retry-after": fault.retry_after if fault and fault.retry_after else "1",
                        "x-ratelimit-limit-requests": str(_RPM), "x-ratelimit-remaining-requests": "0",
                        "x-ratelimit-reset-requests": "1s"})
        return _error(429, "Rate limit reached for requests. Please try again in 1s.", "requests",
                      None, "rate_limit_exceeded", headers)
    if status == 503:
        return _error(503, "The engine is currently overloaded, please try again later.", "server_error", headers=headers)
    if status >= 500:
        return _error(status, "The server had an error while processing your request. Sorry about that!",
                      "server_error", headers=headers)
    if status == 401:
        return _error(401, "Incorrect API key provided.", code="invalid_api_key", headers=headers)
    return _error(status, message, headers=headers)


def stream_error_frame() -> bytes:
    body = {"error": {"message": "The server had an error while processing your request. Sorry about that!",
                      "type": "server_error", "param": None, "code": None}}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _masked(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "*" * len(key)


def _auth(request: web.Request) -> web.Response | None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return _error(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                      "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
                      "(with blank username) if you're accessing the API from your browser and are prompted for a "
                      "username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.")
    key = auth[7:].strip()
    if key != state_of(request).api_key:
        return _error(401, f"Incorrect API key provided: {_masked(key)}. You can find your API key at "
                      "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


class _Bad(Exception):
    """A request OpenAI refuses with 400: (message, param, code). Never leaves this module."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


_NOT_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
             "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
             "If you have trouble figuring out how to fix this, please contact us through our help center at "
             "help.openai.com.)")


def _json_kind(v: Any) -> str:
    """How OpenAI's validator names a JSON value's type in "but got … instead"."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a decimal"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def _type_error(param: str, expected: str, v: Any) -> _Bad:
    return _Bad(f"Invalid type for '{param}': expected {expected}, but got {_json_kind(v)} instead.", param,
                "invalid_type")


def _number(body: dict[str, Any], param: str, lo: float, hi: float) -> None:
    v = body.get(param)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _type_error(param, "a decimal", v)
    if v < lo:
        raise _Bad(f"Invalid '{param}': decimal below minimum value. Expected a value >= {lo:g}, but got {v} "
                   "instead.", param, "decimal_below_min_value")
    if v > hi:
        raise _Bad(f"Invalid '{param}': decimal above maximum value. Expected a value <= {hi:g}, but got {v} "
                   "instead.", param, "decimal_above_max_value")


def _integer(body: dict[str, Any], param: str, lo: int, hi: int | None = None) -> None:
    v = body.get(param)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int):
        raise _type_error(param, "an integer", v)
    if v < lo:
        raise _Bad(f"Invalid '{param}': integer below minimum value. Expected a value >= {lo}, but got {v} "
                   "instead.", param, "integer_below_min_value")
    if hi is not None and v > hi:
        raise _Bad(f"Invalid '{param}': integer above maximum value. Expected a value <= {hi}, but got {v} "
                   "instead.", param, "integer_above_max_value")


def _typed(body: dict[str, Any], param: str, kind: type | tuple[type, ...], expected: str) -> None:
    v = body.get(param)
    if v is not None and (not isinstance(v, kind) or (kind is not bool and isinstance(v, bool))):
        raise _type_error(param, expected, v)


def _enum(value: Any, param: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
        raise _Bad(f"Invalid value: '{value}'. Supported values are: {listed}.", param, "invalid_value")


def _missing(param: str) -> _Bad:
    return _Bad(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _check_messages(msgs: Any) -> None:
    if not isinstance(msgs, list):
        raise _type_error("messages", "an array", msgs)
    if not msgs:
        raise _Bad("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
                   "array instead.", "messages", "empty_array")
    seen_calls: set[str] = set()
    for i, m in enumerate(msgs):
        at = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _type_error(at, "an object", m)
        if "role" not in m:
            raise _missing(f"{at}.role")
        _enum(m["role"], f"{at}.role", ("system", "assistant", "user", "function", "tool", "developer"))
        content = m.get("content")
        if content is None and m["role"] not in ("assistant", "function"):
            raise _missing(f"{at}.content")
        if content is not None and not isinstance(content, str):
            if not isinstance(content, list):
                raise _type_error(f"{at}.content", "one of a string or array of objects", content)
            for j, part in enumerate(content):
                if not isinstance(part, dict):
                    raise _type_error(f"{at}.content[{j}]", "an object", part)
                if "type" not in part:
                    raise _missing(f"{at}.content[{j}].type")
                if part["type"] == "text" and not isinstance(part.get("text"), str):
                    raise _type_error(f"{at}.content[{j}].text", "a string", part.get("text"))
        calls = m.get("tool_calls")
        if calls is not None:
            if m["role"] != "assistant" or not isinstance(calls, list):
                raise _type_error(f"{at}.tool_calls", "an array", calls)
            for j, tc in enumerate(calls):
                if not isinstance(tc, dict):
                    raise _type_error(f"{at}.tool_calls[{j}]", "an object", tc)
                for req in ("id", "type", "function"):
                    if req not in tc:
                        raise _missing(f"{at}.tool_calls[{j}].{req}")
                fn = tc["function"]
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) \
                        or not isinstance(fn.get("arguments"), str) or not isinstance(tc["id"], str):
                    raise _type_error(f"{at}.tool_calls[{j}].function", "an object with string name and arguments", fn)
                seen_calls.add(tc["id"])
        if m["role"] == "tool":
            if not isinstance(m.get("tool_call_id"), str):
                raise _missing(f"{at}.tool_call_id")
            if m["tool_call_id"] not in seen_calls:
                raise _Bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                           "message with 'tool_calls'.", f"messages.[{i}].role")


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _type_error("tools", "an array", tools)
    for i, t in enumerate(tools):
        at = f"tools[{i}]"
        if not isinstance(t, dict):
            raise _type_error(at, "an object", t)
        if "type" not in t:
            raise _missing(f"{at}.type")
        _enum(t["type"], f"{at}.type", ("function", "custom"))
        if t["type"] != "function":
            continue
        # OpenAI: {"type": "function"} alone is 400 missing_required_parameter for tools[i].function
        if "function" not in t:
            raise _missing(f"{at}.function")
        fn = t["function"]
        if not isinstance(fn, dict):
            raise _type_error(f"{at}.function", "an object", fn)
        if "name" not in fn:
            raise _missing(f"{at}.function.name")
        if not isinstance(fn["name"], str):
            raise _type_error(f"{at}.function.name", "a string", fn["name"])
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", fn["name"]):
            raise _Bad(f"Invalid '{at}.function.name': string does not match pattern. Expected a string that "
                       f"matches the pattern '^[a-zA-Z0-9_-]+$'.", f"{at}.function.name", "invalid_value")
        for key, kind, expected in (("parameters", dict, "an object"), ("description", str, "a string"),
                                    ("strict", bool, "a boolean")):
            v = fn.get(key)
            if v is not None and not isinstance(v, kind):
                raise _type_error(f"{at}.function.{key}", expected, v)


def _check_choice_and_format(body: dict[str, Any]) -> None:
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        _enum(choice, "tool_choice", ("none", "auto", "required"))
    elif isinstance(choice, dict):
        fn = choice.get("function")
        if choice.get("type") != "function" or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _Bad("Invalid value for 'tool_choice': expected an object of the form {\"type\": \"function\", "
                       "\"function\": {\"name\": \"my_function\"}}.", "tool_choice", "invalid_value")
        if not body.get("tools"):
            raise _Bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                       "tool_choice")
    elif choice is not None:
        raise _type_error("tool_choice", "one of a string or an object", choice)
    rf = body.get("response_format")
    if rf is not None:
        if not isinstance(rf, dict):
            raise _type_error("response_format", "an object", rf)
        if "type" not in rf:
            raise _missing("response_format.type")
        _enum(rf["type"], "response_format.type", ("text", "json_object", "json_schema"))
        if rf["type"] == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict):
                raise _missing("response_format.json_schema")
            if not isinstance(js.get("name"), str):
                raise _missing("response_format.json_schema.name")
            if js.get("schema") is not None and not isinstance(js["schema"], dict):
                raise _type_error("response_format.json_schema.schema", "an object", js["schema"])


def _check_params(body: dict[str, Any]) -> None:
    if not isinstance(body["model"], str):
        raise _type_error("model", "a string", body["model"])
    _typed(body, "stream", bool, "a boolean")
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    _integer(body, "n", 1, 128)
    _integer(body, "max_tokens", 1)
    _integer(body, "max_completion_tokens", 1)
    _integer(body, "seed", -(2**63), 2**63 - 1)
    _typed(body, "logprobs", bool, "a boolean")
    _integer(body, "top_logprobs", 0, 20)
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise _Bad("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is set.",
                   "top_logprobs")
    _typed(body, "parallel_tool_calls", bool, "a boolean")
    _typed(body, "user", str, "a string")
    _typed(body, "logit_bias", dict, "an object")
    _typed(body, "metadata", dict, "an object")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(x, str) for x in stop):
            raise _type_error("stop", "one of a string or array of strings", stop)
        if len(stop) > 4:
            raise _Bad(f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array "
                       f"with length {len(stop)} instead.", "stop", "array_above_max_length")
    so = body.get("stream_options")
    if so is not None:
        if not isinstance(so, dict):
            raise _type_error("stream_options", "an object", so)
        if not body.get("stream"):
            raise _Bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
        _typed(so, "include_usage", bool, "a boolean")
    effort = body.get("reasoning_effort")
    if effort is not None:
        _enum(effort, "reasoning_effort", ("minimal", "low", "medium", "high"))
    retention = body.get("prompt_cache_retention")
    if retention is not None and retention not in ("in_memory", "24h"):  # cache: marked edit
        raise _Bad(f"Invalid value: '{retention}'. Supported values are: 'in_memory' and '24h'.",
                   "prompt_cache_retention", "invalid_value")


def request_problem(body: Any) -> tuple[str, str | None, str | None] | None:
    """Why OpenAI would refuse this Chat Completions body with 400: (message, param, code), or ``None``.

    Written from the API reference's parameter table (types, bounds, enums) and the 400 bodies the
    service sends (``invalid_type``, ``decimal_above_max_value``, ``missing_required_parameter``…).
    """
    try:
        if not isinstance(body, dict):
            raise _Bad(_NOT_JSON)
        for p in ("model", "messages"):
            if p not in body:
                raise _missing(p)
        _check_params(body)
        _check_messages(body["messages"])
        _check_tools(body.get("tools"))
        _check_choice_and_format(body)
    except _Bad as bad:
        return bad.message, bad.param, bad.code
    return None


def _decision(body: dict[str, Any], thinking: bool = False) -> tuple[Decision, int, str]:
    """The answer, the prompt's token count, and the last user text (the prompt)."""
    msgs = body["messages"]
    prompt_tokens = 3
    for m in msgs:
        prompt_tokens += 3 + count_tokens(str(m.get("role", ""))) + count_tokens(_text_of(m.get("content")))
    last = msgs[-1] if msgs else {}  # none: llama.cpp (the DMR fake) takes `messages: []`
    tool_result = None
    if last.get("role") == "tool":
        name = next((tc["function"]["name"] for m in msgs for tc in (m.get("tool_calls") or ())
                     if tc.get("id") == last.get("tool_call_id")), "tool")
        tool_result = (name, _text_of(last.get("content")))
    prompt = next((_text_of(m.get("content")) for m in reversed(msgs) if m.get("role") == "user"), "")
    tools = [(t["function"]["name"], t["function"].get("parameters") or {})
             for t in body.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"]
    for t in body.get("tools") or ():
        prompt_tokens += count_tokens(json.dumps(t.get("function", {})))
    choice = body.get("tool_choice") or "auto"
    forced = None
    if isinstance(choice, dict):
        forced, choice = (choice.get("function") or {}).get("name"), "required"
    rf = body.get("response_format") or {}
    schema = (rf.get("json_schema") or {}).get("schema") if rf.get("type") == "json_schema" else None
    stop = body.get("stop") or ()
    d = decide(
        prompt=prompt, tools=tools, choice=str(choice), forced_tool=forced, tool_result=tool_result,
        schema=schema, json_mode=rf.get("type") == "json_object",
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stop=[stop] if isinstance(stop, str) else list(stop), thinking=thinking,
    )
    return d, prompt_tokens, prompt


def logprobs_content(text: str, top: int) -> list[dict[str, Any]]:
    """``logprobs.content`` for ``text`` as OpenAI sends it when ``logprobs`` is true: one entry per token
    (its text, a log probability ≤ 0, its UTF-8 bytes) with ``top`` alternatives (``top_logprobs``)."""
    enc = get_encoding("o200k_base")
    out = []
    for i, tok in enumerate(enc.encode(text, disallowed_special=())):
        piece = enc.decode_single_token_bytes(tok)
        token = piece.decode("utf-8", "replace")
        logprob = -round(0.01 + (i % 7) * 0.05, 4)
        alts = [{"token": token, "logprob": logprob, "bytes": list(piece)}]
        alts += [{"token": f"{token}_{k}", "logprob": round(logprob - k, 4), "bytes": list(f"{token}_{k}".encode())}
                 for k in range(1, top)]
        out.append({"token": token, "logprob": logprob, "bytes": list(piece), "top_logprobs": alts[:top]})
    return out


def usage_payload(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    """OpenAI's ``usage``: ``completion_tokens`` counts the reasoning tokens too."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion + reasoning,
        "total_tokens": prompt + completion + reasoning,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt in prefix order: tool definitions, then each message (or each content part of a
    message whose parts carry ``prompt_cache_breakpoint``)."""
    tools = body.get("tools") or []
    out = [Segment(tools, sum(count_tokens(json.dumps(t.get("function", {}))) for t in tools if isinstance(t, dict)))] if tools else []
    for i, m in enumerate(body["messages"]):
        content = m.get("content")
        head = 3 + count_tokens(str(m.get("role", "")))
        if isinstance(content, list) and any(isinstance(p, dict) and "prompt_cache_breakpoint" in p for p in content):
            for k, p in enumerate(content):
                mark = p.get("prompt_cache_breakpoint") if isinstance(p, dict) else None
                bare = {k: v for k, v in p.items() if k != "prompt_cache_breakpoint"} if isinstance(p, dict) else p
                out.append(Segment([i, m.get("role"), bare], (head if k == 0 else 0) + count_tokens(_text_of([p])),
                                   None if not isinstance(mark, dict) else ("1h" if mark.get("ttl") == "12h" else "5m")))
        else:
            out.append(Segment([i, {k: v for k, v in m.items() if k != "name"}], head + count_tokens(_text_of(content))))
    return out


def _prompt_caching(request: web.Request, flavour: Flavour, model: str, body: dict[str, Any], usage: dict[str, Any],
                    prompt_tokens: int, segments: list[Segment] | None = None) -> None:
    """Report cached prompt tokens as OpenAI does: "Prompt Caching is enabled for all recent models …
    on prompts 1024 tokens or longer … cache hits are only possible for exact prefix matches" in
    128-token steps; ``prompt_cache_key`` is "combined with the prefix hash". Explicit
    ``prompt_cache_breakpoint``\\ s (gpt-5.6+) also report ``cache_write_tokens``."""
    details = usage.get("prompt_tokens_details")
    if not isinstance(details, dict):
        return  # a flavour whose usage has no details (Docker Model Runner) reports no caching
    partition = f"{model}|{body.get('prompt_cache_key') or ''}"
    if segments is None:
        segments = _segments(body)
    cache = prompt_cache(request)
    if any(s.breakpoint for s in segments):
        got = cache.explicit(flavour.name, partition, segments)
        read = min(got.read, prompt_tokens)
        details["cached_tokens"] = read
        details["cache_write_tokens"] = min(got.write, prompt_tokens - read)
    else:
        details["cached_tokens"] = min(cache.automatic(flavour.name, partition, segments, 1024, 128), prompt_tokens)


def _tool_call(d: Decision, seed: str) -> dict[str, Any]:
    return {"id": "call_" + stable_id(seed, d.tool_name), "type": "function",
            "function": {"name": d.tool_name, "arguments": json.dumps(d.tool_args, separators=(",", ":"))}}


@dataclass(frozen=True)
class Extras:
    """Fields a compatible server adds to OpenAI's shapes: on the completion object (``top``; in a
    stream, a leading chunk with ``"choices": []``) and on every choice (``choice``)."""

    top: Mapping[str, Any] = field(default_factory=dict)
    choice: Mapping[str, Any] = field(default_factory=dict)


NO_EXTRAS = Extras()


# One backend configuration, as OpenAI's fingerprint names it: the same on every answer until it changes.
SYSTEM_FINGERPRINT = "fp_560af6e559"


def completion_payload(cid: str, created: int, model: str, d: Decision, call: dict[str, Any] | None,
                       usage: dict[str, Any], n: int = 1, *, reasoning: str = "",
                       extras: Extras = NO_EXTRAS) -> dict[str, Any]:
    """A ``chat.completion`` object as OpenAI documents it (``reasoning`` → ``reasoning_content``)."""
    message: dict[str, Any] = {"role": "assistant", "content": d.text if not call else None,
                               "refusal": None, "annotations": []}
    if reasoning:
        message["reasoning_content"] = reasoning
    if call:
        message["tool_calls"] = [call]
    choices = [{"index": i, "message": message, "logprobs": None, "finish_reason": d.finish, **extras.choice}
               for i in range(n)]
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": model, "choices": choices,
        "usage": usage, "service_tier": "default", "system_fingerprint": SYSTEM_FINGERPRINT, **extras.top,
    }


def stream_frames(cid: str, created: int, model: str, d: Decision, call: dict[str, Any] | None,
                  usage: dict[str, Any], *, include_usage: bool, reasoning: str = "",
                  extras: Extras = NO_EXTRAS, top_logprobs: int | None = None) -> list[bytes]:
    """The SSE frames of a streamed ``chat.completion.chunk`` sequence, ``data: [DONE]`` last.

    ``reasoning`` streams as ``reasoning_content`` deltas before the answer (xAI's shape).
    """

    def frame(obj: dict[str, Any]) -> bytes:
        return b"data: " + compact(obj) + b"\n\n"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        lp = None
        if top_logprobs is not None and delta.get("content"):
            lp = {"content": logprobs_content(delta["content"], top_logprobs), "refusal": None}
        # OpenAI's chunks repeat the completion's service_tier and system_fingerprint
        c: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                             "service_tier": "default", "system_fingerprint": SYSTEM_FINGERPRINT,
                             "choices": [{"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish,
                                          **extras.choice}]}
        if include_usage:
            c["usage"] = None
        return frame(c)

    out = []
    if extras.top:
        # Azure's first chunk: no choices, empty id/model, the prompt's filter results.
        out.append(frame({"choices": [], "created": 0, "id": "", "model": "", "object": "", **extras.top}))
    deltas: list[dict[str, Any]] = [{"reasoning_content": piece} for piece in split_for_stream(reasoning)]
    if call:
        args = call["function"]["arguments"]
        deltas.append({"content": None, "tool_calls": [
            {"index": 0, "id": call["id"], "type": "function",
             "function": {"name": call["function"]["name"], "arguments": ""}}], "refusal": None})
        deltas.extend({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 8]}}]}
                      for i in range(0, len(args), 8))
    else:
        deltas.append({"content": "", "refusal": None})
        deltas.extend({"content": piece} for piece in split_for_stream(d.text))
    deltas[0] = {"role": "assistant", **deltas[0]}
    out.extend(chunk(delta) for delta in deltas)
    out.append(chunk({}, d.finish))
    if include_usage:
        out.append(frame({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                          "system_fingerprint": SYSTEM_FINGERPRINT, "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return out


Screen = Callable[[str, Decision], "tuple[Decision, Extras] | web.Response"]


def _unscreened(prompt: str, d: Decision) -> tuple[Decision, Extras]:
    return d, NO_EXTRAS


def _invalid(message: str, param: str | None, code: str | None) -> web.Response:
    return _error(400, message, param=param, code=code)


# what the service answers a chat request naming an embedding (or other non-chat) model
_NOT_CHAT = "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?"


def _model_missing(model: str) -> web.Response:
    return _error(404, f"The model `{model}` does not exist or you do not have access to it.",
                  code="model_not_found")


@dataclass(frozen=True)
class Flavour:
    """One server that speaks Chat Completions, as the fakes play it: its differences, as data."""

    name: str
    """The provider requests are recorded (and faults queued) under."""
    models: Mapping[str, int]
    """Model (or deployment) → context window."""
    check_auth: Callable[[web.Request], web.Response | None] = _auth
    model_missing: Callable[[str], web.Response] = _model_missing
    owned_by: str = "openai"
    other_models: Mapping[str, str] = field(default_factory=dict)
    """Models the server lists and describes that are not chat models (model → ``owned_by``): a chat
    request naming one is OpenAI's 404 "This is not a chat model …", not an unknown model's."""
    reasoning: Mapping[str, str] = field(default_factory=dict)
    """Model → ``"shown"`` (``reasoning_content`` sent, tokens counted) or ``"hidden"`` (counted only)."""
    usage: Callable[[int, int, int], dict[str, Any]] = usage_payload
    """(prompt, answer, reasoning) tokens → the ``usage`` object."""
    screen: Screen = _unscreened
    """A content filter: may rewrite the answer and annotate it, or refuse the request outright."""
    family: str = r"(gpt-[0-9][a-z0-9.-]*|gpt-oss-[a-z0-9.-]+|chatgpt-[a-z0-9.-]+|o[1-9](-[a-z0-9.-]+)?|ft:.+)"
    """Any model id matching this (a regular expression) is accepted, beside the table's: the fakes
    answer every well-formed id of the provider's family (dated snapshots, new releases), so a test
    never breaks the day a model id is missing from a table. ``fake.models(provider, unknown=[…])``
    declares ids a test wants refused."""
    reasoning_family: str = r"(o[1-9]|gpt-5)([a-z0-9.-]*)"
    """Model ids that reason without showing it (token counts only), beside ``reasoning``."""
    reasoning_rejects_max_tokens: bool = True
    invalid: Callable[[str, str | None, str | None], web.Response] = _invalid
    """(message, param, code) → this server's 400 for an invalid request."""

    def knows(self, model: str) -> bool:
        return (model in self.models or any(model.startswith(m + "-20") for m in self.models)
                or re.fullmatch(self.family, model) is not None)

    def reasoning_mode(self, model: str) -> str | None:
        if model in self.reasoning:
            return self.reasoning[model]
        return "hidden" if self.reasoning_family and re.fullmatch(self.reasoning_family, model) else None


class _Prepared(NamedTuple):
    """What ``answer_chat`` derives from the request body alone (see :func:`_prepare`)."""

    problem: tuple[str, str | None, str | None] | None
    body: dict[str, Any]
    model: str
    mode: str | None
    decision: tuple[Decision, int, str]
    """The rule's answer, prompt tokens and prompt — used only when no answer is scripted."""
    seed: str
    segments: list[Segment]


_NOTHING = _Prepared(None, {}, "", None, (Decision(), 0, ""), "", [])
# Memo of _prepare by (flavour, path model, raw body): a load run (and most tests) repeats a handful
# of bodies, and validating, counting and deciding again per request made the fake, not the client,
# the bottleneck. Bounded; the parsed body it keeps is only read, never written.
_PREPARED: dict[tuple[str, str | None, bytes], _Prepared] = {}
_PREPARED_MAX = 1024
_FRAMES: dict[tuple[Any, ...], list[bytes]] = {}
_FRAMES_MAX = 256


def _prepare(body: Any, flavour: Flavour, model: str | None) -> _Prepared:
    """Everything about a request that depends on its body alone: the 400 (if any), the model and its
    reasoning mode, the rule's answer, the id seed and the prompt-cache segments."""
    if model is not None and isinstance(body, dict) and body.get("model") is None:
        body["model"] = model  # Azure's deployment path names the model; a body "model": null is ignored
    problem = request_problem(body)
    if problem is not None:
        return _NOTHING._replace(problem=problem)
    assert isinstance(body, dict)  # request_problem refused everything else
    model = model if model is not None else body["model"]
    mode = flavour.reasoning_mode(model)
    with _unscripted():
        decision = _decision(body, thinking=mode is not None)
    return _Prepared(None, body, model, mode, decision, stable_id(body), _segments(body))


@contextlib.contextmanager
def _unscripted() -> Iterator[None]:
    token = SCRIPTED.set(None)
    try:
        yield
    finally:
        SCRIPTED.reset(token)


async def answer_chat(call: Call, flavour: Flavour, *, model: str | None = None) -> web.StreamResponse:
    """The ``POST …/chat/completions`` answer for ``flavour`` (the :func:`endpoint` opening done);
    ``model`` overrides the body's (Azure names the deployment in the path)."""
    request, fault = call.request, call.fault
    key = (flavour.name, model, call.raw)
    prep = _PREPARED.get(key)
    if prep is None:
        prep = remember(_PREPARED, key, _prepare(call.json, flavour, model), bound=_PREPARED_MAX)
    if prep.problem is not None:
        return flavour.invalid(*prep.problem)
    body, model, mode = prep.body, prep.model, prep.mode
    unknown = model in state_of(request).unknown_models.get(flavour.name, ())
    if not unknown and model in flavour.other_models:
        return _error(404, _NOT_CHAT, param="model")
    if unknown or not flavour.knows(model):
        return flavour.model_missing(model)
    window = flavour.models.get(model, 128_000)
    if mode is not None and flavour.reasoning_rejects_max_tokens and body.get("max_tokens") is not None:
        # OpenAI's reasoning models (o-series, gpt-5): "max_tokens is deprecated … not compatible with o-series
        # models" (API reference); the service answers 400 unsupported_parameter.
        return flavour.invalid("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                               "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
    # A scripted answer replaces the rule for this request only, so it is never memoised.
    d, prompt_tokens, prompt = prep.decision if SCRIPTED.get() is None else _decision(body, thinking=mode is not None)
    if prompt_tokens > window:
        return flavour.invalid(f"This model's maximum context length is {window} tokens. However, your messages "
                               f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
                               "messages", "context_length_exceeded")
    screened = flavour.screen(prompt, d)
    if isinstance(screened, web.Response):
        return screened
    d, extras = screened
    seed = prep.seed
    cid, created = "chatcmpl-" + seed, int(time.time())
    tcall = _tool_call(d, seed) if d.tool_name else None
    completion_tokens = count_tokens(d.text) + (count_tokens(tcall["function"]["arguments"]) + 3 if tcall else 0)
    usage = flavour.usage(prompt_tokens, completion_tokens, count_tokens(d.reasoning))
    _prompt_caching(request, flavour, model, body, usage, prompt_tokens, prep.segments)  # cache: marked edit
    shown = d.reasoning if mode == "shown" else ""
    headers = {"x-request-id": "req_" + seed[:16], "openai-processing-ms": "12",
               **_quota_headers(prompt_tokens)}
    top = body.get("top_logprobs") or 0 if body.get("logprobs") else None
    if not body.get("stream"):
        payload = completion_payload(cid, created, model, d, tcall, usage, n=int(body.get("n") or 1),
                                     reasoning=shown, extras=extras)
        if top is not None:
            for choice in payload["choices"]:
                choice["logprobs"] = {"content": logprobs_content(d.text if not tcall else "", top), "refusal": None}
        return await send_json(request, payload, fault, headers)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    # The frames of an unscripted answer are a function of the body, the second and the usage: built
    # once per (body, second, usage, filter results) instead of one JSON encoding per event per request.
    fkey = None if SCRIPTED.get() is not None else (key, created, compact(usage), compact([extras.top, extras.choice]))
    frames = _FRAMES.get(fkey) if fkey else None
    if frames is None:
        frames = stream_frames(cid, created, model, d, tcall, usage, include_usage=include_usage, reasoning=shown,
                               extras=extras, top_logprobs=top)
        if fkey:
            remember(_FRAMES, fkey, frames, bound=_FRAMES_MAX)
    return await send_stream(request, frames, content_type="text/event-stream; charset=utf-8", fault=fault,
                             error_frame=call.spec.stream_error_frame, headers=headers)


def models_payload(flavours: Iterable[Flavour]) -> dict[str, Any]:
    data = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": owner}
            for f in flavours for m, owner in (*((m, f.owned_by) for m in f.models), *f.other_models.items())]
    return {"object": "list", "data": data}


async def answer_models(call: Call, flavour: Flavour) -> web.StreamResponse:
    """``GET …/models``: every model of ``flavour``."""
    return await send_json(call.request, models_payload((flavour,)), call.fault)


_FLAVOUR_KEY: web.AppKey[Flavour] = web.AppKey("interlingua_fake_flavour")


def serve_on_v1(app: web.Application, flavour: Flavour, spec: FakeSpec | None = None, *, chat: bool = True) -> None:
    """Answer ``flavour`` on ``/v1/chat/completions``, ``/v1/models`` and ``/v1/models/{model}``
    (OpenAI's paths, which xAI's API uses too; each has its own origin). ``chat=False``: the server
    answers Chat Completions with a handler of its own (Ollama's layer)."""
    install(app)  # prompt-cache memory, one per server (cache: marked edit)
    app[_FLAVOUR_KEY] = flavour
    if chat:
        app.router.add_post("/v1/chat/completions", _v1_chat)
    app.router.add_get("/v1/models", _v1_models)
    app.router.add_get("/v1/models/{model}", _v1_model)


@endpoint("chat")
async def _v1_chat(call: Call) -> web.StreamResponse:
    return await answer_chat(call, call.request.app[_FLAVOUR_KEY])


@endpoint("models", content=False)
async def _v1_models(call: Call) -> web.StreamResponse:
    return await answer_models(call, call.request.app[_FLAVOUR_KEY])


@endpoint("models", content=False)
async def _v1_model(call: Call) -> web.StreamResponse:
    flavour = call.request.app[_FLAVOUR_KEY]
    model = call.request.match_info["model"]
    other = flavour.other_models.get(model)
    if model in state_of(call.request).unknown_models.get(flavour.name, ()) or not (other or flavour.knows(model)):
        return _error(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    return await send_json(call.request, {"id": model, "object": "model", "created": 1_700_000_000,
                                          "owned_by": other or flavour.owned_by}, call.fault)


# -- POST /v1/embeddings ----------------------------------------------------------------------------
# The API reference (Embeddings → Create embeddings, and the openai SDK's ``embeddings.create``
# docstring): ``input`` is a string, an array of strings, an array of tokens or an array of token
# arrays; it "must not exceed the max input tokens for the model (8192 tokens for all embedding
# models), cannot be an empty string, and any array must be 2048 dimensions or less", and "all
# embedding models enforce a maximum of 300,000 tokens summed across all inputs in a single request";
# ``dimensions`` is "only supported in text-embedding-3 and later models"; ``encoding_format`` is
# ``float`` or ``base64``. The 400 bodies are the ones the service is reported sending for each.

EMBEDDING_MODELS: dict[str, tuple[int, bool]] = {
    "text-embedding-3-small": (1536, True),
    "text-embedding-3-large": (3072, True),
    "text-embedding-ada-002": (1536, False),
}
"""Embedding model → (its vector's size, whether ``dimensions`` may shorten it)."""
_EMBED_INPUT_TOKENS = 8192
_EMBED_MAX_INPUTS = 2048
_EMBED_REQUEST_TOKENS = 300_000
_INPUT_INVALID = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."


def _embedding_inputs(value: Any) -> list[str | tuple[int, ...]] | None:
    """The inputs of ``input`` — texts, or token arrays — or ``None`` when OpenAI's schema refuses it
    (the service answers every such body with its ``'$.input' is invalid`` 400)."""

    def tokens(v: Any) -> tuple[int, ...] | None:
        ok = isinstance(v, list) and v and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in v)
        return tuple(v) if ok else None

    if isinstance(value, str):
        return [value] if value else None
    if not isinstance(value, list) or not value or len(value) > _EMBED_MAX_INPUTS:
        return None
    if all(isinstance(v, str) for v in value):
        return list(value) if all(value) else None
    single = tokens(value)
    if single is not None:
        return [single]
    many = [tokens(v) for v in value]
    return None if any(m is None for m in many) else [m for m in many if m is not None]


def _embedding_problem(body: Any, model: str | None) -> web.Response | None:
    """OpenAI's 400 for an embeddings body, or ``None`` (model-level checks come after the model is
    known: see :func:`answer_embeddings`)."""
    try:
        if not isinstance(body, dict):
            raise _Bad(_NOT_JSON)
        if model is None:
            if body.get("model") is None:
                raise _Bad("you must provide a model parameter")
            if not isinstance(body["model"], str):
                raise _type_error("model", "a string", body["model"])
        if "input" not in body:
            raise _missing("input")
        if _embedding_inputs(body["input"]) is None:
            raise _Bad(_INPUT_INVALID)
        fmt = body.get("encoding_format")
        if fmt is not None and fmt not in ("float", "base64"):
            # as reported from the service (lm-sys/FastChat#2281): the old validator's wording
            raise _Bad(f"Invalid value for 'encoding_format' = {fmt}. Supported values: ['float', 'base64'].")
        _typed(body, "user", str, "a string")
    except _Bad as bad:
        return _error(400, bad.message, param=bad.param, code=bad.code)
    return None


async def answer_embeddings(call: Call, flavour: Flavour, *, model: str | None = None,
                            refuse: Callable[[str], web.Response | None] | None = None) -> web.StreamResponse:
    """The ``POST …/embeddings`` answer for ``flavour`` (the :func:`endpoint` opening done); ``model``
    overrides the body's (Azure's deployment path); ``refuse`` may turn a model away first (Azure: a
    chat deployment)."""
    body = call.json
    refused = _embedding_problem(body, model)
    if refused is not None:
        return refused
    model = model if model is not None else body["model"]
    assert isinstance(model, str)
    if refuse is not None and (turned := refuse(model)) is not None:
        return turned
    if model in state_of(call.request).unknown_models.get(flavour.name, ()) or model not in EMBEDDING_MODELS:
        return flavour.model_missing(model)
    size, shortens = EMBEDDING_MODELS[model]
    dims = body.get("dimensions")
    if "dimensions" in body and not shortens:
        # also for an explicit null (sbintuitions/JMTEB#14): the key alone is refused
        return _error(400, "This model does not support specifying dimensions.")
    try:
        _integer(body, "dimensions", 1, size)
    except _Bad as bad:
        return _error(400, bad.message, param=bad.param, code=bad.code)
    inputs = _embedding_inputs(body["input"]) or []
    counts = [len(x) if isinstance(x, tuple) else count_tokens(x) for x in inputs]
    over = next((n for n in counts if n > _EMBED_INPUT_TOKENS), None)
    if over is not None:
        return _error(400, f"This model's maximum context length is {_EMBED_INPUT_TOKENS} tokens, however you "
                      f"requested {over} tokens ({over} in your prompt; 0 for the completion). Please reduce your "
                      "prompt; or completion length.")
    total = sum(counts)
    if total > _EMBED_REQUEST_TOKENS:
        return _error(400, f"Requested {total} tokens, max {_EMBED_REQUEST_TOKENS} tokens per request",
                      "max_tokens_per_request", code="max_tokens_per_request")
    as_text = body.get("encoding_format") == "base64"
    data = []
    for i, x in enumerate(inputs):
        # a token array embeds as its ids: the fake does not decode another tokenizer's tokens
        v = vector(model, x if isinstance(x, str) else "\0tokens:" + ",".join(map(str, x)), size, dims)
        data.append({"object": "embedding", "index": i, "embedding": as_base64(v) if as_text else wire_floats(v)})
    headers = {"x-request-id": "req_" + stable_id(model, call.raw, n=16), "openai-processing-ms": "21",
               **_quota_headers(total)}
    return await send_json(call.request, {"object": "list", "data": data, "model": model,
                                          "usage": {"prompt_tokens": total, "total_tokens": total}},
                           call.fault, headers)


@endpoint("embeddings")
async def _v1_embeddings(call: Call) -> web.StreamResponse:
    return await answer_embeddings(call, FLAVOUR)


def not_found(request: web.Request) -> web.Response:
    """OpenAI's answer to a path it does not serve."""
    return _error(404, f"Invalid URL ({request.method} {request.path})")


# the embedding models are listed (owned by "system", as the service lists them) and chat refuses them
FLAVOUR = Flavour(NAME, MODELS, other_models=dict.fromkeys(EMBEDDING_MODELS, "system"))



def add_routes(app: web.Application) -> None:
    serve_on_v1(app, FLAVOUR, SPEC)
    app.router.add_post("/v1/embeddings", _v1_embeddings)
    from ._batch import add_openai_routes  # hook: batch
    from .openai_responses import (
        add_openai_routes as add_responses_routes,  # hook: responses (POST/GET/DELETE /v1/responses)
    )

    add_openai_routes(app)
    add_responses_routes(app, SPEC)


SPEC = FakeSpec(
    name=NAME,
    base_path="/v1",
    add_routes=add_routes,
    error_response=error_response,
    stream_error_frame=stream_error_frame,
    auth=lambda request, raw: FLAVOUR.check_auth(request),
    not_found=not_found,
    server="cloudflare",  # api.openai.com is behind Cloudflare (with cf-ray, __cf_bm)
)
