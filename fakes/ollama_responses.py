"""Ollama's OpenAI-compatible Responses endpoint, ``POST /v1/responses`` (Ollama v0.13.3 and later),
written from Ollama's source: ``openai/responses.go`` (the request types, ``FromResponsesRequest``,
``ToResponse`` and ``ResponsesStreamConverter``), ``middleware/openai.go`` (``ResponsesMiddleware`` and
``ResponsesWriter``), ``openai/openai.go`` (``NewError``, ``thinkFromReasoningEffort``,
``decodeImageURL``) and ``server/routes.go`` (the route, and ``ChatHandler``, which answers it).

Ollama turns the request into an ``/api/chat`` request and the chat answer back into a Responses
answer; the fake does the same conversion in Python and takes its answer from the Ollama fake's own
``/api/chat`` answer (:func:`.ollama.chat_answer`), so the same conversation gets the same text and the
same token counts here, on ``/api/chat`` and on ``/v1/chat/completions``.

What Ollama does, and so the fake:

* **Stateless.** ``previous_response_id``, ``store`` and ``metadata`` are not fields of Ollama's
  request type: they are ignored (the answer says ``"previous_response_id": null``, ``"store": false``,
  ``"metadata": {}``), ``conversation`` is read and ignored, and there is no ``GET``/``DELETE
  /v1/responses/{id}`` (404 ``404 page not found``). Each request carries its whole conversation.
* **Input.** A string (one user message), or items: messages (``content`` a string or
  ``input_text``/``output_text``/``input_image`` parts; ``input_file`` is refused), ``function_call``
  (becomes an assistant tool call), ``function_call_output`` (a ``tool`` message answering its
  ``call_id``), ``reasoning`` (its ``encrypted_content`` becomes the next assistant message's thinking).
  ``instructions`` is a leading system message.
* **Options.** ``temperature`` (default 1.0), ``top_p``, ``max_output_tokens`` (``num_predict``: the
  answer is cut, and still ``"status": "completed"``: Ollama never reports ``incomplete``).
  ``text.format`` ``json_schema`` with a ``schema`` constrains the answer to that schema; any other
  format (``json_object`` included) is only echoed. ``tool_choice`` is not read (always echoed
  ``"auto"``): the model calls a tool when it decides to (here: when the prompt names it).
* **Thinking.** ``reasoning.effort`` maps to ``think`` (``none`` → off, ``minimal`` → low, ``xhigh``
  and ``ultra`` → max, others as named; anything else 400). A model with the ``thinking`` capability
  thinks unless told ``none``, and its answer starts with a ``reasoning`` item whose summary text and
  ``encrypted_content`` are the thinking in plain text; asking a model without it to think is 400
  ``"<model>" does not support thinking``.
* **Answer.** Non-streamed: one JSON object (``output``: the reasoning item, then the function calls or
  the message). Streamed (``"stream": true``): ``event: <type>`` / ``data: <json>`` frames, each
  event with a ``sequence_number`` from 0, no ``[DONE]``: ``response.created``,
  ``response.in_progress``, then per item ``response.output_item.added`` … ``.done`` (with the
  reasoning summary text, text and content-part, or function-call-argument events between), then
  ``response.completed`` carrying the whole output and the usage. Usage is the chat's
  ``prompt_eval_count``/``eval_count``; ``reasoning_tokens`` and ``cached_tokens`` are always 0 (as
  Ollama reports them).
* **Errors** are OpenAI-shaped, ``{"error": {"message", "type", "param": null, "code": null}}`` with
  type ``invalid_request_error`` (400), ``not_found_error`` (404) or ``api_error`` (others)
  (``NewError``): a body Go's ``encoding/json`` cannot read into the request type (its own message,
  e.g. ``json: cannot unmarshal number into Go struct field ResponsesRequest.model of type string``,
  ``EOF`` for an empty body), a malformed input item, an invalid ``reasoning.effort``, an image URL
  (only base64 data URIs are read) — 400; no ``model`` → 400 ``model is required``; a model that is
  not installed (or declared unknown with ``fake.models("ollama", unknown=[…])``) → 404
  ``model '<name>' not found``; tools for a model without tool support, or an embedding model → 400.
  A request without messages only loads the model: an empty answer with zero usage.

Not played: the built-in ``web_search`` tool (Ollama runs searches on ollama.com for it). A
``web_search`` declaration is echoed in ``tools`` but never offered to the model, so the answer is
one that chose not to search; ``web_search_call`` items in the input are read and ignored, as Ollama
ignores them.

Requests are recorded (and faults queued, ``fake.fail_next("ollama", …, endpoint="responses")``)
under ``ollama``, like the other Ollama routes; a fault's error status arrives in the shape above
(Ollama's OpenAI layer rewrites every error), and a mid-stream failure just ends the stream (Ollama's
writer drops the chat's error line: no ``response.completed`` follows).
"""

from __future__ import annotations

import base64
import binascii
import random
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ._content import stable_id
from ._gojson import (
    ANY,
    MAP,
    NOT_AN_OBJECT,
    Decoder,
    GoError,
    GoList,
    GoStruct,
    S,
    anon,
    decode_body,
    go_json,
    go_quote,
    json_kind,
    strict_decode,
    unmarshal,
)
from ._server import open_request, send_json, send_stream, state_of
from .ollama import MODELS, NAME, ChatAnswer, chat_answer, chat_chunks, resolve
from .ollama import compat_error as _error
from .ollama import compat_fault as _fault_error

__all__ = ["responses"]

ENDPOINT = "responses"


_PEEK_ITEM = anon("type", "role")
_PEEK_CONTENT = anon("type")
_CONTENT = {
    "input_text": GoStruct("ResponsesTextContent", "openai.ResponsesTextContent", {"type": S, "text": S}),
    "input_image": GoStruct("ResponsesImageContent", "openai.ResponsesImageContent",
                           {"type": S, "detail": S, "file_id": S, "image_url": S}),
    "output_text": GoStruct("ResponsesOutputTextContent", "openai.ResponsesOutputTextContent",
                           {"type": S, "text": S}),
    "input_file": GoStruct("ResponsesFileContent", "openai.ResponsesFileContent",
                          {"type": S, "file_data": S, "file_id": S, "file_url": S, "filename": S}),
}
_MESSAGE = GoStruct("", 'struct { Type string "json:\\"type\\""; Role string "json:\\"role\\""; '
                   'Content json.RawMessage "json:\\"content\\"" }', {"type": S, "role": S, "content": ANY})
_FUNCTION_CALL = GoStruct("ResponsesFunctionCall", "openai.ResponsesFunctionCall",
                         {"id": S, "type": S, "call_id": S, "name": S, "arguments": S})
_CALL_OUTPUT = GoStruct("", 'struct { Type string "json:\\"type\\""; CallID string "json:\\"call_id\\""; '
                       'Output json.RawMessage "json:\\"output\\"" }', {"type": S, "call_id": S, "output": ANY})
_SUMMARY = GoStruct("ResponsesReasoningSummary", "openai.ResponsesReasoningSummary", {"type": S, "text": S})
_REASONING_ITEM = GoStruct("ResponsesReasoningInput", "openai.ResponsesReasoningInput",
                          {"id": S, "type": S, "summary": GoList(_SUMMARY, "[]openai.ResponsesReasoningSummary"),
                           "encrypted_content": S})
_WEB_SEARCH_CALL = GoStruct("ResponsesWebSearchCall", "openai.ResponsesWebSearchCall", {
    "id": S, "type": S, "status": S,
    "action": GoStruct("ResponsesWebSearchAction", "openai.ResponsesWebSearchAction", {"type": S, "query": S})})
_TOOL = GoStruct("ResponsesTool", "openai.ResponsesTool",
                {"type": S, "name": S, "description": S, "strict": "bool", "parameters": MAP})
_TOOL.fields["tools"] = GoList(_TOOL, "[]openai.ResponsesTool")
_REQUEST = GoStruct("ResponsesRequest", "openai.ResponsesRequest", {
    "model": S, "background": "bool", "conversation": ANY, "include": GoList(S, "[]string"), "input": ANY,
    "instructions": S, "max_output_tokens": "int",
    "reasoning": GoStruct("ResponsesReasoning", "openai.ResponsesReasoning",
                         {"effort": S, "generate_summary": S, "summary": S}),
    "temperature": "float64",
    "text": GoStruct("ResponsesText", "openai.ResponsesText", {"format": GoStruct(
        "ResponsesTextFormat", "openai.ResponsesTextFormat", {"type": S, "name": S, "schema": ANY, "strict": "bool"})}),
    "top_p": "float64", "truncation": S, "tools": GoList(_TOOL, "[]openai.ResponsesTool"), "stream": "bool",
})
_TOOL_PARAMETERS = GoStruct("ToolFunctionParameters", "api.ToolFunctionParameters",
                           {"type": S, "$defs": ANY, "items": ANY, "required": GoList(S, "[]string"),
                            "properties": ANY})
_RAW_ARRAY = "json: cannot unmarshal {} into Go value of type []json.RawMessage"
def _content_part(raw: Any) -> dict[str, Any]:
    """``unmarshalResponsesContent``: one content part, by its ``type``."""
    kind = strict_decode(raw, _PEEK_CONTENT) or {}
    spec = _CONTENT.get(kind.get("type", ""))
    if spec is None:
        raise GoError(f"unknown content type: {kind.get('type', '')}")
    part: dict[str, Any] = strict_decode(raw, spec) or {}
    part["type"] = kind.get("type", "")
    return part


def _parts(raw: Any, what: str, label: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise GoError(f"{what} must be a string or array: " + _RAW_ARRAY.format(json_kind(raw)))
    out = []
    for j, p in enumerate(raw):
        try:
            out.append(_content_part(p))
        except GoError as e:
            raise GoError(f"{label}[{j}]: {e}") from None
    return out


def _input_item(raw: Any) -> dict[str, Any]:
    """``unmarshalResponsesInputItem``: one input item, ``{"role", "content"}`` shorthand included."""
    peek = strict_decode(raw, _PEEK_ITEM) or {}
    kind = peek.get("type", "") or ("message" if peek.get("role") else "")
    if kind == "message":
        aux = strict_decode(raw, _MESSAGE) or {}
        content = aux.get("content", ...)
        if content is ...:
            parts: list[dict[str, Any]] = []
        elif content is None or isinstance(content, str):
            parts = [{"type": "input_text", "text": content or ""}]
        else:
            parts = _parts(content, "content", "content")
        return {"type": "message", "role": peek.get("role", ""), "content": parts}
    if kind == "function_call":
        return {**(strict_decode(raw, _FUNCTION_CALL) or {}), "type": "function_call"}
    if kind == "function_call_output":
        aux = strict_decode(raw, _CALL_OUTPUT) or {}
        output, items = aux.get("output"), None
        if output is not None and not isinstance(output, str):
            items = _parts(output, "output", "output")
            output = "".join(p.get("text", "") for p in items if p["type"] in ("input_text", "output_text"))
        return {"type": kind, "call_id": aux.get("call_id", ""), "output": output or "", "items": items}
    if kind == "reasoning":
        return {**(strict_decode(raw, _REASONING_ITEM) or {}), "type": kind}
    if kind == "web_search_call":
        return {**(strict_decode(raw, _WEB_SEARCH_CALL) or {}), "type": kind}
    if not kind:
        raise GoError("input item missing required 'type' field")
    raise GoError(f"unknown input item type: {go_quote(kind)}")


def parse_request(body: Any) -> tuple[dict[str, Any], str | list[dict[str, Any]]]:
    """``ShouldBindJSON`` into ``openai.ResponsesRequest``: the request (Go's field names) and its input
    (a string, or the parsed items). An error of ``ResponsesInput.UnmarshalJSON`` stops decoding and is
    the one returned; otherwise the first type error anywhere is."""
    if body is not None and not isinstance(body, dict):
        raise GoError(f"json: cannot unmarshal {json_kind(body)} into Go value of type openai.ResponsesRequest")
    d = Decoder()
    req = d.decode(body or {}, _REQUEST)
    raw = req.get("input")
    items: str | list[dict[str, Any]] = ""
    if isinstance(raw, str):
        items = raw
    elif raw is not None:
        if not isinstance(raw, list):
            raise GoError("input must be a string or array: " + _RAW_ARRAY.format(json_kind(raw)))
        items = []
        for i, item in enumerate(raw):
            try:
                items.append(_input_item(item))
            except GoError as e:
                raise GoError(f"input[{i}]: {e}") from None
    if d.error is not None:
        raise GoError(d.error)
    return req, items


# -- FromResponsesRequest ----------------------------------------------------------------------------

_THINK = {"": None, "none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high", "max": "max",
          "xhigh": "max", "ultra": "max"}


def _decode_image(url: str) -> bytes:
    """``decodeImageURL``: only base64 data URIs (jpeg, jpg, png, webp, or no type) are read."""
    if url.startswith(("http://", "https://")):
        raise GoError("image URLs are not currently supported, please use base64 encoded data instead")
    for prefix in ("data:;base64,", *(f"data:image/{t};base64," for t in ("jpeg", "jpg", "png", "webp"))):
        if url.startswith(prefix):
            try:
                return base64.b64decode(url[len(prefix):].replace("\r", "").replace("\n", ""), validate=True)
            except (binascii.Error, ValueError):
                break
    raise GoError("invalid image input")


def _content_of(parts: list[dict[str, Any]]) -> tuple[str, int]:
    """``convertResponsesContent``: the text, and how many images."""
    text, images = "", 0
    for p in parts:
        if p["type"] in ("input_text", "output_text"):
            text += p.get("text", "")
        elif p["type"] == "input_image" and p.get("image_url"):
            _decode_image(p["image_url"])
            images += 1
        elif p["type"] == "input_file":
            raise GoError("file inputs are not currently supported")
    return text, images


def _arguments(text: str) -> dict[str, Any]:
    """``json.Unmarshal`` into ``api.ToolCallFunctionArguments`` (an ordered map)."""
    try:
        args = unmarshal(text)
    except GoError as e:
        raise GoError(f"failed to parse function call arguments: {e}") from None
    if args is not None and not isinstance(args, dict):
        raise GoError(f"failed to parse function call arguments: {NOT_AN_OBJECT}")
    return args or {}


def to_messages(req: dict[str, Any], items: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``FromResponsesRequest``'s messages, as ``api.Message`` objects (``tool_calls`` with ``id``,
    ``name`` and ``arguments``; ``images`` counted)."""
    msgs: list[dict[str, Any]] = []
    if req.get("instructions"):
        msgs.append({"role": "system", "content": req["instructions"]})
    if isinstance(items, str):
        if items:
            msgs.append({"role": "user", "content": items})
        return msgs
    pending = ""
    for i, item in enumerate(items):
        kind = item["type"]
        if kind == "reasoning":
            pending = item.get("encrypted_content", "")
        elif kind == "message":
            text, images = _content_of(item["content"])
            msg: dict[str, Any] = {"role": item["role"], "content": text, "images": images}
            if msg["role"] == "assistant" and pending:
                msg["thinking"], pending = pending, ""
            nxt = items[i + 1] if i + 1 < len(items) else None
            answered = nxt["call_id"] if nxt and nxt["type"] == "function_call_output" else ""
            last = msgs[-1] if msgs else None
            if (msg["role"] == "assistant" and answered and last and last["role"] == "assistant"
                    and any(c["id"] == answered for c in last.get("tool_calls") or ())):
                # an assistant message replayed between a call and its output joins the call's message
                if last["content"] and msg["content"]:
                    last["content"] += "\n"
                last["content"] += msg["content"]
                last["images"] = last.get("images", 0) + images
                if msg.get("thinking"):
                    last["thinking"] = msg["thinking"]
                continue
            msgs.append(msg)
        elif kind == "function_call":
            args = _arguments(item["arguments"]) if item.get("arguments") else {}
            call = {"id": item.get("call_id", ""), "name": item.get("name", ""), "arguments": args}
            if msgs and msgs[-1]["role"] == "assistant":
                msgs[-1].setdefault("tool_calls", []).append(call)
                target = msgs[-1]
            else:
                target = {"role": "assistant", "content": "", "tool_calls": [call]}
                msgs.append(target)
            if pending:
                target["thinking"], pending = pending, ""
        elif kind == "function_call_output":
            text, images = _content_of(item["items"]) if item["items"] else (item["output"], 0)
            msgs.append({"role": "tool", "content": text, "images": images, "tool_call_id": item["call_id"]})
    if pending:
        msgs.append({"role": "assistant", "content": "", "thinking": pending})
    return msgs


def _check_parameters(params: dict[str, Any] | None) -> None:
    """``convertTool``: the parameters as ``api.ToolFunctionParameters`` (its direct fields' types, and
    ``properties`` an object)."""
    if params is None:
        return
    try:
        # Go marshals the map (keys sorted) and reads it back; properties' own reader fails first
        props = next((v for k, v in params.items() if k.lower() == "properties"), None)
        if props is not None and not isinstance(props, dict):
            raise GoError(NOT_AN_OBJECT)
        strict_decode(_sorted(params), _TOOL_PARAMETERS)
    except GoError as e:
        raise GoError(f"failed to unmarshal tool parameters: {e}") from None


def to_tools(declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The function tools offered to the model: namespace members flattened to ``namespace.member``;
    the built-in ``web_search`` (and a function of that name beside it) left out — not played here."""
    web_search = any(t.get("type") == "web_search" for t in declared)

    def expand(t: dict[str, Any]) -> list[dict[str, Any]]:
        if t.get("type") != "namespace":
            _check_parameters(t.get("parameters"))
            fn: dict[str, Any] = {"name": t.get("name", "")}
            if t.get("description"):
                fn["description"] = t["description"]
            if t.get("parameters") is not None:
                fn["parameters"] = t["parameters"]
            return [{"type": t.get("type", ""), "function": fn}]
        out = []
        ns = t.get("name", "")
        for member in t.get("tools") or ():
            for tool in expand(member):
                if ns and not tool["function"]["name"].startswith(ns + "."):
                    tool["function"]["name"] = f"{ns}.{tool['function']['name']}"
                out.append(tool)
        return out

    tools = []
    for t in declared:
        if t.get("type") == "web_search":
            continue
        tools += [x for x in expand(t) if not (web_search and x["function"]["name"] == "web_search")]
    return tools


# -- the answer ---------------------------------------------------------------------------------------


def _go_float(v: float) -> float | int:
    """A float64 as Go's encoder writes it (``1``, not ``1.0``)."""
    return int(v) if float(v).is_integer() and abs(v) < 1e21 else float(v)


def _sorted(v: Any) -> Any:
    """A Go ``map[string]any`` as ``json.Marshal`` writes it: keys sorted, at every level."""
    if isinstance(v, dict):
        return {k: _sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted(x) for x in v]
    return v


class _Raw:
    """A ``json.RawMessage`` inside a map: written as sent, never sorted."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _map(v: Any) -> Any:
    """:func:`_sorted` that leaves :class:`_Raw` values as they came."""
    if isinstance(v, _Raw):
        return v.value
    if isinstance(v, dict):
        return {k: _map(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_map(x) for x in v]
    return v


def _echo_tool(t: dict[str, Any]) -> dict[str, Any]:
    """A declared tool as ``ToResponse`` writes ``openai.ResponsesTool`` back."""
    out: dict[str, Any] = {"type": t.get("type", ""), "name": t.get("name", ""), "description": t.get("description"),
                           "strict": t.get("strict"),
                           "parameters": _sorted(t["parameters"]) if t.get("parameters") is not None else None}
    if t.get("tools"):
        out["tools"] = [_echo_tool(m) for m in t["tools"]]
    return out


def _text_format(req: dict[str, Any]) -> dict[str, Any]:
    fmt = (req.get("text") or {}).get("format")
    if fmt is None:
        return {"type": "text"}
    out: dict[str, Any] = {"type": fmt.get("type", "")}
    if fmt.get("name"):
        out["name"] = fmt["name"]
    if "schema" in fmt:
        out["schema"] = fmt["schema"]
    if "strict" in fmt:
        out["strict"] = fmt["strict"]
    return out


def _arguments_text(args: dict[str, Any]) -> str:
    return go_json(args).decode()


def to_response(model: str, response_id: str, item_id: str, answer: ChatAnswer, req: dict[str, Any],
                created: int) -> dict[str, Any]:
    """``ToResponse`` (and the ``completed_at`` the writer sets): the non-streamed body."""
    output: list[dict[str, Any]] = []
    if answer.thinking:
        output.append({"id": f"rs_{response_id}", "type": "reasoning",
                       "summary": [{"type": "summary_text", "text": answer.thinking}],
                       "encrypted_content": answer.thinking})
    if answer.calls:
        output += [{"id": f"fc_{response_id}_{i}", "type": "function_call", "status": "completed",
                    "call_id": c["id"], "name": c["name"], "arguments": _arguments_text(c["arguments"])}
                   for i, c in enumerate(answer.calls)]
    else:
        output.append({"id": item_id, "type": "message", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": answer.text, "annotations": [], "logprobs": []}]})
    reasoning = req.get("reasoning") or {}
    shown = {k: reasoning[k] for k in ("effort", "summary") if reasoning.get(k)}
    usage = {"input_tokens": answer.prompt_tokens, "output_tokens": answer.eval_tokens,
             "total_tokens": answer.prompt_tokens + answer.eval_tokens,
             "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
    return {
        "id": response_id, "object": "response", "created_at": created, "completed_at": int(time.time()),
        "status": "completed", "incomplete_details": None, "model": model, "previous_response_id": None,
        "instructions": req.get("instructions") or None, "output": output, "error": None,
        "tools": [_echo_tool(t) for t in req.get("tools") or ()], "tool_choice": "auto",
        "truncation": req.get("truncation", "disabled"), "parallel_tool_calls": True,
        "text": {"format": _text_format(req)}, "top_p": _go_float(req.get("top_p", 1.0)), "presence_penalty": 0,
        "frequency_penalty": 0, "top_logprobs": 0, "temperature": _go_float(req.get("temperature", 1.0)),
        "reasoning": shown or None, "usage": usage, "max_output_tokens": req.get("max_output_tokens"),
        "max_tool_calls": None, "store": False, "background": bool(req.get("background")), "service_tier": "default",
        "metadata": {}, "safety_identifier": None, "prompt_cache_key": None,
    }


class StreamConverter:
    """``ResponsesStreamConverter``: chat chunks in, Responses stream events out (in order)."""

    def __init__(self, response_id: str, item_id: str, model: str, req: dict[str, Any], rand: Callable[[], int]) -> None:
        self.response_id, self.item_id, self.model, self.req, self.rand = response_id, item_id, model, req, rand
        self.first, self.output_index, self.content_started, self.calls_sent = True, 0, False, False
        self.text, self.sequence = "", 0
        self.thinking, self.reasoning_id, self.reasoning_started = "", "", False
        self.completed: list[dict[str, Any]] = []

    def event(self, kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
        data["type"], data["sequence_number"] = kind, self.sequence
        self.sequence += 1
        return kind, data

    def response(self, status: str, output: list[Any], usage: dict[str, Any] | None) -> dict[str, Any]:
        reasoning = self.req.get("reasoning") or {}
        shown = ({"effort": reasoning.get("effort") or None, "summary": reasoning.get("summary") or None}
                 if reasoning.get("effort") or reasoning.get("summary") else None)
        return {
            "id": self.response_id, "object": "response", "created_at": int(time.time()), "completed_at": None,
            "status": status, "incomplete_details": None, "model": self.model, "previous_response_id": None,
            "instructions": self.req.get("instructions") or None, "output": output, "error": None,
            "tools": [{"type": t.get("type", ""), "name": t.get("name", ""), "description": t.get("description"),
                       "strict": t.get("strict"), "parameters": t.get("parameters")} for t in self.req.get("tools") or ()],
            "tool_choice": "auto", "truncation": self.req.get("truncation", "disabled"), "parallel_tool_calls": True,
            "text": {"format": {k: (_Raw(v) if k == "schema" else v) for k, v in _text_format(self.req).items()}},
            "top_p": _go_float(self.req.get("top_p", 1.0)), "presence_penalty": 0, "frequency_penalty": 0,
            "top_logprobs": 0, "temperature": _go_float(self.req.get("temperature", 1.0)), "reasoning": shown,
            "usage": usage, "max_output_tokens": self.req.get("max_output_tokens"), "max_tool_calls": None,
            "store": False, "background": bool(self.req.get("background")), "service_tier": "default",
            "metadata": {}, "safety_identifier": None, "prompt_cache_key": None,
        }

    def process(self, chunk: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """``Process``: the events for one chat chunk (``thinking``, ``content``, ``tool_calls``, ``done``)."""
        events = []
        if self.first:
            self.first = False
            events.append(self.event("response.created", response=self.response("in_progress", [], None)))
            events.append(self.event("response.in_progress", response=self.response("in_progress", [], None)))
        if chunk.get("thinking"):
            events += self._thinking(chunk["thinking"])
        calls = chunk.get("tool_calls") or []
        if calls:
            events += self._finish_reasoning() + self._calls(calls)
            self.calls_sent = True
        if not calls and not self.calls_sent and chunk.get("content"):
            events += self._text(chunk["content"])
        if chunk.get("done"):
            events += self._completion(chunk)
        return events

    def _thinking(self, piece: str) -> list[tuple[str, dict[str, Any]]]:
        events = []
        if not self.reasoning_started:
            self.reasoning_started, self.reasoning_id = True, f"rs_{self.rand()}"
            events.append(self.event("response.output_item.added", output_index=self.output_index,
                                     item={"id": self.reasoning_id, "type": "reasoning", "summary": []}))
        self.thinking += piece
        events.append(self.event("response.reasoning_summary_text.delta", item_id=self.reasoning_id,
                                 output_index=self.output_index, summary_index=0, delta=piece))
        return events

    def _finish_reasoning(self) -> list[tuple[str, dict[str, Any]]]:
        if not self.reasoning_started:
            return []
        item = {"id": self.reasoning_id, "type": "reasoning",
                "summary": [{"type": "summary_text", "text": self.thinking}], "encrypted_content": self.thinking}
        self.completed.append(item)
        index, thinking, rid = self.output_index, self.thinking, self.reasoning_id
        self.thinking, self.reasoning_id, self.reasoning_started = "", "", False
        self.output_index += 1
        return [self.event("response.reasoning_summary_text.done", item_id=rid, output_index=index, summary_index=0,
                           text=thinking),
                self.event("response.output_item.done", output_index=index, item=item)]

    def _calls(self, calls: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        events = []
        for i, c in enumerate(calls):
            index, fid, args = self.output_index + i, f"fc_{self.rand()}_{i}", _arguments_text(c["arguments"])
            item = {"id": fid, "type": "function_call", "status": "completed", "call_id": c["id"], "name": c["name"],
                    "arguments": args}
            self.completed.append(item)
            events += [
                self.event("response.output_item.added", output_index=index,
                           item={**item, "status": "in_progress", "arguments": ""}),
                self.event("response.function_call_arguments.delta", item_id=fid, output_index=index, delta=args),
                self.event("response.function_call_arguments.done", item_id=fid, output_index=index, arguments=args),
                self.event("response.output_item.done", output_index=index, item=item),
            ]
        self.output_index += len(calls)
        return events

    def _part(self, text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _text(self, piece: str) -> list[tuple[str, dict[str, Any]]]:
        events = self._finish_reasoning()
        if not self.content_started:
            self.content_started = True
            events.append(self.event("response.output_item.added", output_index=self.output_index, item={
                "id": self.item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}))
            events.append(self.event("response.content_part.added", item_id=self.item_id,
                                     output_index=self.output_index, content_index=0, part=self._part("")))
        self.text += piece
        events.append(self.event("response.output_text.delta", item_id=self.item_id, output_index=self.output_index,
                                 content_index=0, delta=piece, logprobs=[]))
        return events

    def _message(self) -> dict[str, Any]:
        return {"id": self.item_id, "type": "message", "status": "completed", "role": "assistant",
                "content": [self._part(self.text)]}

    def _completion(self, chunk: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        events = self._finish_reasoning()
        if not self.calls_sent and self.content_started:
            events += [
                self.event("response.output_text.done", item_id=self.item_id, output_index=self.output_index,
                           content_index=0, text=self.text, logprobs=[]),
                self.event("response.content_part.done", item_id=self.item_id, output_index=self.output_index,
                           content_index=0, part=self._part(self.text)),
                self.event("response.output_item.done", output_index=self.output_index, item=self._message()),
            ]
        prompt, evals = chunk.get("prompt_eval_count", 0), chunk.get("eval_count", 0)
        usage = {"input_tokens": prompt, "output_tokens": evals, "total_tokens": prompt + evals,
                 "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        output = self.completed + ([self._message()] if self.content_started else [])
        response = self.response("completed", output, usage)
        response["completed_at"] = int(time.time())
        events.append(self.event("response.completed", response=response))
        return events


def frame(kind: str, data: dict[str, Any]) -> bytes:
    """``ResponsesWriter.writeEvent``: ``event:`` and ``data:`` lines (the data a Go map: keys sorted)."""
    return b"event: " + kind.encode() + b"\ndata: " + go_json(_map(data)) + b"\n\n"


# -- the handler ----------------------------------------------------------------------------------------


def _chat_body(req: dict[str, Any], msgs: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``/api/chat`` request ``FromResponsesRequest`` makes of the conversation (images as data,
    the calls' arguments as objects), for the Ollama fake's own chat decision."""
    chat_msgs = []
    for m in msgs:
        cm: dict[str, Any] = {"role": m["role"], "content": m["content"]}
        if m.get("images"):
            cm["images"] = [b""] * m["images"]
        if m.get("thinking"):
            cm["thinking"] = m["thinking"]
        if m.get("tool_calls"):
            cm["tool_calls"] = [{"id": c["id"], "function": {"index": 0, "name": c["name"], "arguments": c["arguments"]}}
                                for c in m["tool_calls"]]
        if m.get("tool_call_id") is not None:
            cm["tool_call_id"] = m["tool_call_id"]
        chat_msgs.append(cm)
    body: dict[str, Any] = {"model": req.get("model", ""), "messages": chat_msgs}
    if tools:
        body["tools"] = tools
    fmt = (req.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema" and fmt.get("schema") is not None:
        body["format"] = fmt["schema"]  # a schema, or Ollama's "json"
    if req.get("max_output_tokens") is not None:
        body["options"] = {"num_predict": req["max_output_tokens"]}
    return body


def _answer(req: dict[str, Any], msgs: list[dict[str, Any]], tools: list[dict[str, Any]], thinking: bool) -> ChatAnswer:
    """ChatHandler's answer: the Ollama fake's ``/api/chat`` decision and counts, its calls flattened to
    ``{"id", "name", "arguments"}``."""
    a = chat_answer(_chat_body(req, msgs, tools), thinking)
    a.calls = [{"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"] or {}}
               for c in a.calls]
    return a


async def responses(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses`` on the Ollama fake."""
    raw, fault, early = await open_request(request, ENDPOINT, None, error_response=_fault_error)
    if early is not None:
        return early
    # ResponsesMiddleware: bind the body, convert it (400s, from the middleware itself)
    try:
        req, items = parse_request(decode_body(raw))
        msgs = to_messages(req, items)
        effort = (req.get("reasoning") or {}).get("effort", "")
        if effort not in _THINK:
            raise GoError(f'invalid reasoning value: {go_quote(effort)} (must be "minimal", "low", "medium", '
                           '"high", "xhigh", "ultra", "max", or "none")')
        tools = to_tools(req.get("tools") or [])
    except GoError as e:
        return _error(400, str(e), handler=False)
    stream = bool(req.get("stream"))
    extra = {"Cache-Control": "no-cache"} if stream else None
    # ChatHandler: the model, its capabilities, then the answer (its errors pass through writeError)
    model = req.get("model", "")
    if not model:
        return _error(400, "model is required", headers=extra)
    full = resolve(model)
    if full is None or model in state_of(request).unknown_models.get(NAME, ()):
        return _error(404, f"model '{model}' not found", headers=extra)
    caps = MODELS[full]["capabilities"]
    think = _THINK[effort]
    if "thinking" not in caps and think not in (None, False):
        return _error(400, f"{go_quote(model)} does not support thinking", headers=extra)
    if "completion" not in caps:
        return _error(400, f"{go_quote(model)} does not support chat", headers=extra)
    if tools and "tools" not in caps:
        return _error(400, f"registry.ollama.ai/library/{full} does not support tools", headers=extra)
    seed = stable_id(raw.decode("utf-8", "replace"), time.time_ns())
    rng = random.Random(seed)

    def rand() -> int:
        return rng.randrange(999999)  # Go's rand.Intn(999999)

    response_id, item_id = f"resp_{rand()}", f"msg_{rand()}"
    # no messages: ChatHandler only loads the model (done_reason "load", no counts)
    answer = _answer(req, msgs, tools, "thinking" in caps and think is not False) if msgs else ChatAnswer()
    if not stream:
        payload = to_response(model, response_id, item_id, answer, req, int(time.time()))
        return await send_json(request, payload, fault, encode=lambda p: go_json(p) + b"\n")  # json.NewEncoder
    converter = StreamConverter(response_id, item_id, model, req, rand)
    frames = [frame(kind, data) for chunk in (chat_chunks(answer) if msgs else [{"done": True}])
              for kind, data in converter.process(chunk)]
    return await send_stream(request, frames, content_type="text/event-stream", fault=fault,
                             error_frame=lambda: b"", headers={"Connection": "keep-alive"})
