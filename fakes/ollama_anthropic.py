"""Ollama's Anthropic-compatible Messages API, ``POST /v1/messages`` (Ollama v0.14.0 and later; what Claude
Code and the ``anthropic`` SDK reach with ``base_url=http://localhost:11434``), written from Ollama's
source: ``anthropic/anthropic.go`` (the request and response types, ``FromMessagesRequest``,
``ToMessagesResponse``, ``StreamConverter``, ``NewError``, ``EstimateInputTokens``),
``middleware/anthropic.go`` (``AnthropicMessagesMiddleware``, ``AnthropicWriter``, ``writeSSE``),
``server/routes.go`` (the route, and ``ChatHandler``, which answers it) and
``docs/api/anthropic-compatibility.mdx``.

Ollama turns the request into an ``/api/chat`` request and the chat answer back into an Anthropic
message; the fake does the same conversion and takes the answer from the Ollama fake's own
``/api/chat`` decision (:func:`interlingua.fakes.ollama._decision`) for the converted conversation, so a
prompt gets the same text, tool call and token counts on both routes.

What Ollama does, and so the fake:

* **Auth.** None: ``x-api-key``, ``Authorization`` and ``anthropic-version`` are accepted and never read
  ("API key is accepted but not validated"). There is no ``/v1/messages/count_tokens`` (nor batches,
  nor ``/v1/models`` in Anthropic's shape): the router has ``/v1/messages`` only, so it is gin's
  ``404 page not found``.
* **Request.** ``model``, ``max_tokens`` (required, > 0; it becomes ``num_predict``), ``messages``
  (``content`` a string or blocks: ``text``, ``image`` with a base64 ``source`` only, ``tool_use``,
  ``tool_result`` — a string or text/image blocks —, ``thinking``; other block types are ignored),
  ``system`` (a string or text blocks, joined), ``temperature``, ``top_p``, ``top_k``,
  ``stop_sequences`` (a hit ends the answer with ``end_turn``: Ollama never reports ``stop_sequence``),
  ``tools`` (``input_schema`` → the function's parameters), ``thinking`` (``enabled`` → ``think``
  true, ``disabled`` → false; ``budget_tokens`` is not enforced) and ``output_config.effort`` (a
  thinking level when ``thinking`` is absent). ``tool_choice`` and ``metadata`` are read and ignored:
  the model calls a tool when it decides to (here: when the prompt names it).
* **Thinking.** A model with the ``thinking`` capability thinks unless ``thinking`` is ``disabled``,
  and its answer starts with a ``thinking`` block (no ``signature``). Asking a model without it to
  think is *not* an error here (the middleware sets ``relax_thinking``: Ollama drops ``think``).
* **Answer.** Non-streamed: one ``message`` (``id`` ``msg_`` + 24 hex digits, ``model`` as asked,
  ``content`` thinking, text, then tool_use blocks, ``stop_reason`` ``end_turn``/``max_tokens``/
  ``tool_use``, ``usage`` with ``input_tokens``/``output_tokens`` only — the chat's
  ``prompt_eval_count``/``eval_count``). Streamed: ``event: <type>``/``data: <json>`` frames, one
  write each: ``message_start`` (its ``input_tokens`` the middleware's ``len/4`` estimate of the
  request, since the chat's first chunks carry no counts), ``content_block_start``/``_delta``/
  ``_stop`` per block (``thinking_delta``, ``text_delta``, a tool call's whole arguments in one
  ``input_json_delta``), ``message_delta`` (``stop_reason``, and the real ``input_tokens`` and
  ``output_tokens``), ``message_stop``. No ``ping``, no ``error`` event (Ollama's converter has
  neither): a failure mid-stream just ends the stream.
* **Errors** are Anthropic's shape, ``{"type": "error", "error": {"type", "message"}, "request_id":
  "req_…"}`` with the type from the status (``NewError``). From the middleware (gin's
  ``application/json; charset=utf-8``): a body Go's ``encoding/json`` cannot read into the request
  (its own message: ``EOF``, ``invalid character …``, ``json: cannot unmarshal string into Go struct
  field MessagesRequest.max_tokens of type int``), ``model is required``, ``max_tokens is required and
  must be positive``, ``messages is required``, and the conversion's (``invalid image source type: url.
  Only base64 images are supported.``, ``invalid base64 image data: …``, ``tool_use block missing
  required 'id' field``, ``invalid input_schema for tool …``) — all 400. From the chat handler, through
  ``writeError`` (``application/json``, a newline after the body): a model that is not installed (or
  declared unknown with ``fake.models("ollama", unknown=[…])``) → 404 ``not_found_error`` ``model
  '<name>' not found``; an embedding model → 400 ``"<name>" does not support chat``; tools for a model
  without tool support → 400.

Not played: the built-in ``web_search`` tool (Ollama runs the searches on ollama.com). Its declaration
is accepted and never offered to the model, so the answer is one that chose not to search.

Requests are recorded (and faults queued, ``fake.fail_next("ollama", …, endpoint="chat")`` or
``endpoint="/v1/messages"``) under ``ollama`` as the ``chat`` endpoint, like ``/api/chat``; a fault's
error status arrives in the shape above (``writeError`` rewrites whatever the chat handler sends).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ._content import stable_id
from ._faults import Fault
from ._gojson import NOT_AN_OBJECT, GoError, Scan, decode_body, go_json, go_quote, json_kind
from ._server import open_request, send_json, send_stream, state_of
from .ollama import MODELS, NAME, ChatAnswer, chat_answer, chat_chunks, resolve, retry_after

__all__ = ["estimate_input_tokens", "messages"]

ENDPOINT = "chat"



def _go_any(v: Any) -> Any:
    """A decoded JSON value as Go's ``any`` marshals it again: objects (``map[string]any``) keys sorted."""
    if isinstance(v, dict):
        return {k: _go_any(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_go_any(x) for x in v]
    return v


def _args(v: dict[str, Any]) -> dict[str, Any]:
    """``api.ToolCallFunctionArguments``: an ordered map (top-level keys as sent), values ``any``."""
    return {k: _go_any(x) for k, x in v.items()}


# -- Go's encoding/json, reading (gin's ShouldBindJSON into anthropic.MessagesRequest) -----------------


@dataclass(frozen=True)
class _T:
    """A Go type as ``encoding/json`` sees it: ``kind`` (``string``, ``int``, ``float64``, ``bool``,
    ``any``, ``list``, ``struct``, ``args`` (ToolCallFunctionArguments), ``message`` (MessageParam)),
    ``go`` its name in errors, a struct's ``name`` and ``fields``, a slice's ``elem``."""

    kind: str
    go: str = ""
    name: str = ""
    fields: tuple[tuple[str, _T], ...] = ()
    elem: _T | None = None


class _TypeMismatch(Exception):
    """``json.UnmarshalTypeError``."""

    def __init__(self, value: str, go: str, struct: str, path: str) -> None:
        super().__init__(value)
        self.value, self.go, self.struct, self.path = value, go, struct, path

    def __str__(self) -> str:
        if self.struct or self.path:
            return f"json: cannot unmarshal {self.value} into Go struct field {self.struct}.{self.path} of type {self.go}"
        return f"json: cannot unmarshal {self.value} into Go value of type {self.go}"


_STR, _INT, _F64, _BOOL, _ANY = _T("string", "string"), _T("int", "int"), _T("float64", "float64"), _T("bool", "bool"), _T("any")


def _struct(go_name: str, /, **fields: _T) -> _T:
    return _T("struct", "anthropic." + go_name, go_name, tuple(fields.items()))


def _slice(elem: _T) -> _T:
    return _T("list", "[]" + elem.go, elem=elem)


_CITATION = _struct("Citation", type=_STR, url=_STR, title=_STR, encrypted_index=_STR, cited_text=_STR)
_IMAGE_SOURCE = _struct("ImageSource", type=_STR, media_type=_STR, data=_STR, url=_STR)
_CONTENT_BLOCK = _struct("ContentBlock", type=_STR, text=_STR, citations=_slice(_CITATION), source=_IMAGE_SOURCE,
                         id=_STR, name=_STR, input=_T("args"), tool_use_id=_STR, content=_ANY, is_error=_BOOL,
                         thinking=_STR, signature=_STR)
_CONTENT_BLOCKS = _slice(_CONTENT_BLOCK)
_RAW_MESSAGE = _T("struct", 'struct { Role string "json:\\"role\\""; Content json.RawMessage "json:\\"content\\"" }',
                  "", (("role", _STR), ("content", _ANY)))
_TOOL = _struct("Tool", type=_STR, name=_STR, description=_STR, input_schema=_ANY, max_uses=_INT)
_REQUEST = _struct(
    "MessagesRequest", model=_STR, max_tokens=_INT, messages=_T("list", "[]anthropic.MessageParam", elem=_T("message")),
    system=_ANY, stream=_BOOL, temperature=_F64, top_p=_F64, top_k=_INT, stop_sequences=_slice(_STR),
    tools=_slice(_TOOL), tool_choice=_struct("ToolChoice", type=_STR, name=_STR, disable_parallel_tool_use=_BOOL),
    thinking=_struct("ThinkingConfig", type=_STR, budget_tokens=_INT), metadata=_struct("Metadata", user_id=_STR),
    output_config=_struct("OutputConfig", effort=_STR),
)
_PARAMS = _T("struct", "api.ToolFunctionParameters", "ToolFunctionParameters",
             (("type", _STR), ("$defs", _ANY), ("items", _ANY), ("required", _T("list", "[]string", elem=_STR)),
              ("properties", _ANY)))
_MISSING = object()


class _Decoder:
    """``json.Unmarshal`` into one of the types above: the value with Go's field names (keys matched
    exactly, else case-insensitively; unknown ones dropped; ``null`` leaves the zero value). A type
    error is kept (the first one) and decoding goes on; an error of a type's own ``UnmarshalJSON``
    (MessageParam, ToolCallFunctionArguments) ends decoding at once, as in Go."""

    def __init__(self) -> None:
        self.saved: _TypeMismatch | None = None

    def mismatch(self, v: Any, t: _T, struct: str, path: tuple[str, ...]) -> None:
        if self.saved is None:
            value = json_kind(v)
            if t.kind == "int" and isinstance(v, int | float) and not isinstance(v, bool):
                value = "number " + getattr(v, "literal", str(v))
            self.saved = _TypeMismatch(value, t.go, struct, ".".join(path))

    def decode(self, v: Any, t: _T, struct: str = "", path: tuple[str, ...] = ()) -> Any:
        if t.kind == "message":  # its UnmarshalJSON runs for null too
            return _message_param(v, struct, path)
        if v is None or t.kind == "any":
            return v
        if t.kind == "struct":
            if not isinstance(v, dict):
                return self.mismatch(v, t, struct, path)
            names = dict(t.fields)
            folded = {n.lower(): n for n in names}
            out: dict[str, Any] = {}
            for key, value in v.items():
                name = key if key in names else folded.get(key.lower())
                if name is None:
                    continue
                if value is None and names[name].kind != "any":
                    continue
                decoded = self.decode(value, names[name], t.name, (*path, name))
                if decoded is not None or names[name].kind == "any":
                    out[name] = decoded
            return out
        if t.kind == "list":
            if not isinstance(v, list):
                return self.mismatch(v, t, struct, path)
            assert t.elem is not None
            return [self.decode(e, t.elem, struct, path) for e in v]
        if t.kind == "args":
            if not isinstance(v, dict):  # buger/jsonparser's ObjectEach, under the ordered map's UnmarshalJSON
                raise GoError(NOT_AN_OBJECT)
            return v
        ok = {"string": isinstance(v, str), "bool": isinstance(v, bool),
              "float64": isinstance(v, int | float) and not isinstance(v, bool),
              "int": isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63}[t.kind]
        return v if ok else self.mismatch(v, t, struct, path)


def _in_context(e: _TypeMismatch, struct: str, path: tuple[str, ...]) -> GoError:
    """``addErrorContext``: a type error from inside an ``UnmarshalJSON`` named from the outer field."""
    return GoError(str(_TypeMismatch(e.value, e.go, struct, ".".join((*path, e.path) if e.path else path))))


def _message_param(v: Any, struct: str, path: tuple[str, ...]) -> dict[str, Any]:
    """``MessageParam.UnmarshalJSON``: ``role``, and ``content`` as blocks (a string is one text block)."""
    d = _Decoder()
    raw = d.decode(v, _RAW_MESSAGE)
    if d.saved is not None:
        raise _in_context(d.saved, struct, path)
    raw = raw or {}
    content = raw.get("content", _MISSING)
    if content is _MISSING:  # a nil json.RawMessage
        raise GoError("unexpected end of JSON input")
    if content is None or isinstance(content, str):
        return {"role": raw.get("role", ""), "content": [{"type": "text", "text": content or ""}]}
    d = _Decoder()
    blocks = d.decode(content, _CONTENT_BLOCKS)
    if d.saved is not None:
        raise _in_context(d.saved, struct, path)
    return {"role": raw.get("role", ""), "content": [b or {} for b in blocks or ()]}


def bind(raw: bytes) -> dict[str, Any]:
    """The request as ``anthropic.MessagesRequest`` (Go's field names), or Go's error."""
    body = decode_body(raw)
    if body is not None and not isinstance(body, dict):
        raise GoError(f"json: cannot unmarshal {json_kind(body)} into Go value of type anthropic.MessagesRequest")
    d = _Decoder()
    req: dict[str, Any] = d.decode(body or {}, _REQUEST) or {}
    if d.saved is not None:
        raise GoError(str(d.saved))
    return req


# -- the raw bytes of each tool's input_schema (a json.RawMessage: len() counts them as sent) ----------


def _members(data: bytes, at: int) -> Iterator[tuple[str, int, int]]:
    s = Scan(data)
    s.i = at + 1
    s.ws()
    if data[s.i] == 0x7D:
        return
    while True:
        s.ws()
        k = s.i
        s.string()
        key = decode_body(data[k:s.i])
        s.ws()
        s.i += 1  # ':'
        s.ws()
        v = s.i
        s.value()
        yield key, v, s.i
        s.ws()
        s.i += 1
        if data[s.i - 1] == 0x7D:
            return


def _elements(data: bytes, at: int) -> Iterator[tuple[int, int]]:
    s = Scan(data)
    s.i = at + 1
    s.ws()
    if data[s.i] == 0x5D:
        return
    while True:
        s.ws()
        v = s.i
        s.value()
        yield v, s.i
        s.ws()
        s.i += 1
        if data[s.i - 1] == 0x5D:
            return


def _last(data: bytes, at: int, name: str) -> tuple[int, int] | None:
    found = None
    for key, v, end in _members(data, at):
        if key.lower() == name:
            found = (v, end)
    return found


def raw_schemas(raw: bytes) -> list[bytes]:
    """Each tool's ``input_schema`` bytes (empty when it has none), from a body :func:`bind` accepted."""
    start = len(raw) - len(raw.lstrip(b" \t\r\n"))
    tools = _last(raw, start, "tools")
    if tools is None or raw[tools[0]] != 0x5B:
        return []
    out = []
    for v, _ in _elements(raw, tools[0]):
        span = _last(raw, v, "input_schema") if raw[v] == 0x7B else None
        out.append(raw[span[0]:span[1]] if span else b"")
    return out


# -- EstimateInputTokens (the message_start estimate) --------------------------------------------------


def _block_json(b: dict[str, Any]) -> dict[str, Any]:
    """A ``ContentBlock`` as ``json.Marshal`` writes it (its field order, ``omitempty``)."""
    out: dict[str, Any] = {"type": b.get("type", "")}
    if b.get("text") is not None:
        out["text"] = b["text"]
    if b.get("citations"):
        out["citations"] = [{"type": c.get("type", ""), "url": c.get("url", ""), "title": c.get("title", ""),
                             **{k: c[k] for k in ("encrypted_index", "cited_text") if c.get(k)}}
                            for c in (x or {} for x in b["citations"])]
    if b.get("source") is not None:
        s = b["source"]
        out["source"] = {"type": s.get("type", ""), **{k: s[k] for k in ("media_type", "data", "url") if s.get(k)}}
    for k in ("id", "name"):
        if b.get(k):
            out[k] = b[k]
    if b.get("input") is not None:
        out["input"] = _args(b["input"])
    if b.get("tool_use_id"):
        out["tool_use_id"] = b["tool_use_id"]
    if b.get("content") is not None:
        out["content"] = _go_any(b["content"])
    if b.get("is_error"):
        out["is_error"] = True
    if b.get("thinking") is not None:
        out["thinking"] = b["thinking"]
    if b.get("signature"):
        out["signature"] = b["signature"]
    return out


def _count_block(b: dict[str, Any]) -> int:
    n = len((b.get("text") or "").encode()) + len((b.get("thinking") or "").encode())
    if b.get("type") in ("tool_use", "tool_result"):
        n += len(go_json(_block_json(b)))
    return n


def _count_any(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content.encode())
    if isinstance(content, list):
        total = 0
        for item in content:
            d = _Decoder()
            try:
                block = d.decode(item, _CONTENT_BLOCK)
            except GoError:
                continue
            if d.saved is None and block is not None:
                total += _count_block(block)
        return total
    return len(go_json(_go_any(content)))


def estimate_input_tokens(req: dict[str, Any], schemas: list[bytes]) -> int:
    """``EstimateInputTokens``: the bytes of the system prompt, each message's role and blocks (text,
    thinking, and tool_use/tool_result blocks as JSON) and each tool's name, description and schema,
    over four (at least 1)."""
    total = _count_any(req.get("system"))
    for m in req.get("messages") or ():
        total += len(m["role"].encode()) + sum(_count_block(b) for b in m["content"])
    for i, t in enumerate(req.get("tools") or ()):
        t = t or {}
        total += len(t.get("name", "").encode()) + len(t.get("description", "").encode())
        total += len(schemas[i]) if i < len(schemas) else 0
    tokens = total // 4
    if tokens == 0 and (req.get("messages") or req.get("system") is not None):
        tokens = 1
    return tokens


# -- FromMessagesRequest --------------------------------------------------------------------------------

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64_error(s: str) -> int | None:
    """Where Go's ``base64.StdEncoding.DecodeString`` finds ``s`` corrupt (``CorruptInputError``), or ``None``."""
    data = s.encode("utf-8", "surrogatepass")
    si, n = 0, len(data)
    while si < n:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = data[si]
            si += 1
            if chr(c) in _B64:
                j += 1
                continue
            if c in (0x0A, 0x0D):
                continue
            if c != 0x3D:
                return si - 1
            if j in (0, 1):
                return si - 1
            if j == 2:
                while si < n and data[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    return n
                if data[si] != 0x3D:
                    return si - 1
                si += 1
            while si < n and data[si] in (0x0A, 0x0D):
                si += 1
            return si if si < n else None
    return None


def _image(source: dict[str, Any]) -> str:
    """``resolveImageSource``: the base64 data of a ``base64`` source (as ``api.ImageData`` goes on)."""
    if source.get("type", "") != "base64":
        raise GoError(f"invalid image source type: {source.get('type', '')}. Only base64 images are supported.")
    data = source.get("data", "")
    bad = _b64_error(data)
    if bad is not None:
        raise GoError(f"invalid base64 image data: illegal base64 data at input byte {bad}")
    return str(data)


def _tool_result(content: Any) -> tuple[str, list[str]]:
    """``convertToolResultContent``: a string, or text blocks joined and image blocks' data."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        return "", []
    text, images = "", []
    for cb in content:
        if not isinstance(cb, dict):
            continue
        if cb.get("type") == "text" and isinstance(cb.get("text"), str):
            text += cb["text"]
        elif cb.get("type") == "image":
            src = cb.get("source")
            if not isinstance(src, dict):
                raise GoError("invalid tool_result image source")
            images.append(_image({k: src[k] for k in ("type", "media_type", "data") if isinstance(src.get(k), str)}))
    return text, images


def _web_search_result(content: Any) -> str:
    """``formatWebSearchToolResultContent``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = ""
        for item in content:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "web_search_result":
                title, url = item.get("title"), item.get("url")
                out += f"- {title if isinstance(title, str) else ''}: {url if isinstance(url, str) else ''}\n"
            elif item.get("type") == "web_search_tool_result_error":
                code = item.get("error_code")
                return "web_search_tool_result_error" + (f": {code}" if isinstance(code, str) and code else "")
        return out
    if isinstance(content, dict) and content.get("type") == "web_search_tool_result_error":
        code = content.get("error_code")
        return "web_search_tool_result_error" + (f": {code}" if isinstance(code, str) and code else "")
    return go_json(_go_any(content)).decode()


def _call(block: dict[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"function": {"index": 0, "name": block.get("name", ""),
                                         "arguments": _args(block.get("input") or {})}}
    if block.get("id"):
        call = {"id": block["id"], **call}
    return call


def _message(role: str, content: str, images: list[str], calls: list[dict[str, Any]], thinking: str) -> dict[str, Any]:
    """An ``api.Message`` as Go writes it (its field order, ``omitempty``)."""
    m: dict[str, Any] = {"role": role, "content": content}
    if thinking:
        m["thinking"] = thinking
    if images:
        m["images"] = images
    if calls:
        m["tool_calls"] = calls
    return m


def _convert_message(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """``convertMessage``: one Anthropic message as Ollama messages (a user turn's tool results first)."""
    role = msg["role"].lower()
    text, images, calls, thinking = "", [], [], ""
    results: list[dict[str, Any]] = []
    for b in msg["content"]:
        kind = b.get("type", "")
        if kind == "text":
            text += b.get("text") or ""
        elif kind == "image":
            if b.get("source") is None:
                raise GoError("invalid image source")
            images.append(_image(b["source"]))
        elif kind == "tool_use":
            if not b.get("id"):
                raise GoError("tool_use block missing required 'id' field")
            if not b.get("name"):
                raise GoError("tool_use block missing required 'name' field")
            calls.append(_call(b))
        elif kind == "tool_result":
            content, result_images = _tool_result(b.get("content"))
            results.append({**_message("tool", content, result_images, [], ""),
                            **({"tool_call_id": b["tool_use_id"]} if b.get("tool_use_id") else {})})
        elif kind == "thinking":
            if b.get("thinking") is not None:
                thinking = b["thinking"]
        elif kind == "server_tool_use":
            calls.append(_call(b))
        elif kind == "web_search_tool_result":
            results.append({"role": "tool", "content": _web_search_result(b.get("content")),
                            **({"tool_call_id": b["tool_use_id"]} if b.get("tool_use_id") else {})})
    out = list(results) if role == "user" else []
    if text or images or calls or thinking:
        out.append(_message(role, text, images, calls, thinking))
    if role != "user":
        out += results
    return out


_PROPERTY_KEYS = ("anyOf", "type", "items", "description", "enum", "properties", "required")


def _property(p: Any) -> dict[str, Any]:
    """An ``api.ToolProperty`` as Go writes it again: its own fields only, in its order."""
    if not isinstance(p, dict):
        return {}
    out: dict[str, Any] = {}
    for k in _PROPERTY_KEYS:
        v = p.get(k)
        if v in (None, "", [], {}) and k != "type":
            continue
        if k == "anyOf" and isinstance(v, list):
            out[k] = [_property(x) for x in v]
        elif k == "type":
            types = v if isinstance(v, list) else [v] if isinstance(v, str) else []
            if types:
                out[k] = types[0] if len(types) == 1 else types
        elif k == "properties" and isinstance(v, dict):
            out[k] = {name: _property(x) for name, x in v.items()}
        else:
            out[k] = _go_any(v)
    return out


def _parameters(name: str, schema: Any) -> dict[str, Any]:
    """``convertTool``'s ``json.Unmarshal`` of ``input_schema`` into ``api.ToolFunctionParameters``."""
    d = _Decoder()
    params = d.decode(schema, _PARAMS) if schema is not None else {}
    if d.saved is not None:
        raise GoError(f"invalid input_schema for tool {go_quote(name)}: {d.saved}")
    params = params or {}
    props = params.get("properties")
    if props is not None and not isinstance(props, dict):
        raise GoError(f"invalid input_schema for tool {go_quote(name)}: {NOT_AN_OBJECT}")
    out: dict[str, Any] = {"type": params.get("type", "")}
    for k in ("$defs", "items"):
        if params.get(k) is not None:
            out[k] = _go_any(params[k])
    if params.get("required"):
        out["required"] = params["required"]
    out["properties"] = {k: _property(v) for k, v in props.items()} if isinstance(props, dict) else None
    return out


def to_chat_request(req: dict[str, Any]) -> dict[str, Any]:
    """``FromMessagesRequest``: the ``/api/chat`` request Ollama hands its chat handler (as Go writes
    ``api.ChatRequest``: options a map, keys sorted). Built-in ``web_search`` tools (and a custom tool
    of that name beside one) are left out: not played here."""
    msgs: list[dict[str, Any]] = []
    system = req.get("system")
    if isinstance(system, str) and system:
        msgs.append({"role": "system", "content": system})
    elif isinstance(system, list):
        joined = "".join(b["text"] for b in system
                         if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
        if joined:
            msgs.append({"role": "system", "content": joined})
    for m in req["messages"]:
        msgs += _convert_message(m)
    options: dict[str, Any] = {"num_predict": req["max_tokens"]}
    for k in ("temperature", "top_p", "top_k"):
        if req.get(k) is not None:
            options[k] = req[k]
    if req.get("stop_sequences"):
        options["stop"] = req["stop_sequences"]
    declared = [t or {} for t in req.get("tools") or ()]
    web_search = any(t.get("type", "").startswith("web_search") for t in declared)
    tools = []
    for t in declared:
        if t.get("type", "").startswith("web_search") or (web_search and t.get("name") == "web_search"):
            continue
        fn: dict[str, Any] = {"name": t.get("name", "")}
        if t.get("description"):
            fn["description"] = t["description"]
        fn["parameters"] = _parameters(t.get("name", ""), t.get("input_schema"))
        tools.append({"type": "function", "function": fn})
    think: bool | str | None = None
    effort = ((req.get("output_config") or {}).get("effort") or "").strip().lower()
    effort = "high" if effort == "xhigh" else effort
    thinking = (req.get("thinking") or {}).get("type")
    if thinking == "enabled":
        think = True
    elif thinking == "disabled":
        think = False
    elif effort in ("high", "medium", "low", "max"):
        think = effort
    body: dict[str, Any] = {"model": req.get("model", ""), "messages": msgs, "stream": bool(req.get("stream"))}
    if tools:
        body["tools"] = tools
    body["options"] = {k: options[k] for k in sorted(options)}
    if think is not None:
        body["think"] = think
    return body


# -- the answer: ChatHandler's, then ToMessagesResponse / StreamConverter ----------------------------


def _stop_reason(reason: str, has_calls: bool) -> str:
    """``mapStopReason``."""
    if has_calls:
        return "tool_use"
    return {"stop": "end_turn", "length": "max_tokens", "": ""}.get(reason, "stop_sequence")


def to_messages_response(message_id: str, model: str, a: ChatAnswer) -> dict[str, Any]:
    """``ToMessagesResponse`` (``content`` is ``null`` when the answer has no block, as Go's nil slice)."""
    content: list[dict[str, Any]] | None = []
    assert content is not None
    if a.thinking:
        content.append({"type": "thinking", "thinking": a.thinking})
    if a.text:
        content.append({"type": "text", "text": a.text})
    for c in a.calls:
        block = {"type": "tool_use", "id": c.get("id", ""), "name": c["function"]["name"],
                 "input": _args(c["function"]["arguments"] or {})}
        content.append(block if block["id"] else {k: v for k, v in block.items() if k != "id"})
    out: dict[str, Any] = {"id": message_id, "type": "message", "role": "assistant", "model": model,
                           "content": content or None}
    reason = _stop_reason(a.done_reason, bool(a.calls))
    if reason:
        out["stop_reason"] = reason
    out["usage"] = {"input_tokens": a.prompt_tokens, "output_tokens": a.eval_tokens}
    return out


class StreamConverter:
    """``anthropic.StreamConverter``: chat chunks in, Anthropic stream events out, in order."""

    def __init__(self, message_id: str, model: str, estimated_input_tokens: int) -> None:
        self.id, self.model, self.estimate = message_id, model, estimated_input_tokens
        self.first, self.index, self.input_tokens = True, 0, 0
        self.thinking_started = self.thinking_done = self.text_started = False
        self.calls_sent: set[str] = set()

    def _stop(self) -> tuple[str, dict[str, Any]]:
        return "content_block_stop", {"type": "content_block_stop", "index": self.index}

    def _start(self, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block}

    def _delta(self, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta}

    def process(self, r: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        events = []
        if self.first:
            self.first = False
            self.input_tokens = r.get("prompt_eval_count", 0) or self.estimate
            events.append(("message_start", {"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "usage": {"input_tokens": self.input_tokens, "output_tokens": 0}}}))
        if r.get("thinking") and not self.thinking_done:
            if self.text_started:
                events.append(self._stop())
                self.index += 1
                self.text_started = False
            if not self.thinking_started:
                self.thinking_started = True
                events.append(self._start({"type": "thinking", "thinking": ""}))
            events.append(self._delta({"type": "thinking_delta", "thinking": r["thinking"]}))
        if r.get("content"):
            if self.thinking_started and not self.thinking_done:
                self.thinking_done = True
                events.append(self._stop())
                self.index += 1
            if not self.text_started:
                self.text_started = True
                events.append(self._start({"type": "text", "text": ""}))
            events.append(self._delta({"type": "text_delta", "text": r["content"]}))
        for tc in r.get("tool_calls") or ():
            tid = tc.get("id", "")
            if tid in self.calls_sent:
                continue
            if self.thinking_started and not self.thinking_done:
                self.thinking_done = True
                events.append(self._stop())
                self.index += 1
            if self.text_started:
                events.append(self._stop())
                self.index += 1
                self.text_started = False
            start: dict[str, Any] = {"type": "tool_use", "id": tid, "name": tc["function"]["name"], "input": {}}
            if not tid:
                del start["id"]
            events.append(self._start(start))
            events.append(self._delta({"type": "input_json_delta",
                                       "partial_json": go_json(_args(tc["function"]["arguments"] or {})).decode()}))
            events.append(self._stop())
            self.calls_sent.add(tid)
            self.index += 1
        if r.get("done"):
            if self.text_started or (self.thinking_started and not self.thinking_done):
                events.append(self._stop())
            reason = _stop_reason(r.get("done_reason", ""), bool(self.calls_sent))
            events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason} if reason else {},
                                             "usage": {"input_tokens": r.get("prompt_eval_count", 0),
                                                       "output_tokens": r.get("eval_count", 0)}}))
            events.append(("message_stop", {"type": "message_stop"}))
        return events


def frame(kind: str, data: dict[str, Any]) -> bytes:
    """``writeSSE``: ``event: <type>`` and ``data: <json>``, then a blank line (one write, flushed)."""
    return b"event: " + kind.encode() + b"\ndata: " + go_json(data) + b"\n\n"


# -- the handler ------------------------------------------------------------------------------------------

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
          429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}


def new_error(status: int, message: str) -> dict[str, Any]:
    """``NewError``: the type from the status, and a fresh ``request_id``."""
    return {"type": "error", "error": {"type": _TYPES.get(status, "api_error"), "message": message},
            "request_id": "req_" + stable_id("ollama-anthropic-request", time.time_ns())}


def _error(status: int, message: str, *, handler: bool = True, headers: dict[str, str] | None = None) -> web.Response:
    """From the middleware (``AbortWithStatusJSON``): gin's ``application/json; charset=utf-8``; from the
    chat handler through ``writeError``: ``application/json`` and the encoder's newline."""
    body = go_json(new_error(status, message))
    ctype = "application/json" if handler else "application/json; charset=utf-8"
    return web.Response(status=status, body=body + (b"\n" if handler else b""),
                        headers={"Content-Type": ctype, **(headers or {})})


def _fault_error(status: int, message: str, fault: Fault | None) -> web.Response:
    """A status fault's answer in this layer's error shape (the provider's message for the status)."""
    return _error(status, message, headers=retry_after(status, fault))


async def messages(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages`` on the Ollama fake."""
    raw, fault, early = await open_request(request, ENDPOINT, None, error_response=_fault_error)
    if early is not None:
        return early
    # AnthropicMessagesMiddleware: bind, check, convert (its 400s)
    try:
        req = bind(raw)
        if not req.get("model"):
            raise GoError("model is required")
        if req.get("max_tokens", 0) <= 0:
            raise GoError("max_tokens is required and must be positive")
        if not req.get("messages"):
            raise GoError("messages is required")
        chat = to_chat_request(req)
    except GoError as e:
        return _error(400, str(e), handler=False)
    stream = bool(req.get("stream"))
    extra = {"Cache-Control": "no-cache"} if stream else None
    # ChatHandler: the model, thinking (relaxed for this route), capabilities, then the answer
    model = req["model"]
    full = resolve(model)
    if full is None or model in state_of(request).unknown_models.get(NAME, ()):
        return _error(404, f"model '{model}' not found", headers=extra)
    caps = MODELS[full]["capabilities"]
    think = chat.get("think")
    if "completion" not in caps:
        return _error(400, f"{go_quote(model)} does not support chat", headers=extra)
    if chat.get("tools") and "tools" not in caps:
        return _error(400, f"registry.ollama.ai/library/{full} does not support tools", headers=extra)
    answer = chat_answer(chat, "thinking" in caps and think is not False)
    message_id = "msg_" + stable_id("ollama-anthropic-message", raw.decode("utf-8", "replace"), time.time_ns())
    if not stream:
        payload = to_messages_response(message_id, model, answer)
        return await send_json(request, payload, fault, encode=lambda p: go_json(p) + b"\n")
    converter = StreamConverter(message_id, model, estimate_input_tokens(req, raw_schemas(raw)))
    frames = [frame(kind, data) for chunk in chat_chunks(answer) for kind, data in converter.process(chunk)]
    return await send_stream(request, frames, content_type="text/event-stream", fault=fault,
                             error_frame=lambda: b"", headers={"Connection": "keep-alive"})
