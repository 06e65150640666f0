"""A fake of OpenAI's Responses API, written from OpenAI's API reference
(https://platform.openai.com/docs/api-reference/responses) and the official SDK's types
(``openai/types/responses/*``); Azure OpenAI serves the same API.

Paths:

* OpenAI: ``POST /v1/responses`` (JSON, or SSE when ``"stream": true``),
  ``GET``/``DELETE /v1/responses/{id}``.
* Azure: ``POST /openai/v1/responses`` (the v1 API) and ``POST /openai/responses?api-version=…``
  (dated versions from ``2025-03-01-preview``; the deployment is the body's ``model``), with the
  same ``GET``/``DELETE`` below each. Azure's content filter applies as on its chat
  (:mod:`.azure`): a prompt with ``FILTER_PROMPT`` is its 400 ``content_filter``; one with
  ``FILTER_ANSWER`` ends ``incomplete`` with reason ``content_filter``.

Requests are recorded (and faults queued, ``fake.fail_next("openai", …)``) under the serving
provider's name, ``openai`` or ``azure``: it is one service with two APIs. Content follows :mod:`._content`. Reasoning models (``gpt-5*``, ``o3*``, ``o4-mini``) answer with a
``reasoning`` item first: its ``summary`` holds the reasoning text only when ``reasoning.summary``
is requested, and it carries ``encrypted_content`` only when ``include`` has
``reasoning.encrypted_content``; they refuse a ``temperature`` other than 1, and other models refuse
``reasoning``, as the service does. Encrypted reasoning sent back must be content this fake issued
(anything else gets the service's "could not be verified" 400). A ``function_call_output`` must
answer the ``call_id`` of a ``function_call`` earlier in ``input`` (or in the previous response):
otherwise 400 "No tool call found for function call output with call_id …".

``store`` defaults to true, as the service's does: a stored response can be fetched, deleted and
named as ``previous_response_id`` (its input and output then precede the new input).

Streams are framed as the service frames them: ``event: <type>`` and ``data: <json>`` per event,
every event with a ``sequence_number``; ``response.created``, ``response.in_progress``, per item
``response.output_item.added`` … ``response.output_item.done`` (with content-part, text, summary and
argument events in between; ``response.function_call_arguments.done`` has no ``name``, as real
streams have none), then ``response.completed`` (or ``response.incomplete``). A mid-stream error
is an ``error`` event with its fields nested under ``"error"``, as real streams send it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import azure as _azure
from ._content import Decision, count_tokens, decide, split_for_stream, stable_id
from ._jsonenc import compact
from ._server import FakeSpec, open_request, send_json, send_stream, state_of
from .openai import MODELS, _auth, _error

__all__ = ["REASONING_MODELS", "add_azure_routes", "add_openai_routes", "response_frames", "response_object"]

REASONING_MODELS = ("gpt-5", "o3", "o4-mini")
# Encrypted reasoning this fake issues starts with this (real content is an opaque Fernet-like token).
_ENC_PREFIX = "gAAAAAB"
_STORE: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("interlingua_fake_responses_store")
_MIN_OUTPUT_TOKENS = 16  # "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16"

Check = Callable[[web.Request], "web.Response | None"]
Screen = Callable[[str, Decision], "tuple[Decision, Any] | web.Response"]
Missing = Callable[[str], web.Response]


def _is_reasoning(model: str) -> bool:
    return model.startswith(REASONING_MODELS)


def _known(model: str) -> bool:
    return model in MODELS or any(model.startswith(m + "-20") for m in MODELS)


def _store(request: web.Request) -> dict[str, dict[str, Any]]:
    return request.app[_STORE]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content
                       if isinstance(p, dict) and p.get("type") in ("input_text", "output_text", "text"))
    return ""


def _encrypt(text: str) -> str:
    return _ENC_PREFIX + base64.urlsafe_b64encode(text.encode()).decode()


def _validate(body: Any, history: list[dict[str, Any]]) -> web.Response | None:
    """The 400s the service gives for a malformed body (messages as the service words them)."""
    if not isinstance(body, dict):
        return _error(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                      "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
                      "was not valid JSON.)")
    if not isinstance(body.get("model"), str):
        return _error(400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    items = body.get("input")
    if not isinstance(items, str | list):
        return _error(400, "Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    calls = {i.get("call_id") for i in history if i.get("type") == "function_call"}
    for n, item in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            return _error(400, f"Invalid type for 'input[{n}]': expected an object.", param=f"input[{n}]",
                          code="invalid_type")
        kind = item.get("type", "message")
        if kind == "function_call":
            calls.add(item.get("call_id"))
        elif kind == "function_call_output" and item.get("call_id") not in calls:
            return _error(400, f"No tool call found for function call output with call_id {item.get('call_id')}.",
                          param="input")
        elif kind == "reasoning":
            enc = item.get("encrypted_content")
            if not isinstance(enc, str) or not enc.startswith(_ENC_PREFIX):
                rid = item.get("id") or "rs_unknown"
                return _error(400, f"The encrypted content for item {rid} could not be verified.",
                              param="input", code="invalid_encrypted_content")
        elif kind == "message" and item.get("role") not in ("user", "assistant", "system", "developer"):
            return _error(400, f"Invalid value: '{item.get('role')}'. Supported values are: 'assistant', 'system', "
                          "'developer', and 'user'.", param=f"input[{n}].role", code="invalid_value")
    t = body.get("temperature")
    if t is not None and (not isinstance(t, int | float) or not 0 <= t <= 2):
        return _error(400, f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {t} "
                      "instead.", param="temperature", code="decimal_above_max_value")
    m = body.get("max_output_tokens")
    if m is not None and (not isinstance(m, int) or m < _MIN_OUTPUT_TOKENS):
        return _error(400, f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
                      f"{_MIN_OUTPUT_TOKENS}, but got {m} instead.", param="max_output_tokens",
                      code="integer_below_min_value")
    if _is_reasoning(body["model"]) and t is not None and t != 1:
        # Reasoning models take no sampling temperature (the service's answer, code null).
        return _error(400, "Unsupported parameter: 'temperature' is not supported with this model.",
                      param="temperature")
    if body.get("reasoning") and not _is_reasoning(body["model"]):
        return _error(400, "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
                      param="reasoning.effort", code="unsupported_parameter")
    return None


def _as_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [i if "type" in i else {"type": "message", **i} for i in raw or ()]


def _decision(body: dict[str, Any], history: list[dict[str, Any]]) -> tuple[Decision, int]:
    """The answer and the prompt's token count."""
    items = history + _as_items(body)
    prompt_tokens = 3 + count_tokens(str(body.get("instructions") or ""))
    for i in items:
        prompt_tokens += 3 + count_tokens(_text_of(i.get("content")) + str(i.get("output") or "")
                                          + str(i.get("arguments") or ""))
    for t in body.get("tools") or ():
        prompt_tokens += count_tokens(json.dumps(t))
    tool_result = None
    if items and items[-1].get("type") == "function_call_output":
        last = items[-1]
        name = next((i.get("name") for i in items if i.get("type") == "function_call"
                     and i.get("call_id") == last.get("call_id")), "tool")
        tool_result = (str(name), str(last.get("output") or ""))
    prompt = next((_text_of(i.get("content")) for i in reversed(items)
                   if i.get("type") == "message" and i.get("role") == "user"), "")
    tools = [(str(t.get("name")), t.get("parameters") or {}) for t in body.get("tools") or ()
             if isinstance(t, dict) and t.get("type") == "function"]
    choice = body.get("tool_choice") or "auto"
    forced = None
    if isinstance(choice, dict):
        forced, choice = choice.get("name"), "required"
    fmt = (body.get("text") or {}).get("format") or {}
    d = decide(prompt=prompt, tools=tools, choice=str(choice), forced_tool=forced, tool_result=tool_result,
               schema=fmt.get("schema") if fmt.get("type") == "json_schema" else None,
               json_mode=fmt.get("type") == "json_object", max_tokens=body.get("max_output_tokens"),
               thinking=_is_reasoning(str(body["model"])))
    return d, prompt_tokens


def _output(d: Decision, seed: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if d.reasoning:
        wants_summary = bool((body.get("reasoning") or {}).get("summary"))
        item: dict[str, Any] = {"id": "rs_" + seed, "type": "reasoning",
                                "summary": [{"type": "summary_text", "text": d.reasoning}] if wants_summary else []}
        if "reasoning.encrypted_content" in (body.get("include") or ()):
            item["encrypted_content"] = _encrypt(d.reasoning)
        out.append(item)
    if d.tool_name:
        out.append({"id": "fc_" + seed, "type": "function_call", "status": "completed",
                    "arguments": json.dumps(d.tool_args, separators=(",", ":")),
                    "call_id": "call_" + stable_id(seed, d.tool_name), "name": d.tool_name})
    else:
        out.append({"id": "msg_" + seed, "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": d.text}]})
    return out


def response_object(rid: str, created: int, body: dict[str, Any], d: Decision, prompt_tokens: int,
                    seed: str) -> dict[str, Any]:
    """A whole ``response`` object as ``responses.create`` returns it (non-streamed)."""
    output = _output(d, seed, body)
    reasoning_tokens = count_tokens(d.reasoning) if d.reasoning else 0
    answer = count_tokens(d.text) + (count_tokens(output[-1]["arguments"]) + 3 if d.tool_name else 0)
    # "max_output_tokens" and "content_filter" are the documented incomplete reasons.
    reason = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(d.finish)
    incomplete = reason is not None
    tools = [{"type": "function", "description": t.get("description"), "name": t.get("name"),
              "parameters": t.get("parameters"), "strict": t.get("strict", True)}
             for t in body.get("tools") or () if isinstance(t, dict)]
    return {
        "id": rid, "object": "response", "created_at": created,
        "status": "incomplete" if incomplete else "completed",
        "background": False, "error": None,
        "incomplete_details": {"reason": reason} if incomplete else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None, "model": body["model"], "output": output, "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"), "prompt_cache_key": None,
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort", "medium" if d.reasoning else None),
                      "summary": (body.get("reasoning") or {}).get("summary")},
        "safety_identifier": None, "service_tier": "default", "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": (body.get("text") or {}).get("format") or {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"), "tools": tools, "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0), "truncation": "disabled",
        "usage": {"input_tokens": prompt_tokens,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": answer + reasoning_tokens,
                  "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
                  "total_tokens": prompt_tokens + answer + reasoning_tokens},
        "user": body.get("user"), "metadata": body.get("metadata") or {},
    }


def response_frames(resp: dict[str, Any]) -> list[bytes]:
    """The SSE events that stream ``resp``, in the service's order."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    pending = {**resp, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for n, item in enumerate(resp["output"]):
        iid, kind = item["id"], item["type"]
        if kind == "reasoning":
            emit("response.output_item.added", output_index=n, item={**item, "summary": []})
            for s, part in enumerate(item["summary"]):
                emit("response.reasoning_summary_part.added", item_id=iid, output_index=n, summary_index=s,
                     part={"type": "summary_text", "text": ""})
                for piece in split_for_stream(part["text"]):
                    emit("response.reasoning_summary_text.delta", item_id=iid, output_index=n, summary_index=s,
                         delta=piece)
                emit("response.reasoning_summary_text.done", item_id=iid, output_index=n, summary_index=s,
                     text=part["text"])
                emit("response.reasoning_summary_part.done", item_id=iid, output_index=n, summary_index=s, part=part)
        elif kind == "function_call":
            emit("response.output_item.added", output_index=n,
                 item={**item, "status": "in_progress", "arguments": ""})
            args = item["arguments"]
            for i in range(0, len(args), 8):
                emit("response.function_call_arguments.delta", item_id=iid, output_index=n, delta=args[i:i + 8])
            # No "name" here: real streams send none, whatever the SDK's type says.
            emit("response.function_call_arguments.done", item_id=iid, output_index=n, arguments=args)
        else:
            emit("response.output_item.added", output_index=n, item={**item, "status": "in_progress", "content": []})
            for c, part in enumerate(item["content"]):
                emit("response.content_part.added", item_id=iid, output_index=n, content_index=c,
                     part={**part, "text": ""})
                for piece in split_for_stream(part["text"]):
                    emit("response.output_text.delta", item_id=iid, output_index=n, content_index=c, delta=piece,
                         logprobs=[])
                emit("response.output_text.done", item_id=iid, output_index=n, content_index=c,
                     text=part["text"], logprobs=[])
                emit("response.content_part.done", item_id=iid, output_index=n, content_index=c, part=part)
        emit("response.output_item.done", output_index=n, item=item)
    emit("response.incomplete" if resp["status"] == "incomplete" else "response.completed", response=resp)
    return [b"event: " + e["type"].encode() + b"\ndata: " + compact(e) + b"\n\n" for e in events]


def stream_error_frame() -> bytes:
    """A mid-stream failure as the service sends it: fields nested under ``error``."""
    body = {"type": "error", "sequence_number": 1,
            "error": {"type": "server_error", "code": "server_error",
                      "message": "The server had an error while processing your request. Sorry about that!",
                      "param": None}}
    return b"event: error\ndata: " + json.dumps(body).encode() + b"\n\n"


async def _create(request: web.Request, provider: str, check: Check, missing: Missing,
                  screen: Screen | None = None) -> web.StreamResponse:
    raw, fault, early = await open_request(request, "responses", lambda r, _raw: check(r))
    if early is not None:
        return early
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    history: list[dict[str, Any]] = []
    prev = body.get("previous_response_id") if isinstance(body, dict) else None
    if prev is not None:
        stored = _store(request).get(str(prev))
        if stored is None:
            return _error(400, f"Previous response with id '{prev}' not found.", param="previous_response_id",
                          code="previous_response_not_found")
        history = stored["items"] + stored["response"]["output"]
    invalid = _validate(body, history)
    if invalid is not None:
        return invalid
    assert isinstance(body, dict)
    model = body["model"]
    if not _known(model):
        return missing(model)
    d, prompt_tokens = _decision(body, history)
    if screen is not None:
        # Azure's content filter, the same screen as its chat: a refused prompt is its 400; a
        # filtered answer is cut (the response ends incomplete, reason content_filter).
        prompt = next((_text_of(i.get("content")) for i in reversed(history + _as_items(body))
                       if i.get("type") == "message" and i.get("role") == "user"), "")
        screened = screen(prompt, d)
        if isinstance(screened, web.Response):
            return screened
        d = screened[0]
    if prompt_tokens > MODELS.get(model, 128_000):
        return _error(400, "Your input exceeds the context window of this model. Please adjust your input and "
                      "try again.", param="input", code="context_length_exceeded")
    seed = stable_id(body, time.time_ns())
    resp = response_object("resp_" + seed, int(time.time()), body, d, prompt_tokens, seed)
    if resp["store"]:
        _store(request)[resp["id"]] = {"response": resp, "items": history + _as_items(body)}
    headers = {"x-request-id": "req_" + seed[:16], "openai-processing-ms": "12"}
    if not body.get("stream"):
        return await send_json(request, resp, fault, headers)
    return await send_stream(request, response_frames(resp), content_type="text/event-stream; charset=utf-8",
                             fault=fault, error_frame=stream_error_frame, headers=headers)


def _not_found(rid: str) -> web.Response:
    return _error(404, f"Response with id '{rid}' not found.", param="response_id")


async def _stored(request: web.Request, provider: str, check: Check) -> web.StreamResponse:
    # Retrieving or deleting generates nothing: a scripted answer stays queued for the next create.
    _, fault, early = await open_request(request, "responses", lambda r, _raw: check(r), content=False)
    if early is not None:
        return early
    rid = request.match_info["response_id"]
    store = _store(request)
    if rid not in store:
        return _not_found(rid)
    if request.method == "DELETE":
        del store[rid]
        return await send_json(request, {"id": rid, "object": "response", "deleted": True}, fault)
    return await send_json(request, store[rid]["response"], fault)


def _ensure_store(app: web.Application) -> None:
    if _STORE not in app:
        app[_STORE] = {}


def add_openai_routes(app: web.Application, spec: FakeSpec) -> None:
    """``/v1/responses`` on the OpenAI fake."""
    _ensure_store(app)

    async def create(request: web.Request) -> web.StreamResponse:
        return await _create(request, "openai", _auth, _model_missing)

    async def stored(request: web.Request) -> web.StreamResponse:
        return await _stored(request, "openai", _auth)

    app.router.add_post("/v1/responses", create)
    app.router.add_get("/v1/responses/{response_id}", stored)
    app.router.add_delete("/v1/responses/{response_id}", stored)


def _model_missing(model: str) -> web.Response:
    return _error(400, f"The requested model '{model}' does not exist.", param="model", code="model_not_found")


# Azure serves Responses from api-version 2025-03-01-preview on (the preview that introduced it).
_AZURE_DATED = frozenset(v for v in _azure.API_VERSIONS if v >= "2025-03-01-preview")


def _azure_check(request: web.Request) -> web.Response | None:
    version = request.query.get("api-version")
    if request.path.startswith("/openai/v1/"):
        if version is not None and version not in ("preview", "latest"):
            return _azure._error(400, "BadRequest", "API version not supported")
    elif version is None:
        return _azure._error(404, "404", "Resource not found")
    elif version not in _AZURE_DATED:
        return _azure._error(400, "BadRequest", "API version not supported")
    key = state_of(request).api_key
    if request.headers.get("api-key") == key or request.headers.get("Authorization", "") == f"Bearer {key}":
        return None
    return _azure._error(401, "401", _azure._DENIED)


def add_azure_routes(app: web.Application, spec: FakeSpec) -> None:
    """``/openai/v1/responses`` and ``/openai/responses?api-version=…`` on the Azure fake."""
    _ensure_store(app)

    async def create(request: web.Request) -> web.StreamResponse:
        return await _create(request, "azure", _azure_check, _azure._deployment_missing, _azure._screen)

    async def stored(request: web.Request) -> web.StreamResponse:
        return await _stored(request, "azure", _azure_check)

    for prefix in ("/openai/v1", "/openai"):
        app.router.add_post(prefix + "/responses", create)
        app.router.add_get(prefix + "/responses/{response_id}", stored)
        app.router.add_delete(prefix + "/responses/{response_id}", stored)
