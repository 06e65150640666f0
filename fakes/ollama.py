"""A fake of Ollama's native API, written from Ollama's docs (docs/api.md, docs/api/*.mdx).

Paths (no prefix, as on a real server at ``http://127.0.0.1:11434``):

* ``POST /api/chat`` — ``"stream"`` defaults to **true**: NDJSON (``application/x-ndjson``), one
  object per line, the last with ``"done": true``, ``done_reason`` and the metrics; with
  ``"stream": false`` one JSON object. Thinking lines come first (``message.thinking``), then
  content lines; a tool call arrives whole in one line (``message.tool_calls`` with an ``id`` and
  ``arguments`` as an object); ``done_reason`` stays ``"stop"`` for tool calls, as Ollama sends it.
  An empty ``messages`` list loads the model (``done_reason: "load"``, or ``"unload"`` with
  ``keep_alive: 0``).
* ``POST /api/generate`` (prompt completion, stream or not), ``POST /api/embed``, ``GET /api/ps``.
* ``GET /api/tags`` — the installed models, ``POST /api/show`` — details, ``model_info`` and
  ``capabilities``, ``GET /api/version``.
* The OpenAI-compatible API (docs/openai.md): ``POST /v1/chat/completions``, ``POST /v1/embeddings`` and
  ``POST /v1/completions`` (Ollama's translations of its chat, embed and generate, thinking included:
  :mod:`.ollama_openai`), ``GET /v1/models``, ``GET /v1/models/{model}``, and ``POST /v1/responses``
  (stateless, as Ollama's: :mod:`.ollama_responses`). Every compatibility layer answers with this fake's ``/api/chat`` answer
  (:func:`chat_answer`): the same text, thinking and counts on every route, as on a real Ollama.
* The Anthropic-compatible API (docs/api/anthropic-compatibility.mdx): ``POST /v1/messages`` (what Claude
  Code and the ``anthropic`` SDK reach with the bare origin as ``base_url``: :mod:`.ollama_anthropic`).

No auth (a local Ollama has none; an ``Authorization`` header is accepted and ignored). Errors
are ``{"error": "..."}`` in gin's compact JSON: a request is bound as the handlers bind it (:func:`bind`:
Go's own decoder errors, ``missing request body``, the ``think``/``keep_alive``/tool-argument readers'
errors, 400); no model → 400 ``model is required``; unknown model → 404 ``model 'x' not found``
(``ChatHandler``'s words); tools or ``think`` for a model without that capability → 400; an option of
the wrong type → 500 (``Options.FromMap``, behind the model load). Models with the
``thinking`` capability think unless ``"think": false`` (Ollama turns thinking on by default for
them). Content follows :mod:`interlingua.fakes._content`; token counts use its tokenizer and the
durations are derived from them, so they are deterministic. Mid-stream errors are an
``{"error": ...}`` line, as docs/api/errors.mdx shows.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from interlingua.core._memo import remember

from ._content import SCRIPTED, Decision, count_tokens, decide, split_for_stream, stable_id
from ._faults import Fault
from ._gojson import (
    ANY,
    MAP,
    NOT_AN_OBJECT,
    GoError,
    GoFloat32s,
    GoList,
    GoStruct,
    S,
    go_json,
    go_quote,
    go_type_name,
    read_request,
)
from ._jsonenc import dumps
from ._server import Call, FakeSpec, endpoint, send_json, send_stream, state_of
from .openai import Flavour, serve_on_v1

__all__ = ["MODELS", "SPEC", "chat_payload", "stream_lines"]

NAME = "ollama"
VERSION = "0.32.15"  # the release whose source the routes follow (the OpenAI, Responses and Anthropic layers included)
MODIFIED_AT = "2025-09-18T10:41:05.716372884+02:00"


def _model(family: str, arch: str, size: int, params: str, quant: str, ctx: int, caps: list[str],
           families: list[str] | None = None) -> dict[str, Any]:
    return {"family": family, "arch": arch, "size": size, "parameter_size": params, "quantization_level": quant,
            "context_length": ctx, "capabilities": caps, "families": families or [family]}


# Installed models, by full "name:tag".
MODELS: dict[str, dict[str, Any]] = {
    "llama3.2:latest": _model("llama", "llama", 2_019_393_189, "3.2B", "Q4_K_M", 131_072, ["completion", "tools"]),
    "qwen3:8b": _model("qwen3", "qwen3", 5_225_388_164, "8.2B", "Q4_K_M", 40_960, ["completion", "tools", "thinking"]),
    "llava:7b": _model("llama", "llama", 4_733_363_377, "7B", "Q4_0", 32_768, ["completion", "vision"],
                       ["llama", "clip"]),
    "gpt-oss:20b": _model("gptoss", "gptoss", 13_780_173_724, "20.9B", "MXFP4", 131_072,
                          ["completion", "tools", "thinking"]),
    "nomic-embed-text:latest": {**_model("nomic-bert", "nomic-bert", 274_302_450, "137M", "F16", 2_048, ["embedding"]),
                                "embedding_length": 768},
}
_THINK_LEVELS = frozenset({"low", "medium", "high", "max"})
_STATUS_MESSAGES: dict[int, str] = {
    429: "too many requests, please retry later",
    500: "an error was encountered while running the model",
    502: "remote model is unavailable",
    503: "server busy, please try again.  maximum pending requests exceeded",
}


def resolve(name: str) -> str | None:
    """The installed model a request names (a missing tag means ``:latest``), or ``None``."""
    full = name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"
    return full if full in MODELS else None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """``c.JSON(status, gin.H{"error": message})``: gin's compact JSON, ``application/json; charset=utf-8``."""
    return web.Response(status=status, body=go_json({"error": message}),
                        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def retry_after(status: int, fault: Fault | None) -> dict[str, str] | None:
    """The ``Retry-After`` header a status fault's 429 carries (every Ollama route's error shape)."""
    return {"Retry-After": fault.retry_after or "1"} if status == 429 and fault else None


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """Ollama's ``{"error": ...}`` body for a status the fault asked for."""
    return _error(status, _STATUS_MESSAGES.get(status, message), retry_after(status, fault))


def stream_error_frame() -> bytes:
    return b'{"error":"an error was encountered while running the model"}\n'


def _digest(name: str) -> str:
    return stable_id("ollama-digest", name, n=64)


def _details(info: dict[str, Any]) -> dict[str, Any]:
    return {"parent_model": "", "format": "gguf", "family": info["family"], "families": info["families"],
            "parameter_size": info["parameter_size"], "quantization_level": info["quantization_level"]}


def _now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text_of(m: dict[str, Any]) -> str:
    c = m.get("content")
    return c if isinstance(c, str) else ""


def _decision(body: dict[str, Any], thinking: bool) -> tuple[Decision, int]:
    msgs = body["messages"]
    prompt_tokens = 1
    for m in msgs:
        prompt_tokens += 4 + count_tokens(_text_of(m)) + 768 * len(m.get("images") or ())
    tools = [(t["function"].get("name", ""), t["function"].get("parameters") or {})
             for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    for t in body.get("tools") or ():
        prompt_tokens += count_tokens(json.dumps(t))
    last = msgs[-1]
    tool_result = None
    if last.get("role") == "tool":
        name = last.get("tool_name") or next(
            (tc["function"]["name"] for m in msgs for tc in (m.get("tool_calls") or ())
             if tc.get("id") and tc.get("id") == last.get("tool_call_id")), "tool")
        tool_result = (name, _text_of(last))
    prompt = next((_text_of(m) for m in reversed(msgs) if m.get("role") == "user"), "")
    fmt = body.get("format")
    opts = body.get("options") or {}
    num_predict = opts.get("num_predict")
    stop = opts.get("stop") or ()
    d = decide(
        prompt=prompt, tools=tools, tool_result=tool_result,
        schema=fmt if isinstance(fmt, dict) else None, json_mode=fmt == "json",
        max_tokens=num_predict if isinstance(num_predict, int) and num_predict >= 0 else None,
        stop=[stop] if isinstance(stop, str) else list(stop), thinking=thinking,
    )
    return d, prompt_tokens


def _tool_call(d: Decision, seed: str) -> dict[str, Any]:
    # Current Ollama gives each call an id ("call_" + 8 random [a-z0-9]) and its index.
    return {"id": "call_" + stable_id(seed, d.tool_name, n=8), "function": {"index": 0, "name": d.tool_name,
                                                                             "arguments": d.tool_args}}


def _metrics(prompt_tokens: int, eval_tokens: int) -> dict[str, int]:
    load, prompt_ns, eval_ns = 12_873_292, 1_180_417 * prompt_tokens, 15_962_083 * eval_tokens
    return {"total_duration": load + prompt_ns + eval_ns + 4_217_833, "load_duration": load,
            "prompt_eval_count": prompt_tokens, "prompt_eval_duration": prompt_ns,
            "eval_count": eval_tokens, "eval_duration": eval_ns}


def _done_reason(d: Decision) -> str:
    return "length" if d.finish == "length" else "stop"


def chat_payload(model: str, created_at: str, d: Decision, call: dict[str, Any] | None,
                 prompt_tokens: int, eval_tokens: int) -> dict[str, Any]:
    """A non-streamed ``/api/chat`` response as Ollama documents it."""
    message: dict[str, Any] = {"role": "assistant", "content": d.text}
    if d.reasoning:
        message["thinking"] = d.reasoning
    if call:
        message["tool_calls"] = [call]
    return {"model": model, "created_at": created_at, "message": message, "done": True,
            "done_reason": _done_reason(d), **_metrics(prompt_tokens, eval_tokens)}


def stream_lines(model: str, created_at: str, d: Decision, call: dict[str, Any] | None,
                 prompt_tokens: int, eval_tokens: int) -> list[bytes]:
    """The NDJSON lines of a streamed ``/api/chat`` response, the ``done`` line last."""

    def line(message: dict[str, Any], done: bool = False, **extra: Any) -> bytes:
        obj = {"model": model, "created_at": created_at, "message": {"role": "assistant", **message},
               "done": done, **extra}
        return go_json(obj) + b"\n"

    out = [line({"content": "", "thinking": piece}) for piece in split_for_stream(d.reasoning)]
    out.extend(line({"content": piece}) for piece in split_for_stream(d.text))
    if call:
        out.append(line({"content": "", "tool_calls": [call]}))
    out.append(line({"content": ""}, done=True, done_reason=_done_reason(d), **_metrics(prompt_tokens, eval_tokens)))
    return out


# api.ChatRequest as Go's encoding/json sees it (unknown fields ignored; ``options`` is a map whose
# documented keys Ollama converts with their types: docs/modelfile.md#valid-parameters-and-values).
# The request types (api/types.go), as Go's decoder reads them: a wrong JSON type is Go's own 400
_TOOL_CALL = GoStruct("ToolCall", "api.ToolCall", {"id": S, "function": GoStruct(
    "ToolCallFunction", "api.ToolCallFunction", {"index": "int", "name": S, "arguments": ANY})})
_MESSAGE = GoStruct("Message", "api.Message", {
    "role": S, "content": S, "thinking": S, "images": GoList(S, "[]api.ImageData"),
    "tool_calls": GoList(_TOOL_CALL, "[]api.ToolCall"), "tool_name": S, "tool_call_id": S})
_TOOL = GoStruct("Tool", "api.Tool", {"type": S, "items": ANY, "function": GoStruct(
    "ToolFunction", "api.ToolFunction", {"name": S, "description": S, "parameters": ANY})})
_REQUEST_COMMON = {"model": S, "stream": "bool", "format": ANY, "keep_alive": ANY, "options": MAP, "think": ANY,
                   "truncate": "bool", "shift": "bool", "_debug_render_only": "bool", "logprobs": "bool",
                   "top_logprobs": "int"}
CHAT_REQUEST = GoStruct("ChatRequest", "api.ChatRequest", {
    **_REQUEST_COMMON, "messages": GoList(_MESSAGE, "[]api.Message"), "tools": GoList(_TOOL, "api.Tools")})
GENERATE_REQUEST = GoStruct("GenerateRequest", "api.GenerateRequest", {
    **_REQUEST_COMMON, "prompt": S, "suffix": S, "system": S, "template": S, "context": GoList("int", "[]int"),
    "raw": "bool", "images": GoList(S, "[]api.ImageData")})
EMBED_REQUEST = GoStruct("EmbedRequest", "api.EmbedRequest", {
    "model": S, "input": ANY, "keep_alive": ANY, "truncate": "bool", "dimensions": "int", "options": MAP})

_GO_DURATION = re.compile(r"[-+]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)")
_THINK_WORDS = '("high", "medium", "low", "max", true, or false)'


def _unmarshaler_problem(body: dict[str, Any]) -> str | None:
    """The errors of the request types' own ``UnmarshalJSON`` (``ThinkValue``, ``Duration``, a tool call's
    ordered-map arguments): they stop Go's decoding at once, so they are the answer whatever else is wrong."""
    think = body.get("think")
    if think is not None and not isinstance(think, bool):
        if not isinstance(think, str):
            return f"think must be a boolean or string {_THINK_WORDS}"
        if think not in _THINK_LEVELS:
            return f"invalid think value: {go_quote(think)} (must be \"high\", \"medium\", \"low\", \"max\", true, or false)"
    keep = body.get("keep_alive")
    if keep is not None and not (isinstance(keep, int | float) and not isinstance(keep, bool)):
        if not isinstance(keep, str):
            return f"Unsupported type: '{go_type_name(keep)}'"
        if not _GO_DURATION.fullmatch(keep):
            return f"time: invalid duration {go_quote(keep)}"
    return _tool_arguments_problem(body)


def bind(raw: bytes, spec: GoStruct) -> dict[str, Any] | web.Response:
    """``c.ShouldBindJSON(&req)`` into ``spec`` as a handler does it: the request, or its 400 —
    ``missing request body`` for an empty one, else Go's own words."""
    try:
        return read_request(raw, spec, _unmarshaler_problem)
    except GoError as e:
        return _error(400, "missing request body" if str(e) == "EOF" else str(e))


# api.Options (and its Runner), by JSON name: how ``Options.FromMap`` reads each (others are ignored)
_OPTION_KINDS = {
    **dict.fromkeys(("num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch", "num_gpu",
                     "main_gpu", "num_thread", "draft_num_predict"), "integer"),
    **dict.fromkeys(("top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                     "frequency_penalty"), "float32"),
    "use_mmap": "boolean", "stop": "array",
}


def options_problem(options: dict[str, Any] | None) -> str | None:
    """``Options.FromMap``'s refusal of an option of the wrong type (the model's options load first, so
    it reaches the client as a 500 from ``handleScheduleError``); a number for an integer is taken."""
    for key, value in (options or {}).items():
        kind = _OPTION_KINDS.get(key)
        if kind is None or value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        ok = {"integer": number, "float32": number, "boolean": isinstance(value, bool),
              "array": isinstance(value, list)}[kind]
        if not ok:
            return f"option {go_quote(key)} must be of type {kind}"
        if kind == "array" and not all(isinstance(s, str) for s in value):
            return f"option {go_quote(key)} must be of an array of strings"
    return None


def _tool_arguments_problem(body: dict[str, Any]) -> str | None:
    """A tool call's ``arguments`` that are not an object: the ordered map's own reader refuses it."""
    msgs = body.get("messages")
    for m in msgs if isinstance(msgs, list) else ():
        calls = m.get("tool_calls") if isinstance(m, dict) else None
        for tc in calls if isinstance(calls, list) else ():
            fn = tc.get("function") if isinstance(tc, dict) else None
            args = fn.get("arguments") if isinstance(fn, dict) else None
            if args is not None and not isinstance(args, dict):
                return NOT_AN_OBJECT
    return None


def _think_error(body: dict[str, Any], model: str, caps: list[str]) -> tuple[bool, web.Response | None]:
    """Whether the model thinks (``ChatHandler`` turns it on for a thinking model when the request leaves
    it unset), or the 400 for thinking asked of a model without it (the value itself was checked by
    :func:`bind`)."""
    think = body.get("think")
    if think is None:
        return "thinking" in caps, None
    if think is not False and "thinking" not in caps:
        return False, _error(400, f"{go_quote(model)} does not support thinking")
    return think is not False, None


# Every line of a stream carries the request's own timestamp, so the lines themselves cannot be
# reused; their JSON around it can. A template per raw body (an unscripted answer is a function of
# it) holds each line split at a placeholder timestamp; a request joins its own timestamp in. The
# placeholder's control characters are JSON-escaped, and only its first occurrence — in
# ``created_at``, which precedes everything but the model id — is the split point.
_AT_TEXT = "\x00created_at\x00"
_AT = b"\\u0000created_at\\u0000"
_TEMPLATES: dict[bytes, list[tuple[bytes, bytes]]] = {}
_TEMPLATES_MAX = 256


def _lines_for(raw: bytes, created_at: str, model: str, d: Decision, tcall: dict[str, Any] | None,
               prompt_tokens: int, eval_tokens: int) -> list[bytes]:
    if SCRIPTED.get() is not None or _AT_TEXT in model:
        return stream_lines(model, created_at, d, tcall, prompt_tokens, eval_tokens)
    template = _TEMPLATES.get(raw)
    if template is None:
        pieces = [line.partition(_AT) for line in stream_lines(model, _AT_TEXT, d, tcall, prompt_tokens, eval_tokens)]
        template = remember(_TEMPLATES, raw, [(head, tail) for head, _, tail in pieces], bound=_TEMPLATES_MAX)
    at = created_at.encode()
    return [head + at + tail for head, tail in template]


@endpoint("chat")
async def chat(call: Call) -> web.StreamResponse:
    """``POST /api/chat``, in ``ChatHandler``'s order: bind (Go's 400s), ``top_logprobs``, the model
    (400 required, 404 not found), unload, tools and thinking, the runner (chat capability, options:
    500), load, then the answer."""
    request, raw, fault = call.request, call.raw, call.fault
    admitted = _admit(request, raw, CHAT_REQUEST)
    if isinstance(admitted, web.Response):
        return admitted
    body, model, info = admitted
    msgs = body.get("messages")
    created_at = _now_rfc3339()
    if not msgs and body.get("keep_alive") in (0, "0", "0s"):
        return await send_json(request, {"model": model, "created_at": created_at,
                                         "message": {"role": "assistant", "content": ""},
                                         "done_reason": "unload", "done": True}, fault, encode=go_json)
    thinking, bad = _think_error(body, model, info["capabilities"])
    if bad is not None:
        return bad
    if "completion" not in info["capabilities"]:
        return _error(400, f"{go_quote(model)} does not support chat")
    if body.get("tools") and "tools" not in info["capabilities"]:
        return _error(400, f"registry.ollama.ai/library/{resolve(model)} does not support tools")
    problem = options_problem(body.get("options"))
    if problem is not None:
        return _error(500, problem)
    if not msgs:
        return await send_json(request, {"model": model, "created_at": created_at,
                                         "message": {"role": "assistant", "content": ""},
                                         "done_reason": "load", "done": True}, fault, encode=go_json)
    d, prompt_tokens = _decision(body, thinking)
    seed = stable_id(body)
    tcall = _tool_call(d, seed) if d.tool_name else None
    eval_tokens = count_tokens(d.text) + count_tokens(d.reasoning) + (count_tokens(json.dumps(d.tool_args)) + 4 if tcall else 0)
    eval_tokens = max(1, eval_tokens)
    if body.get("stream") is False:
        return await send_json(request, chat_payload(model, created_at, d, tcall, prompt_tokens, eval_tokens), fault, encode=go_json)
    lines = _lines_for(raw, created_at, model, d, tcall, prompt_tokens, eval_tokens)
    return await send_stream(request, lines, content_type="application/x-ndjson", fault=fault,
                             error_frame=stream_error_frame, cache_control=None)


@endpoint("models", content=False)
async def tags(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    models = [{"name": name, "model": name, "modified_at": MODIFIED_AT, "size": info["size"],
               "digest": _digest(name), "details": _details(info)} for name, info in MODELS.items()]
    return await send_json(request, {"models": models}, fault, encode=go_json)


@endpoint("models", content=False)
async def show(call: Call) -> web.StreamResponse:
    request, fault, body = call.request, call.fault, call.body
    if not isinstance(body, dict):
        return _error(400, "missing request body")
    model = body.get("model") or body.get("name")  # "name" is the deprecated spelling
    if not isinstance(model, str) or not model:
        return _error(400, "model is required")
    full = resolve(model)
    if full is None:
        return _error(404, f"model '{model}' not found")
    info = MODELS[full]
    arch = info["arch"]
    payload = {
        "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT" if info["family"] == "llama" else "Apache License 2.0",
        "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {full}\n",
        "parameters": 'stop                           "<|eot_id|>"',
        "template": "{{ .Prompt }}",
        "details": _details(info),
        "model_info": {
            "general.architecture": arch,
            "general.basename": full.split(":")[0],
            "general.file_type": 15,
            "general.parameter_count": int(float(info["parameter_size"].rstrip("BM")) * (1e9 if info["parameter_size"].endswith("B") else 1e6)),
            "general.quantization_version": 2,
            f"{arch}.context_length": info["context_length"],
            f"{arch}.embedding_length": info.get("embedding_length", 4096),
            f"{arch}.block_count": 32,
        },
        "capabilities": info["capabilities"],
        "modified_at": MODIFIED_AT,
    }
    return await send_json(request, payload, fault, encode=go_json)


@endpoint("version", content=False)
async def version(call: Call) -> web.StreamResponse:
    return await send_json(call.request, {"version": VERSION}, call.fault, encode=go_json)


def model_problem(request: web.Request, model: str) -> str | tuple[int, str]:
    """The installed model a request names (its full name), or the handler's refusal: ``model is
    required`` (400), ``model 'x' not found`` (404; also for a model declared unknown with
    ``fake.models("ollama", unknown=[…])``)."""
    if not model:
        return 400, "model is required"
    full = resolve(model)
    if full is None or model in state_of(request).unknown_models.get(NAME, ()):
        return 404, f"model '{model}' not found"
    return full


def _model_or_error(request: web.Request, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | web.Response:
    found = model_problem(request, body.get("model", ""))
    if isinstance(found, tuple):
        return _error(*found)
    return body["model"], MODELS[found]


def _admit(request: web.Request, raw: bytes, spec: GoStruct) -> tuple[dict[str, Any], str, dict[str, Any]] | web.Response:
    """A chat or generate handler's opening: bind, the ``top_logprobs`` range, the model."""
    body = bind(raw, spec)
    if isinstance(body, web.Response):
        return body
    if not 0 <= body.get("top_logprobs", 0) <= 20:
        return _error(400, "top_logprobs must be between 0 and 20")
    found = _model_or_error(request, body)
    if isinstance(found, web.Response):
        return found
    return body, *found


def generate_answer(body: dict[str, Any], thinking: bool) -> tuple[Decision, int, int]:
    """``/api/generate``'s answer to a request with a prompt: the decision, the prompt and eval counts
    (``/v1/completions`` translates to it)."""
    prompt = body.get("prompt") or ""
    system = "" if body.get("raw") else (body.get("system") or "")
    fmt = body.get("format")
    opts = body.get("options") or {}
    num_predict = opts.get("num_predict")
    d = decide(prompt=prompt, schema=fmt if isinstance(fmt, dict) else None, json_mode=fmt == "json",
               max_tokens=num_predict if isinstance(num_predict, int) and num_predict >= 0 else None,
               stop=list(opts.get("stop") or ()), thinking=thinking)
    prompt_tokens = 1 + count_tokens(prompt) + count_tokens(system) + 768 * len(body.get("images") or ())
    return d, prompt_tokens, max(1, count_tokens(d.text) + count_tokens(d.reasoning))


@endpoint("generate")
async def generate(call: Call) -> web.StreamResponse:
    """``POST /api/generate`` (docs/api.md "Generate a completion"): ``prompt`` (+ ``system``, ``raw``,
    ``format``, ``images``, ``options``), streamed by default as ``response`` pieces, the ``done`` line
    carrying ``done_reason``, ``context`` and the durations and counts."""
    request, fault = call.request, call.fault
    admitted = _admit(request, call.raw, GENERATE_REQUEST)
    if isinstance(admitted, web.Response):
        return admitted
    body, model, info = admitted
    created_at = _now_rfc3339()
    prompt = body.get("prompt") or ""
    if not prompt and not body.get("images"):
        # an empty prompt loads (or with keep_alive 0 unloads) the model
        reason = "unload" if body.get("keep_alive") in (0, "0", "0s") else "load"
        return await send_json(request, {"model": model, "created_at": created_at, "response": "", "done": True,
                                         "done_reason": reason}, fault, encode=go_json)
    if "completion" not in info["capabilities"]:
        return _error(400, f"{go_quote(model)} does not support generate")
    thinking, bad = _think_error(body, model, info["capabilities"])
    if bad is not None:
        return bad
    problem = options_problem(body.get("options"))
    if problem is not None:
        return _error(500, problem)
    d, prompt_tokens, eval_tokens = generate_answer(body, thinking)
    # ``context``: the token ids of this exchange, to pass back for a follow-up (deprecated but sent)
    context = list(range(1, min(prompt_tokens + eval_tokens, 64) + 1))
    done = {"done": True, "done_reason": _done_reason(d), "context": context, **_metrics(prompt_tokens, eval_tokens)}
    if body.get("stream") is False:
        payload: dict[str, Any] = {"model": model, "created_at": created_at, "response": d.text}
        if d.reasoning:
            payload["thinking"] = d.reasoning
        return await send_json(request, {**payload, **done}, fault, encode=go_json)

    def line(**fields: Any) -> bytes:
        obj = {"model": model, "created_at": created_at, **fields}
        return go_json(obj) + b"\n"

    lines = [line(response="", thinking=piece, done=False) for piece in split_for_stream(d.reasoning)]
    lines += [line(response=piece, done=False) for piece in split_for_stream(d.text)]
    lines.append(line(response="", **done))
    return await send_stream(request, lines, content_type="application/x-ndjson", fault=fault,
                             error_frame=stream_error_frame, cache_control=None)


def embedding_of(text: str, dims: int = 768) -> list[float]:
    """A deterministic unit-length vector for ``text`` (the same text, the same vector)."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] ^ (i * 37 % 256)) - 127.5) / 127.5 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def embedding_dims(info: dict[str, Any], asked: int) -> int:
    """A vector's length: the model's own, or ``dimensions`` when it asks for fewer (``EmbedHandler``
    truncates and normalises again; more than the model has is not an error, just the whole vector)."""
    length: int = info["embedding_length"]
    return asked if 0 < asked < length else length


def _inputs(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return list(value)
    return None


@endpoint("embed")
async def embed(call: Call) -> web.StreamResponse:
    """``POST /api/embed``: ``input`` is a string or a list of strings; one vector per input."""
    body = bind(call.raw, EMBED_REQUEST)
    if isinstance(body, web.Response):
        return body
    found = _model_or_error(call.request, body)
    if isinstance(found, web.Response):
        return found
    model, info = found
    inputs = _inputs(body.get("input", []))
    if inputs is None:
        return _error(400, "invalid input type")
    if "embedding" not in info["capabilities"]:
        return _error(400, "this model does not support embeddings")
    problem = options_problem(body.get("options"))
    if problem is not None:
        return _error(500, problem)
    dims = embedding_dims(info, body.get("dimensions", 0))
    tokens = sum(count_tokens(t) for t in inputs)
    return await send_json(call.request, {"model": model, "embeddings": [GoFloat32s(embedding_of(t, dims)) for t in inputs],
                                          "total_duration": 14_143_917 + 1000 * tokens, "load_duration": 1_019_500,
                                          "prompt_eval_count": tokens}, call.fault, encode=go_json)


@endpoint("ps", content=False)
async def ps(call: Call) -> web.StreamResponse:
    """``GET /api/ps``: the models loaded in memory (here: the ones requests have used so far)."""
    used: list[str] = []
    for r in state_of(call.request).requests:
        if r.provider == NAME and r.endpoint in ("chat", "generate", "embed"):
            with contextlib.suppress(ValueError, AttributeError):
                name = resolve(str(json.loads(r.body).get("model")))
                if name and name not in used:
                    used.append(name)
    expires = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)).isoformat()
    models = [{"name": n, "model": n, "size": MODELS[n]["size"], "digest": _digest(n), "details": _details(MODELS[n]),
               "expires_at": expires, "size_vram": MODELS[n]["size"], "context_length": 4096} for n in used]
    return await send_json(call.request, {"models": models}, call.fault, encode=go_json)


# -- the chat answer the compatibility layers translate (Chat Completions, Responses, Anthropic Messages)


@dataclass
class ChatAnswer:
    """The chat answer ``ChatHandler`` gives a compatibility layer's writer (one object, or the chunks
    of a stream): the message and the done chunk's fields (the Chat Completions, Responses and
    Anthropic layers all translate it)."""

    text: str = ""
    thinking: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    done_reason: str = "stop"
    prompt_tokens: int = 0
    eval_tokens: int = 0


def chat_answer(chat: dict[str, Any], thinking: bool) -> ChatAnswer:
    """The Ollama fake's ``/api/chat`` answer to this chat request (same decision, same counts)."""
    d: Decision
    d, prompt_tokens = _decision(chat, thinking)
    call = _tool_call(d, stable_id(chat)) if d.tool_name else None
    eval_tokens = count_tokens(d.text) + count_tokens(d.reasoning) + (count_tokens(dumps(d.tool_args)) + 4 if call else 0)
    return ChatAnswer(d.text, d.reasoning, [call] if call else [], "length" if d.finish == "length" else "stop",
                      prompt_tokens, max(1, eval_tokens))


def chat_chunks(a: ChatAnswer) -> list[dict[str, Any]]:
    """The chat stream ``ChatHandler`` writes (as the Ollama fake's ``/api/chat`` streams it): thinking
    pieces, content pieces, the tool call, then the ``done`` chunk with the counts."""
    out: list[dict[str, Any]] = [{"thinking": p} for p in split_for_stream(a.thinking)]
    out += [{"content": p} for p in split_for_stream(a.text)]
    if a.calls:
        out.append({"tool_calls": a.calls})
    out.append({"done": True, "done_reason": a.done_reason, "prompt_eval_count": a.prompt_tokens,
                "eval_count": a.eval_tokens})
    return out


# -- the OpenAI-compatible API (docs/openai.md): /v1/* on the same origin, the key "required but ignored"


def compat_error(status: int, message: str, *, handler: bool = True, headers: dict[str, str] | None = None) -> web.Response:
    """The OpenAI-compatible layers' errors: ``NewError``'s body (type by status). From a middleware
    (``AbortWithStatusJSON``) gin's ``application/json; charset=utf-8``; from a handler, through the
    writer's ``writeError``, ``application/json`` and a newline."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    body = go_json({"error": {"message": message, "type": kind, "param": None, "code": None}})
    ctype = "application/json" if handler else "application/json; charset=utf-8"
    return web.Response(status=status, body=body + (b"\n" if handler else b""),
                        headers={"Content-Type": ctype, **(headers or {})})


def compat_fault(status: int, message: str, fault: Fault | None) -> web.Response:
    """A status fault's answer on an OpenAI-compatible route (the provider's message for the status)."""
    return compat_error(status, message, headers=retry_after(status, fault))


class _OllamaFlavour(Flavour):
    def knows(self, model: str) -> bool:
        return resolve(model) is not None


# /v1/models and /v1/models/{model}: the installed models, owned by "library". (/v1/chat/completions is
# Ollama's own translation layer, fakes/ollama_openai.py: not OpenAI's service played with Ollama's names.)
OPENAI_FLAVOUR = _OllamaFlavour(
    NAME, {name: info["context_length"] for name, info in MODELS.items()}, check_auth=lambda request: None,
    owned_by="library",
)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/generate", generate)
    app.router.add_post("/api/embed", embed)
    app.router.add_get("/api/tags", tags)
    app.router.add_post("/api/show", show)
    app.router.add_get("/api/ps", ps)
    app.router.add_get("/api/version", version)
    from .ollama_openai import chat_completions  # Ollama's own Chat Completions layer (not OpenAI's service)

    app.router.add_post("/v1/chat/completions", chat_completions)
    serve_on_v1(app, OPENAI_FLAVOUR, chat=False)  # /v1/models, /v1/models/{model}
    from .ollama_openai import completions, embeddings

    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/completions", completions)
    from .ollama_responses import responses  # hook: responses (POST /v1/responses, stateless)

    app.router.add_post("/v1/responses", responses)
    from .ollama_anthropic import messages  # hook: anthropic (POST /v1/messages, Anthropic's Messages API)

    app.router.add_post("/v1/messages", messages)


SPEC = FakeSpec(
    name=NAME,
    base_path="",
    add_routes=add_routes,
    error_response=error_response,
    stream_error_frame=stream_error_frame,
    default_status_message=lambda status: _STATUS_MESSAGES.get(status, f"fake error {status}"),
)
