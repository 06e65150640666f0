"""A fake of OpenAI's Chat Completions API, written from OpenAI's API reference.

Paths: ``POST /v1/chat/completions`` (JSON, or SSE when ``"stream": true``), ``GET /v1/models``,
``GET /v1/models/{model}``. Auth: ``Authorization: Bearer <key>``; a missing or wrong key gets
OpenAI's 401 body. Invalid JSON, missing parameters, out-of-range values and orphan tool messages
get 400 in OpenAI's error shape; an unknown model gets 404 ``model_not_found``. Content follows
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

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._content import Decision, count_tokens, decide, split_for_stream, stable_id
from ._faults import Fault
from ._server import Call, FakeSpec, endpoint, send_json, send_stream, state_of

__all__ = [
    "FLAVOUR",
    "MODELS",
    "SPEC",
    "Extras",
    "Flavour",
    "answer_chat",
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


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """OpenAI's body for a status the fault asked for."""
    headers = {"x-request-id": "req_" + stable_id(status, time.time())}
    if status == 429:
        headers.update({"retry-after": fault.retry_after if fault and fault.retry_after else "1",
                        "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0",
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


def _validate(body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return _error(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                      "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
                      "was not valid JSON.)")
    for p in ("model", "messages"):
        if p not in body:
            return _error(400, f"Missing required parameter: '{p}'.", param=p, code="missing_required_parameter")
    msgs = body["messages"]
    if not isinstance(msgs, list) or not msgs:
        return _error(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                      "empty array instead.", param="messages", code="empty_array")
    seen_calls: set[str] = set()
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            return _error(400, f"Invalid value: '{m.get('role') if isinstance(m, dict) else m}'. Supported values "
                          "are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
                          param=f"messages[{i}].role", code="invalid_value")
        for tc in m.get("tool_calls") or ():
            if isinstance(tc, dict) and tc.get("id"):
                seen_calls.add(tc["id"])
        if m["role"] == "tool" and m.get("tool_call_id") not in seen_calls:
            return _error(400, "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                          "message with 'tool_calls'.", param=f"messages.[{i}].role")
    t = body.get("temperature")
    if t is not None and (not isinstance(t, int | float) or not 0 <= t <= 2):
        return _error(400, f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {t} "
                      "instead.", param="temperature", code="decimal_above_max_value")
    for p in ("max_tokens", "max_completion_tokens"):
        v = body.get(p)
        if v is not None and (not isinstance(v, int) or v < 1):
            return _error(400, f"Invalid '{p}': integer below minimum value. Expected a value >= 1, but got {v} "
                          "instead.", param=p, code="integer_below_min_value")
    return None


def _decision(body: dict[str, Any], thinking: bool = False) -> tuple[Decision, int, str]:
    """The answer, the prompt's token count, and the last user text (the prompt)."""
    msgs = body["messages"]
    prompt_tokens = 3
    for m in msgs:
        prompt_tokens += 3 + count_tokens(str(m.get("role", ""))) + count_tokens(_text_of(m.get("content")))
    last = msgs[-1]
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
        "usage": usage, "service_tier": "default", "system_fingerprint": "fp_" + cid[-10:], **extras.top,
    }


def stream_frames(cid: str, created: int, model: str, d: Decision, call: dict[str, Any] | None,
                  usage: dict[str, Any], *, include_usage: bool, reasoning: str = "",
                  extras: Extras = NO_EXTRAS) -> list[bytes]:
    """The SSE frames of a streamed ``chat.completion.chunk`` sequence, ``data: [DONE]`` last.

    ``reasoning`` streams as ``reasoning_content`` deltas before the answer (xAI's shape).
    """

    def frame(obj: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        c: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                             "system_fingerprint": "fp_" + cid[-10:],
                             "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish,
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
                          "system_fingerprint": "fp_" + cid[-10:], "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return out


Screen = Callable[[str, Decision], "tuple[Decision, Extras] | web.Response"]


def _unscreened(prompt: str, d: Decision) -> tuple[Decision, Extras]:
    return d, NO_EXTRAS


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
    reasoning: Mapping[str, str] = field(default_factory=dict)
    """Model → ``"shown"`` (``reasoning_content`` sent, tokens counted) or ``"hidden"`` (counted only)."""
    usage: Callable[[int, int, int], dict[str, Any]] = usage_payload
    """(prompt, answer, reasoning) tokens → the ``usage`` object."""
    screen: Screen = _unscreened
    """A content filter: may rewrite the answer and annotate it, or refuse the request outright."""

    def knows(self, model: str) -> bool:
        return model in self.models or any(model.startswith(m + "-20") for m in self.models)


async def answer_chat(call: Call, flavour: Flavour, *, model: str | None = None) -> web.StreamResponse:
    """The ``POST …/chat/completions`` answer for ``flavour`` (the :func:`endpoint` opening done);
    ``model`` overrides the body's (Azure names the deployment in the path)."""
    request, fault = call.request, call.fault
    body = call.json
    if model is not None and isinstance(body, dict):
        body.setdefault("model", model)
    invalid = _validate(body)
    if invalid is not None:
        return invalid
    assert isinstance(body, dict)  # _validate refused everything else
    model = model if model is not None else body["model"]
    if not flavour.knows(model):
        return flavour.model_missing(model)
    window = flavour.models.get(model, 128_000)
    mode = flavour.reasoning.get(model)
    d, prompt_tokens, prompt = _decision(body, thinking=mode is not None)
    if prompt_tokens > window:
        return _error(400, f"This model's maximum context length is {window} tokens. However, your messages "
                      f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
                      param="messages", code="context_length_exceeded")
    screened = flavour.screen(prompt, d)
    if isinstance(screened, web.Response):
        return screened
    d, extras = screened
    seed = stable_id(body)
    cid, created = "chatcmpl-" + seed, int(time.time())
    tcall = _tool_call(d, seed) if d.tool_name else None
    completion_tokens = count_tokens(d.text) + (count_tokens(tcall["function"]["arguments"]) + 3 if tcall else 0)
    usage = flavour.usage(prompt_tokens, completion_tokens, count_tokens(d.reasoning))
    shown = d.reasoning if mode == "shown" else ""
    headers = {"x-request-id": "req_" + seed[:16], "openai-processing-ms": "12",
               "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
               "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "30000",
               "x-ratelimit-remaining-tokens": str(max(0, 30000 - prompt_tokens)),
               "x-ratelimit-reset-tokens": "2ms"}
    if not body.get("stream"):
        payload = completion_payload(cid, created, model, d, tcall, usage, n=int(body.get("n") or 1),
                                     reasoning=shown, extras=extras)
        return await send_json(request, payload, fault, headers)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    frames = stream_frames(cid, created, model, d, tcall, usage, include_usage=include_usage, reasoning=shown,
                           extras=extras)
    return await send_stream(request, frames, content_type="text/event-stream; charset=utf-8", fault=fault,
                             error_frame=call.spec.stream_error_frame, headers=headers)


def models_payload(flavours: Iterable[Flavour]) -> dict[str, Any]:
    data = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": f.owned_by}
            for f in flavours for m in f.models]
    return {"object": "list", "data": data}


async def answer_models(call: Call, flavour: Flavour) -> web.StreamResponse:
    """``GET …/models``: every model of ``flavour``."""
    return await send_json(call.request, models_payload((flavour,)), call.fault)


_FLAVOUR_KEY: web.AppKey[Flavour] = web.AppKey("interlingua_fake_flavour")


def serve_on_v1(app: web.Application, flavour: Flavour, spec: FakeSpec | None = None) -> None:
    """Answer ``flavour`` on ``/v1/chat/completions``, ``/v1/models`` and ``/v1/models/{model}``
    (OpenAI's paths, which xAI's API uses too; each has its own origin)."""
    app[_FLAVOUR_KEY] = flavour
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
    if not flavour.knows(model):
        return _error(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    return await send_json(call.request, {"id": model, "object": "model", "created": 1_700_000_000,
                                          "owned_by": flavour.owned_by}, call.fault)


def not_found(request: web.Request) -> web.Response:
    """OpenAI's answer to a path it does not serve."""
    return _error(404, f"Invalid URL ({request.method} {request.path})")


FLAVOUR = Flavour(NAME, MODELS)



def add_routes(app: web.Application) -> None:
    serve_on_v1(app, FLAVOUR, SPEC)


SPEC = FakeSpec(
    name=NAME,
    base_path="/v1",
    add_routes=add_routes,
    error_response=error_response,
    stream_error_frame=stream_error_frame,
    auth=lambda request, raw: FLAVOUR.check_auth(request),
    not_found=not_found,
)
