"""Docker Model Runner's Ollama-compatible API (docs.docker.com "DMR REST API", "Ollama-compatible API";
Ollama clients use the runner's bare origin), written from the runner's own translation layer,
docker/model-runner ``pkg/ollama/http_handler.go`` and ``api.go``.

The runner is not Ollama: it translates ``/api/chat`` into an OpenAI chat completion on its own engine
and translates the answer back, so what it sends is narrower than Ollama's:

* ``GET /api/version`` → ``{"version": "0.1.0"}``; ``GET /api/tags`` → the pulled models, each tag with
  ``size`` 0 and ``details`` ``{format: "gguf", family, families, parameter_size, quantization_level}``.
* ``POST /api/chat`` → one ``{"model", "created_at", "message": {role, content[, tool_calls][, thinking]},
  "done": true}`` with **no** ``done_reason``, counts or durations (convertChatResponse); streamed (the
  default) as ``application/json`` lines, one per OpenAI chunk (its first, role-only chunk and its last,
  finish-only chunk give lines with empty content), then ``{"model", "created_at", "message":
  {"role": "", "content": ""}, "done": true}`` (Go marshals the zero ``Message``). Tool calls carry the
  engine's ``id``, ``function.index`` and the arguments as an object (convertToolCallsToOllamaFormat).
* A body that is not a JSON object: 400, Go's ``http.Error`` text ``Invalid request: …``; a model that is
  not pulled: the runner's plain-text 404 ``model not found`` passed through.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from ._content import decide, split_for_stream, stable_id
from ._jsonenc import dumps
from ._server import NOT_JSON, Call, endpoint, send_json, send_stream

__all__ = ["add_routes"]

# model -> (architecture, parameters, quantization) as the runner's model config reports them
_DETAILS: dict[str, tuple[str, str, str]] = {
    "ai/smollm2": ("llama", "361.82 M", "IQ2_XXS/Q4_K_M"), "ai/llama3.2": ("llama", "3.21 B", "IQ2_XXS/Q4_K_M"),
    "ai/qwen3": ("qwen3", "8.19 B", "IQ2_XXS/Q4_K_M"), "ai/gemma3": ("gemma3", "3.88 B", "IQ2_XXS/Q4_K_M"),
    "ai/mistral": ("llama", "7.25 B", "IQ2_XXS/Q4_K_M"),
}
_CREATED = 1_742_816_981  # the models' creation time (Unix seconds), fixed so answers are deterministic


def _now() -> str:
    # Go's time.Time marshals as RFC 3339 with nanoseconds
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _go_error(status: int, text: str) -> web.Response:
    # net/http's http.Error: text/plain, the message and a newline
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


@endpoint("models", auth=False, content=False)
async def version(call: Call) -> web.StreamResponse:
    return await send_json(call.request, {"version": "0.1.0"}, call.fault)


@endpoint("models", auth=False, content=False)
async def tags(call: Call) -> web.StreamResponse:
    created = datetime.datetime.fromtimestamp(_CREATED, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    models = []
    for name, (arch, params, quant) in _DETAILS.items():
        tag = name + ":latest"
        models.append({"name": tag, "model": tag, "modified_at": created, "size": 0,
                       "digest": "sha256:" + stable_id(name, n=64),
                       "details": {"format": "gguf", "family": arch, "families": [arch], "parameter_size": params,
                                   "quantization_level": quant}})
    return await send_json(call.request, {"models": models}, call.fault)


def _text(content: Any) -> str:
    return content if isinstance(content, str) else ""


def _problem(call: Call, pulled: Any) -> web.Response | None:
    body = call.body
    if body is NOT_JSON:
        return _go_error(400, "Invalid request: invalid character looking for beginning of value")
    if not isinstance(body, dict):
        return _go_error(400, f"Invalid request: json: cannot unmarshal {type(body).__name__} into Go value "
                              "of type ollama.ChatRequest")
    model = body.get("model") or body.get("name")
    messages = body.get("messages")
    if not isinstance(model, str) or not isinstance(messages, list) \
            or not all(isinstance(m, dict) for m in messages):
        return _go_error(400, "Invalid request: json: cannot unmarshal into Go struct field ChatRequest")
    for field, kind, go_type in (("tools", list, "[]api.Tool"), ("options", dict, "map[string]interface {}"),
                                 ("stream", bool, "bool")):
        value = body.get(field)
        if value is not None and not isinstance(value, kind):  # Go's encoding/json refuses the whole body
            return _go_error(400, f"Invalid request: json: cannot unmarshal {_json_kind(value)} into Go struct "
                                  f"field ChatRequest.{field} of type {go_type}")
    if not pulled(call.request, model):
        return web.Response(status=404, text="model not found\n", content_type="text/plain")
    return None


def _json_kind(value: Any) -> str:
    """The JSON type name Go's encoding/json puts in an UnmarshalTypeError."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "value"


def _tool_call(seed: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": stable_id(seed, name, n=32), "function": {"index": 0, "name": name, "arguments": args}}


def make_chat(pulled: Any) -> Any:
    """The ``POST /api/chat`` handler, given the Docker fake's store lookup (``pulled(request, model)``)."""

    @endpoint("chat", auth=False)
    async def chat(call: Call) -> web.StreamResponse:
        problem = _problem(call, pulled)
        if problem is not None:
            return problem
        body: dict[str, Any] = call.body
        model = body.get("model") or body.get("name")
        msgs = body["messages"]
        prompt = next((_text(m.get("content")) for m in reversed(msgs) if m.get("role") == "user"), "")
        tools = [(t["function"]["name"], t["function"].get("parameters") or {})
                 for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)
                 and isinstance(t["function"].get("name"), str)]
        options = body.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        d = decide(prompt=prompt, tools=tools, max_tokens=limit if isinstance(limit, int) and limit > 0 else None)
        seed = stable_id({k: v for k, v in body.items() if k != "stream"})
        calls = [_tool_call(seed, d.tool_name, d.tool_args or {})] if d.tool_name else []
        if body.get("stream") is False:
            message: dict[str, Any] = {"role": "assistant", "content": d.text}
            if calls:
                message["tool_calls"] = calls
            return await send_json(call.request, {"model": model, "created_at": _now(), "message": message,
                                                  "done": True}, call.fault)
        lines: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]  # the role-only first chunk
        lines += [{"role": "assistant", "content": p} for p in split_for_stream(d.text)]
        if calls:
            lines.append({"role": "assistant", "content": "", "tool_calls": calls})
        lines.append({"role": "assistant", "content": ""})  # the finish-only chunk
        frames = [dumps({"model": model, "created_at": _now(), "message": m, "done": False}).encode() + b"\n"
                  for m in lines]
        frames.append(dumps({"model": model, "created_at": _now(), "message": {"role": "", "content": ""},
                                  "done": True}).encode() + b"\n")
        return await send_stream(call.request, frames, content_type="application/json", fault=call.fault,
                                 error_frame=lambda: b'{"error":"Internal server error"}\n')

    return chat


def add_routes(app: web.Application, pulled: Any) -> None:
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/tags", tags)
    app.router.add_post("/api/chat", make_chat(pulled))
