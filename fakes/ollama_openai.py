"""Ollama's OpenAI-compatible Chat Completions endpoint, ``POST /v1/chat/completions`` (and its
``POST /v1/embeddings`` and ``POST /v1/completions``, at the end), written from
Ollama's source: ``openai/openai.go`` (``ChatCompletionRequest``, ``FromChatRequest``,
``FromCompletionToolCall``, ``thinkFromReasoningEffort``, ``ToChatCompletion``, ``ToStreamChunks``,
``FinishChunk``, ``ToUsage``, ``NewError``), ``middleware/openai.go`` (``ChatMiddleware``, ``ChatWriter``)
and ``server/routes.go`` (``ChatHandler``, which answers it).

Ollama turns the request into an ``/api/chat`` request and the chat answer back into a Chat
Completions answer; the fake does the same, and takes the answer from the Ollama fake's own
``/api/chat`` decision, so a conversation gets the same text and the same counts on ``/api/chat``,
``/v1/chat/completions``, ``/v1/responses`` and ``/v1/messages``, as on a real Ollama.

What Ollama answers, and so the fake (where it differs from OpenAI's service):

* **Headers.** No ``x-ratelimit-*``, no ``x-request-id``, no ``openai-processing-ms``: a local server
  has no quota. ``Content-Type: application/json`` (the writer's), ``text/event-stream`` for a stream.
* **Body.** ``"id": "chatcmpl-<0-998>"``, ``"system_fingerprint": "fp_ollama"``, no ``service_tier``,
  ``refusal``, ``annotations`` or ``logprobs`` (unless asked); ``content`` is ``""`` beside tool calls;
  the thinking is ``message.reasoning``; ``finish_reason`` ``stop``, ``length`` or ``tool_calls``;
  ``usage`` is the chat's ``prompt_eval_count``/``eval_count`` (the thinking counted in
  ``completion_tokens``), no ``*_details``. Go's encoder writes it: UTF-8 as is, ``<``, ``>`` and ``&``
  escaped, a newline after the object.
* **Thinking.** A model with the ``thinking`` capability thinks unless told ``reasoning_effort``
  (or ``reasoning.effort``) ``"none"`` (``ChatHandler`` turns ``think`` on when the request leaves it
  unset); ``minimal`` → low, ``xhigh``/``ultra`` → max, anything else 400 ``invalid reasoning value``;
  asking a model without it to think is 400 ``"<model>" does not support thinking``.
* **Stream.** ``data: <chunk>`` frames: the first carries ``role``; thinking pieces are
  ``{"content": "", "reasoning": …}`` deltas, then the content pieces (or one ``tool_calls`` delta
  with ``content: ""``); a finish chunk with an empty delta; with ``stream_options.include_usage`` a
  chunk with ``choices: []`` and the usage; ``data: [DONE]``. A failure mid-stream (the chat handler's
  ``{"error": …}`` line) reaches the client as one chunk with an empty delta, and the stream ends.
* **Not read** (Go's decoder drops what the request type lacks): ``tool_choice``, ``n``,
  ``parallel_tool_calls``, ``user``, ``max_completion_tokens``, ``logit_bias`` …; and nothing is checked
  for range (``temperature: 7`` is taken).
* **Errors** are ``{"error": {"message", "type", "param": null, "code": null}}``, type
  ``invalid_request_error`` (400), ``not_found_error`` (404) or ``api_error``: a body Go cannot read into
  the request type (its own message: ``EOF``, ``json: cannot unmarshal number into Go struct field
  ChatCompletionRequest.model of type string`` …), no messages (``[] is too short - 'messages'``), a
  content part or tool-call arguments it cannot read, an image URL (only base64 data URIs) — 400 from
  the middleware (gin's ``application/json; charset=utf-8``); ``top_logprobs`` past 20, no ``model``, a
  model that is not installed (404 ``model '<name>' not found``), tools or thinking for a model
  without them, an embedding model — from the chat handler through the writer (``application/json``).
  A status fault (``fake.fail_next("ollama", "429", endpoint="chat")``) answers in the same shape.
"""

from __future__ import annotations

import base64
import binascii
import random
import time
from typing import Any

from aiohttp import web

from ._content import count_tokens, split_for_stream, stable_id
from ._embeddings import as_base64
from ._gojson import (
    ANY,
    NOT_AN_OBJECT,
    GoError,
    GoFloat32s,
    GoList,
    GoStruct,
    S,
    anon,
    go_json,
    go_quote,
    go_type_name,
    read_request,
    unmarshal,
)
from ._server import open_request, send_json, send_stream, state_of
from .ollama import (
    MODELS,
    NAME,
    ChatAnswer,
    _inputs,
    chat_answer,
    chat_chunks,
    embedding_dims,
    embedding_of,
    generate_answer,
    model_problem,
    resolve,
)
from .ollama import compat_error as _error
from .ollama import compat_fault as _fault_error
from .ollama_responses import _THINK, _TOOL_PARAMETERS, _decode_image

ENDPOINT = "chat"

_TOOL_CALL = GoStruct("ToolCall", "openai.ToolCall", {"id": S, "index": "int", "type": S,
                                                     "function": anon("name", "arguments")})
_MESSAGE = GoStruct("Message", "openai.Message", {
    "role": S, "content": ANY, "reasoning": S, "tool_calls": GoList(_TOOL_CALL, "[]openai.ToolCall"), "name": S,
    "tool_call_id": S})
_TOOL = GoStruct("Tool", "api.Tool", {"type": S, "items": ANY, "function": GoStruct(
    "ToolFunction", "api.ToolFunction", {"name": S, "description": S, "parameters": _TOOL_PARAMETERS})})
_REQUEST = GoStruct("ChatCompletionRequest", "openai.ChatCompletionRequest", {
    "model": S, "messages": GoList(_MESSAGE, "[]openai.Message"), "stream": "bool",
    "stream_options": GoStruct("StreamOptions", "openai.StreamOptions", {"include_usage": "bool"}),
    "max_tokens": "int", "seed": "int", "stop": ANY, "temperature": "float64", "frequency_penalty": "float64",
    "presence_penalty": "float64", "top_p": "float64",
    "response_format": GoStruct("ResponseFormat", "openai.ResponseFormat", {
        "type": S, "json_schema": GoStruct("JsonSchema", "openai.JsonSchema", {"schema": ANY})}),
    "tools": GoList(_TOOL, "[]api.Tool"), "reasoning": GoStruct("Reasoning", "openai.Reasoning", {"effort": S}),
    "reasoning_effort": S, "logprobs": "bool", "top_logprobs": "int", "_debug_render_only": "bool",
})


# -- ChatMiddleware: bind, then FromChatRequest ------------------------------------------------------


def _properties_problem(body: dict[str, Any]) -> str | None:
    """A tool's ``parameters.properties`` that is not an object: the ordered map's own reader stops Go."""
    for t in body.get("tools") or () if isinstance(body.get("tools"), list) else ():
        fn = t.get("function") if isinstance(t, dict) else None
        params = fn.get("parameters") if isinstance(fn, dict) else None
        props = next((v for k, v in params.items() if k.lower() == "properties"), None) if isinstance(params, dict) else None
        if props is not None and not isinstance(props, dict):
            return NOT_AN_OBJECT
    return None


def parse_request(raw: bytes) -> dict[str, Any]:
    """``ShouldBindJSON`` into ``openai.ChatCompletionRequest``: the request with Go's field names."""
    return read_request(raw, _REQUEST, _properties_problem)


def _tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``FromCompletionToolCall``: each call's arguments read into an (ordered) object."""
    out = []
    for tc in calls:
        fn = tc.get("function") or {}
        try:
            args = unmarshal(fn.get("arguments", ""))
        except GoError:
            raise GoError("invalid tool call arguments") from None
        if args is not None and not isinstance(args, dict):
            raise GoError("invalid tool call arguments")
        out.append({"id": tc.get("id", ""), "function": {"index": 0, "name": fn.get("name", ""), "arguments": args or {}}})
    return out


def _image(part: dict[str, Any]) -> bytes:
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str):
        raise GoError("invalid message format")
    return _decode_image(url)


def _audio(part: dict[str, Any]) -> bytes:
    audio = part.get("input_audio")
    if not isinstance(audio, dict):
        raise GoError("invalid input_audio format")
    data = audio.get("data")
    if not isinstance(data, str):
        raise GoError("invalid input_audio format: missing data")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise GoError(f"invalid input_audio base64 data: {e}") from None


def _tool_name(msgs: list[dict[str, Any]], call_id: str) -> str:
    """``nameFromToolCallID``: the name of the call ``call_id`` answers (the last one wins)."""
    for m in reversed(msgs):
        for tc in m.get("tool_calls") or ():
            if tc.get("id") == call_id:
                return str((tc.get("function") or {}).get("name", ""))
    return ""


def to_messages(req: dict[str, Any]) -> list[dict[str, Any]]:
    """``FromChatRequest``'s messages, as ``api.Message`` objects: a content array becomes one message per
    part (its text, or its image), the tool calls going on the last of them."""
    sent = req.get("messages") or []
    msgs: list[dict[str, Any]] = []
    for m in sent:
        role = m.get("role", "")
        name = ""
        if role.lower() == "tool":
            name = m.get("name", "") or (_tool_name(sent, m["tool_call_id"]) if m.get("tool_call_id") else "")
        content = m.get("content")
        extra = {"tool_name": name, "tool_call_id": m.get("tool_call_id", "")}
        if isinstance(content, str):
            msgs.append({"role": role, "content": content, "thinking": m.get("reasoning", ""),
                         "tool_calls": _tool_calls(m.get("tool_calls") or []), **extra})
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    raise GoError("invalid message format")
                kind = part.get("type")
                if kind == "text":
                    if not isinstance(part.get("text"), str):
                        raise GoError("invalid message format")
                    msgs.append({"role": role, "content": part["text"]})
                elif kind in ("image_url", "input_audio"):
                    msgs.append({"role": role, "content": "", "images": [_image(part) if kind == "image_url" else _audio(part)]})
                else:
                    raise GoError("invalid message format")
            if msgs and m.get("tool_calls"):
                msgs[-1].update(tool_calls=_tool_calls(m["tool_calls"]), thinking=m.get("reasoning", ""), **extra)
        else:
            if "tool_calls" not in m:  # content is optional only beside tool calls
                raise GoError(f"invalid message content type: {go_type_name(content)}")
            msgs.append({"role": role, "content": "", "thinking": m.get("reasoning", ""),
                         "tool_calls": _tool_calls(m["tool_calls"]), "tool_call_id": m.get("tool_call_id", "")})
    return msgs


def chat_request(req: dict[str, Any], msgs: list[dict[str, Any]], think: bool | str | None) -> dict[str, Any]:
    """The rest of ``FromChatRequest``: the ``/api/chat`` body (options, format, tools, think)."""
    options: dict[str, Any] = {}
    stop = req.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = [s for s in stop if isinstance(s, str)]
    if req.get("max_tokens") is not None:
        options["num_predict"] = req["max_tokens"]
    body: dict[str, Any] = {"model": req.get("model", ""), "messages": msgs, "options": options,
                            "stream": bool(req.get("stream"))}
    rf = req.get("response_format") or {}
    kind = str(rf.get("type", "")).strip().lower()
    if kind == "json_object":
        body["format"] = "json"
    elif kind == "json_schema" and rf.get("json_schema") is not None:
        body["format"] = rf["json_schema"].get("schema")
    if req.get("tools"):
        body["tools"] = req["tools"]
    if think is not None:
        body["think"] = think
    return body


# -- ChatWriter: the answer as Chat Completions -------------------------------------------------------


def _tool_calls_out(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ToToolCalls``: the arguments marshalled back to text."""
    return [{"id": c.get("id", ""), "index": c["function"].get("index", 0), "type": "function",
             "function": {"name": c["function"]["name"], "arguments": go_json(c["function"]["arguments"] or {}).decode()}}
            for c in calls]


def _finish(a: ChatAnswer, tool_call_sent: bool) -> str:
    reason = a.done_reason or "stop"
    return "tool_calls" if reason == "stop" and tool_call_sent else reason


def _usage(a: ChatAnswer) -> dict[str, int]:
    return {"prompt_tokens": a.prompt_tokens, "completion_tokens": a.eval_tokens,
            "total_tokens": a.prompt_tokens + a.eval_tokens}


def to_completion(cid: str, created: int, model: str, a: ChatAnswer) -> dict[str, Any]:
    """``ToChatCompletion``."""
    message: dict[str, Any] = {"role": "assistant", "content": a.text}
    if a.thinking:
        message["reasoning"] = a.thinking
    if a.calls:
        message["tool_calls"] = _tool_calls_out(a.calls)
    reason = a.done_reason
    if reason == "stop" and a.calls:
        reason = "tool_calls"
    return {"id": cid, "object": "chat.completion", "created": created, "model": model,
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": message, "finish_reason": reason or None}], "usage": _usage(a)}


def stream_frames(cid: str, created: int, model: str, a: ChatAnswer, include_usage: bool) -> list[bytes]:
    """``ChatWriter.writeResponse`` over the chat's chunks: role first, a thinking piece or a content
    piece or the tool calls per chunk, the finish chunk, the usage chunk when asked, ``[DONE]``."""
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_ollama"}

    def frame(obj: dict[str, Any]) -> bytes:
        return b"data: " + go_json(obj) + b"\n\n"

    out: list[bytes] = []
    sent_any = tool_call_sent = False
    for chunk in chat_chunks(a):
        message = chunk.get("message", chunk)
        empty = not (message.get("content") or message.get("thinking") or message.get("tool_calls"))
        if not (chunk.get("done") and sent_any and empty):  # the metrics-only trailer adds no chunk
            delta: dict[str, Any] = {"role": "assistant"} if not sent_any else {}
            delta["content"] = message.get("content", "")
            if message.get("thinking"):
                delta["reasoning"] = message["thinking"]
            if message.get("tool_calls"):
                delta["tool_calls"] = _tool_calls_out(message["tool_calls"])
                tool_call_sent = True
            out.append(frame({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
            sent_any = True
        if chunk.get("done"):
            out.append(frame({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": _finish(a, tool_call_sent)}]}))
            if include_usage:
                out.append(frame({**head, "choices": [], "usage": _usage(a)}))
            out.append(b"data: [DONE]\n\n")
    return out


# -- the handler ----------------------------------------------------------------------------------------


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions`` on the Ollama fake."""
    raw, fault, early = await open_request(request, ENDPOINT, None, error_response=_fault_error)
    if early is not None:
        return early
    try:  # ChatMiddleware: bind, check, convert (its 400s)
        req = parse_request(raw)
        if not req.get("messages"):
            raise GoError("[] is too short - 'messages'")
        msgs = to_messages(req)
        effort = (req.get("reasoning") or {}).get("effort", "") if "reasoning" in req else req.get("reasoning_effort", "")
        if effort not in _THINK:
            raise GoError(f'invalid reasoning value: {go_quote(effort)} (must be "minimal", "low", "medium", '
                           '"high", "xhigh", "ultra", "max", or "none")')
    except GoError as e:
        return _error(400, str(e), handler=False)
    # ChatHandler: the model, its capabilities, then the answer (its errors pass through writeError)
    if not 0 <= req.get("top_logprobs", 0) <= 20:
        return _error(400, "top_logprobs must be between 0 and 20")
    model = req.get("model", "")
    full = model_problem(request, model)
    if isinstance(full, tuple):
        return _error(*full)
    caps = MODELS[full]["capabilities"]
    think = _THINK[effort]
    if "thinking" not in caps and think not in (None, False):
        return _error(400, f"{go_quote(model)} does not support thinking")
    if "completion" not in caps:
        return _error(400, f"{go_quote(model)} does not support chat")
    if req.get("tools") and "tools" not in caps:
        return _error(400, f"registry.ollama.ai/library/{full} does not support tools")
    chat = chat_request(req, msgs, think)
    # no message left (content arrays with no parts): ChatHandler only loads the model
    answer = chat_answer(chat, "thinking" in caps and think is not False) if msgs else ChatAnswer(done_reason="load")
    cid = f"chatcmpl-{random.Random(stable_id(raw.decode('utf-8', 'replace'))).randrange(999)}"  # rand.Intn(999)
    created = int(time.time())
    if not req.get("stream"):
        return await send_json(request, to_completion(cid, created, model, answer), fault,
                               encode=lambda payload: go_json(payload) + b"\n")
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    frames = stream_frames(cid, created, model, answer, include_usage)
    # the chat handler's mid-stream {"error": …} line, as the writer turns it into a chunk (an empty delta)
    broken = go_json({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                      "system_fingerprint": "fp_ollama",
                      "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": None}]})
    return await send_stream(request, frames, content_type="text/event-stream", fault=fault,
                             error_frame=lambda: b"data: " + broken + b"\n\n", cache_control=None)


# -- POST /v1/embeddings: EmbeddingsMiddleware, EmbedHandler, EmbedWriter (ToEmbeddingList) ---------------

_EMBED_REQUEST = GoStruct("EmbedRequest", "openai.EmbedRequest",
                         {"input": ANY, "model": S, "dimensions": "int", "encoding_format": S})


async def embeddings(request: web.Request) -> web.StreamResponse:
    """``POST /v1/embeddings`` on the Ollama fake: ``input`` a string or a list of strings, ``float`` or
    ``base64`` vectors; the counts are the native ``/api/embed``'s."""
    raw, fault, early = await open_request(request, "openai_embeddings", None, error_response=_fault_error)
    if early is not None:
        return early
    try:
        req = read_request(raw, _EMBED_REQUEST)
    except GoError as e:
        return _error(400, str(e), handler=False)
    fmt = req.get("encoding_format", "")
    if fmt and fmt.lower() not in ("float", "base64"):
        return _error(400, f"Invalid value for 'encoding_format' = {fmt}. Supported values: ['float', 'base64'].",
                      handler=False)
    value = req.get("input")
    if value == "":
        value = [""]
    if value is None or value == []:
        return _error(400, "invalid input", handler=False)
    model = req.get("model", "")
    full = resolve(model) if model else None
    if full is None or model in state_of(request).unknown_models.get(NAME, ()):
        return _error(404, f"model '{model}' not found")
    inputs = _inputs(value)
    if inputs is None:
        return _error(400, "invalid input type")
    if "embedding" not in MODELS[full]["capabilities"]:
        return _error(400, "this model does not support embeddings")
    dims = embedding_dims(MODELS[full], req.get("dimensions", 0))
    tokens = sum(count_tokens(t) for t in inputs)
    as_text = fmt.lower() == "base64"
    data = [{"object": "embedding", "embedding": as_base64(v) if as_text else GoFloat32s(v), "index": i}
            for i, v in enumerate(embedding_of(t, dims) for t in inputs)]
    payload = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    return await send_json(request, payload, fault, encode=lambda p: go_json(p) + b"\n")


# -- POST /v1/completions: CompletionsMiddleware, GenerateHandler, CompleteWriter -----------------------

_COMPLETION_REQUEST = GoStruct("CompletionRequest", "openai.CompletionRequest", {
    "model": S, "prompt": S, "frequency_penalty": "float32", "max_tokens": "int", "presence_penalty": "float32",
    "seed": "int", "stop": ANY, "stream": "bool",
    "stream_options": GoStruct("StreamOptions", "openai.StreamOptions", {"include_usage": "bool"}),
    "temperature": "float32", "top_p": "float32", "suffix": S, "logprobs": "int", "_debug_render_only": "bool",
})


def _stops(stop: Any) -> list[str] | None:
    """``FromCompleteRequest``'s stop sequences (a string, or an array of strings only)."""
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        for s in stop:
            if not isinstance(s, str):
                raise GoError(f"invalid type for 'stop' field: {go_type_name(s)}")
        return list(stop)
    return None


async def completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/completions`` (legacy text completions) on the Ollama fake: ``/api/generate``'s answer
    (a thinking model thinks, as ``GenerateHandler`` defaults it, and the completion counts the thinking;
    its text is the answer only) as ``text_completion`` objects."""
    raw, fault, early = await open_request(request, "openai_completions", None, error_response=_fault_error)
    if early is not None:
        return early
    try:
        req = read_request(raw, _COMPLETION_REQUEST)
        stops = _stops(req.get("stop"))
    except GoError as e:
        return _error(400, str(e), handler=False)
    model = req.get("model", "")
    full = resolve(model) if model else None
    if full is None or model in state_of(request).unknown_models.get(NAME, ()):
        return _error(404, f"model '{model}' not found")
    caps = MODELS[full]["capabilities"]
    cid = f"cmpl-{random.Random(stable_id(raw.decode('utf-8', 'replace'))).randrange(999)}"  # rand.Intn(999)
    created = int(time.time())
    prompt = req.get("prompt", "")
    if not prompt:  # an empty prompt only loads the model
        text, thinking, reason, prompt_tokens, eval_tokens = "", "", "load", 0, 0
    elif "completion" not in caps:
        return _error(400, f"{go_quote(model)} does not support generate")
    else:
        options: dict[str, Any] = {"stop": stops} if stops is not None else {}
        if req.get("max_tokens") is not None:
            options["num_predict"] = req["max_tokens"]
        decision, prompt_tokens, eval_tokens = generate_answer({"prompt": prompt, "options": options},
                                                               "thinking" in caps)
        text, thinking = decision.text, decision.reasoning
        reason = "length" if decision.finish == "length" else "stop"
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": eval_tokens, "total_tokens": prompt_tokens + eval_tokens}
    if not req.get("stream"):
        payload = {"id": cid, "object": "text_completion", "created": created, "model": model,
                   "system_fingerprint": "fp_ollama",
                   "choices": [{"text": text, "index": 0, "finish_reason": reason}], "usage": usage}
        return await send_json(request, payload, fault, encode=lambda p: go_json(p) + b"\n")
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))

    def chunk(piece: str, finish: str | None) -> bytes:
        c: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created,
                             "choices": [{"text": piece, "index": 0, "finish_reason": finish}], "model": model,
                             "system_fingerprint": "fp_ollama"}
        if include_usage:  # the writer gives every chunk a zero usage when usage is asked for
            c["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        return b"data: " + go_json(c) + b"\n\n"

    # one chunk per /api/generate line: the thinking lines carry no text, then the answer, then done
    frames = [chunk("", None) for _ in split_for_stream(thinking)]
    frames += [chunk(piece, None) for piece in split_for_stream(text)]
    frames.append(chunk("", reason))
    if include_usage:
        frames.append(b"data: " + go_json({"id": cid, "object": "text_completion", "created": created, "choices": [],
                                           "model": model, "system_fingerprint": "fp_ollama", "usage": usage}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return await send_stream(request, frames, content_type="text/event-stream", fault=fault,
                             error_frame=lambda: chunk("", None), cache_control=None)
