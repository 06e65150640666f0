"""OpenAI's Responses API (``POST /v1/responses``), as a pure dialect.

Wire reference: https://platform.openai.com/docs/api-reference/responses (create, object,
streaming events) and the official SDK's ``openai/types/responses/*``. Real streams were read too
(recorded fixtures of other SDKs): they differ from the types in places this module tolerates —
``response.function_call_arguments.done`` carries no ``name``; an ``error`` event nests its fields
under ``"error"`` (the SDK's ``ResponseErrorEvent`` has them at the top level); usage details may
be missing.

Request mapping (a :class:`ChatRequest` → a ``responses.create`` body):

* leading system messages → ``instructions``; later ones stay in ``input`` as system messages;
* user turns → ``message`` items with ``input_text`` / ``input_image`` parts;
* an assistant turn → its reasoning items (passed back unchanged), then its text, then one
  ``function_call`` item per tool call (``call_id`` = our tool call id);
* a tool message → a ``function_call_output`` item answering its ``call_id``;
* tools are flat (``{"type": "function", "name", "parameters", "strict"}``), ``tool_choice``,
  ``max_output_tokens``, ``temperature``, ``top_p``, ``reasoning: {effort, summary}``,
  ``text.format`` for structured output;
* ``store`` is false: this library is stateless, and every turn is sent in full. It is true only
  when ``provider_options`` names a ``previous_response_id`` (the caller chains stored
  responses); ``provider_options`` is merged over the body last, so ``store`` may be set there too;
* ``include: ["reasoning.encrypted_content"]`` when reasoning is requested or the history holds
  encrypted reasoning: with ``store`` false, that is the only way reasoning can be sent back.

Response mapping: ``output`` items become one assistant turn. A ``reasoning`` item becomes a
:class:`ReasoningPart` whose ``text`` is its summary and whose ``signature`` is its
``encrypted_content`` (a reasoning item with no summary text becomes ``ReasoningPart(redacted=
encrypted_content)``); encoding turns either back into the same reasoning item. ``stop`` is not a
Responses parameter: a request with stop sequences is refused rather than silently changed;
``seed`` is not sent (the API has none).

The non-stream decoder and the stream fold produce the same chunks, folded by :mod:`.fold`, so
``decode_stream`` of any split of a stream equals ``decode_response`` of its final object.

>>> from .schema import ChatRequest, Message
>>> from .secret import Secret
>>> r = OPENAI_RESPONSES.encode_request(
...     ChatRequest(model="openai_responses:gpt-5", messages=(Message.system("Be brief."), Message.user("hi"))),
...     ProviderConfig(api_key=Secret("sk-test"))).unwrap()
>>> r.url
'https://api.openai.com/v1/responses'
>>> r.body
b'{"model":"gpt-5","input":[{"type":"message","role":"user","content":"hi"}],"instructions":"Be brief.","store":false}'
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

import msgspec
from msgspec import UNSET, UnsetType
from returns.result import Failure, Result, Success

from . import sse
from ._result import ok
from .compat import AZURE, OPENAI_COMPATIBLE, azure_url
from .dialect import (
    DECODE_ERRORS,
    ProviderConfig,
    StreamEvent,
    close_stream,
    invalid_request,
    join_url,
    malformed,
    stream_error,
)
from .errors import ErrorKind, LlmError
from .fold import fold_chunks
from .http import HttpRequest, HttpResponse
from .openai import OPENAI, OpenAIDialect, _RErrorDetail
from .schema import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    ReasoningPart,
    Role,
    TextPart,
    ToolCallDelta,
    ToolChoiceFunction,
    Usage,
    assistant_text,
)
from .shared import TokenCount, merge_provider_options, refuse_empty, settle

__all__ = [
    "AZURE_RESPONSES",
    "COMPATIBLE_RESPONSES",
    "OPENAI_RESPONSES",
    "RESPONSES_FOR",
    "ResponsesDialect",
    "ResponsesStreamState",
    "responses_dialect_for",
]

ENCRYPTED_REASONING = "reasoning.encrypted_content"

# ---------------------------------------------------------------------------------------------
# Request wire types (UNSET fields are left out of the JSON).


class _WInputText(msgspec.Struct, tag="input_text", tag_field="type"):
    text: str


class _WInputImage(msgspec.Struct, tag="input_image", tag_field="type"):
    image_url: str
    # "detail" is required by the SDK's ResponseInputImageParam (low | high | auto).
    detail: str = "auto"


class _WMessageItem(msgspec.Struct, tag="message", tag_field="type"):
    role: str
    content: str | list[_WInputText | _WInputImage]


class _WSummaryText(msgspec.Struct, tag="summary_text", tag_field="type"):
    text: str


class _WReasoningItem(msgspec.Struct, tag="reasoning", tag_field="type"):
    summary: list[_WSummaryText]
    encrypted_content: str | UnsetType = UNSET


class _WFunctionCallItem(msgspec.Struct, tag="function_call", tag_field="type"):
    call_id: str
    name: str
    arguments: str


class _WFunctionCallOutputItem(msgspec.Struct, tag="function_call_output", tag_field="type"):
    call_id: str
    output: str


_WItem = _WMessageItem | _WReasoningItem | _WFunctionCallItem | _WFunctionCallOutputItem


class _WFunctionTool(msgspec.Struct, tag="function", tag_field="type"):
    name: str
    parameters: dict[str, Any]
    strict: bool
    description: str | UnsetType = UNSET


class _WToolChoiceFunction(msgspec.Struct, tag="function", tag_field="type"):
    name: str


class _WReasoning(msgspec.Struct):
    effort: str | UnsetType = UNSET
    summary: str | UnsetType = UNSET


class _WFormat(msgspec.Struct):
    type: str
    name: str | UnsetType = UNSET
    schema: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class _WText(msgspec.Struct):
    format: _WFormat


class _WRequest(msgspec.Struct):
    model: str
    input: list[_WItem]
    instructions: str | UnsetType = UNSET
    tools: list[_WFunctionTool] | UnsetType = UNSET
    tool_choice: str | _WToolChoiceFunction | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    reasoning: _WReasoning | UnsetType = UNSET
    text: _WText | UnsetType = UNSET
    user: str | UnsetType = UNSET
    store: bool = False
    include: list[str] | UnsetType = UNSET
    stream: bool | UnsetType = UNSET


# ---------------------------------------------------------------------------------------------
# Response wire types: every field optional and nullable, unknown fields ignored.


class _RContent(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    refusal: str | None = None


class _RItem(msgspec.Struct):
    type: str | None = None
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[_RContent] | None = None
    summary: list[_RContent] | None = None
    encrypted_content: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: Any = None
    """A string for ``function_call`` items; other items (``tool_search_call``) send an object here."""


# Token counts are non-negative JSON integers (TokenCount): anything else is a malformed answer.
class _RInputDetails(msgspec.Struct):
    cached_tokens: TokenCount | None = None
    cache_write_tokens: TokenCount | None = None


class _ROutputDetails(msgspec.Struct):
    reasoning_tokens: TokenCount | None = None


class _RUsage(msgspec.Struct):
    input_tokens: TokenCount | None = None
    output_tokens: TokenCount | None = None
    total_tokens: TokenCount | None = None
    input_tokens_details: _RInputDetails | None = None
    output_tokens_details: _ROutputDetails | None = None


class _RIncomplete(msgspec.Struct):
    reason: str | None = None


class _RResponse(msgspec.Struct):
    id: str | None = None
    object: str | None = None
    created_at: int | float | None = None
    model: str | None = None
    status: str | None = None
    output: list[_RItem] | None = None
    usage: _RUsage | None = None
    error: _RErrorDetail | None = None
    incomplete_details: _RIncomplete | None = None


class _REvent(msgspec.Struct):
    """Any streamed event: the fields each ``type`` uses (see the module docstring)."""

    type: str | None = None
    response: _RResponse | None = None
    item: _RItem | None = None
    output_index: int | None = None
    content_index: int | None = None
    summary_index: int | None = None
    delta: Any = None
    """A string for text, summary and argument deltas; other events (shell output) send objects."""
    # An "error" event: the SDK's type has these at the top level, real streams nest them under "error".
    error: _RErrorDetail | None = None
    code: str | int | None = None
    message: str | None = None
    param: str | None = None


class _RType(msgspec.Struct):
    type: Any = None


_ENCODER = msgspec.json.Encoder()
_RESPONSE = msgspec.json.Decoder(_RResponse)
_EVENT = msgspec.json.Decoder(_REvent)
_TYPE = msgspec.json.Decoder(_RType)
# The events this fold reads; any other event whose shape differs from ours is skipped, not fatal
# (the API adds event types for hosted tools often).
_READ = frozenset(
    {
        "response.created",
        "response.output_item.added",
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
        "response.output_item.done",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "error",
    }
)

# incomplete_details.reason → our finish reason. Documented reasons: max_output_tokens, content_filter.
_INCOMPLETE: dict[str, FinishReason] = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def _default_url(d: OpenAIDialect, base: str, model: str, cfg: ProviderConfig) -> str:
    return join_url(base, "/responses")


def azure_responses_url(d: OpenAIDialect, base: str, model: str, cfg: ProviderConfig) -> str:
    """Azure's Responses URL. Unlike chat, a dated ``api-version`` is *not* deployment-scoped: the
    deployment is the body's ``model`` ("POST {endpoint}/openai/responses?api-version=2025-03-01-preview",
    https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses).

    >>> azure_responses_url(AZURE, "https://r.openai.azure.com", "d", ProviderConfig(api_version="2025-04-01-preview"))
    'https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview'
    >>> azure_responses_url(AZURE, "https://r.openai.azure.com/openai/v1", "d", ProviderConfig())
    'https://r.openai.azure.com/openai/v1/responses'
    """
    version = cfg.api_version
    if version is not None and version[:1].isdigit():
        endpoint = base.rstrip("/").removesuffix("/openai/v1").removesuffix("/openai")
        return join_url(endpoint, "/openai/responses") + "?" + urlencode({"api-version": version})
    return azure_url(dataclasses.replace(d, chat_path="/responses"), base, model, cfg)


class ResponsesDialect:
    """The Responses API of one server; ``chat`` is that server's Chat Completions configuration
    (auth, base URL, error decoding are the same for both APIs).

    A plain immutable value, not a dataclass: its name and base URL are ``chat``'s, so a registry row
    borrowing it is not relabelled field by field (``registry._labelled``); build
    ``ResponsesDialect(dataclasses.replace(chat, name=…))`` for another server instead.
    """

    __slots__ = ("chat",)
    chat: OpenAIDialect

    def __init__(self, chat: OpenAIDialect) -> None:
        object.__setattr__(self, "chat", chat)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"ResponsesDialect({self.chat.name!r}, {self.chat.default_base_url!r})"

    @property
    def name(self) -> str:
        return self.chat.name

    @property
    def default_base_url(self) -> str:
        return self.chat.default_base_url

    # -- encode ---------------------------------------------------------------------------------

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]:
        if (empty := refuse_empty(self.name, req)) is not None:
            return empty
        if req.stop:
            return invalid_request(self.name, "the Responses API has no stop sequences: leave stop empty")
        # The chat dialect checks key, base URL and builds the URL/headers; only the body differs.
        addressed = self.chat.address(req.model, cfg, stream=stream)
        if type(addressed) is Failure:
            return addressed
        model, url, headers = addressed.unwrap()
        instructions: list[str] = []
        items: list[_WItem] = []
        leading = True
        encrypted = False
        for m in req.messages:
            if m.role is Role.SYSTEM and leading:
                if any(isinstance(p, ImagePart) for p in m.parts):
                    return invalid_request(self.name, "images are not allowed in system messages")
                instructions.append(m.text)
                continue
            leading = False
            problem = _encode_message(m, items)
            if problem is not None:
                return invalid_request(self.name, problem)
            encrypted = encrypted or any(
                isinstance(p, ReasoningPart) and (p.signature or p.redacted) for p in m.parts
            )
        body = _WRequest(model=model, input=items)
        if instructions:
            body.instructions = "\n\n".join(instructions)
        if req.tools:
            # Responses makes a function strict when "strict" is left out, which rejects most
            # hand-written schemas; None means "as Chat Completions does", i.e. not strict.
            body.tools = [
                _WFunctionTool(
                    t.name,
                    t.parameters,
                    bool(t.strict),
                    UNSET if t.description is None else t.description,
                )
                for t in req.tools
            ]
        if req.tool_choice is not None:
            body.tool_choice = (
                _WToolChoiceFunction(req.tool_choice.name)
                if isinstance(req.tool_choice, ToolChoiceFunction)
                else req.tool_choice
            )
        if req.temperature is not None:
            body.temperature = req.temperature
        if req.top_p is not None:
            body.top_p = req.top_p
        if req.max_tokens is not None:
            body.max_output_tokens = req.max_tokens
        if req.user is not None:
            body.user = req.user
        if req.response_format is not None:
            rf = req.response_format
            if rf.type == "json_schema":
                # Flat in Responses: {"type": "json_schema", "name", "schema", "strict"} under text.format.
                body.text = _WText(
                    _WFormat(
                        "json_schema",
                        rf.name,
                        rf.schema if rf.schema is not None else {"type": "object"},
                        UNSET if rf.strict is None else rf.strict,
                    )
                )
            else:
                body.text = _WText(_WFormat(rf.type))
        if req.reasoning is not None:
            r = req.reasoning
            body.reasoning = _WReasoning(
                UNSET if r.effort is None else r.effort, "auto" if r.include_thoughts else UNSET
            )
        if req.reasoning is not None or encrypted:
            body.include = [ENCRYPTED_REASONING]
        if "previous_response_id" in req.provider_options:
            body.store = True
        if stream:
            body.stream = True
        merged = merge_provider_options(self.name, _ENCODER.encode(body), req.provider_options)
        if type(merged) is Failure:
            return merged
        return ok(HttpRequest("POST", url, headers, merged.unwrap()))

    # -- decode ---------------------------------------------------------------------------------

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]:
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            r = _RESPONSE.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if r.error is not None or r.status in ("failed", "cancelled"):
            return Failure(self._failed(r, resp.status))
        if r.output is None:
            return Failure(malformed(self.name, "no output in the response", resp.body, status=resp.status))
        out = r.output
        if len(out) == 1 and out[0].type == "message" and out[0].content and len(out[0].content) == 1:
            part = out[0].content[0]
            if part.type == "output_text":
                # The usual answer, one text part: what the fold below returns, without building chunks.
                finish, raw = _finish(r, False)
                return ok(
                    settle(ChatResponse(
                        id=r.id or "",
                        model=r.model or "",
                        created=int(r.created_at or 0),
                        message=assistant_text(part.text or ""),
                        finish_reason=finish,
                        raw_finish_reason=raw,
                        usage=_usage(r.usage) or Usage(),
                        provider=self.name,
                    ))
                )
        chunks = [_head(r)]
        calls = 0
        for item in r.output:
            chunks.extend(_item_chunks(item, calls))
            calls += item.type == "function_call"
        chunks.append(_tail(r, calls > 0))
        return Success(fold_chunks(chunks, self.name))

    def decode_error(self, resp: HttpResponse) -> LlmError:
        return self.chat.decode_error(resp)

    def _failed(self, r: _RResponse, status: int) -> LlmError:
        d = r.error or _RErrorDetail(message=f"the response {r.status or 'failed'}")
        # The error object has Chat Completions' fields (code, message): the same code table applies.
        return self.chat._error_from_detail(d, HttpResponse(status))

    # -- stream ---------------------------------------------------------------------------------

    def stream_start(self, max_event_bytes: int = sse.DEFAULT_MAX_EVENT_BYTES) -> ResponsesStreamState:
        return ResponsesStreamState(sse=sse.start(max_event_bytes))

    def stream_feed(
        self, state: ResponsesStreamState, data: bytes
    ) -> tuple[ResponsesStreamState, tuple[StreamEvent, ...]]:
        if state.failed or state.done:
            return state, ()
        sst, events = sse.feed(state.sse, data)
        match events:
            case (ev,) if ev.event == "response.output_text.delta":
                # The usual read (issue 19): one text delta. Anything else it turns out to be is
                # decoded again below, by the general fold.
                try:
                    e: _REvent | None = _EVENT.decode(ev.data)
                except DECODE_ERRORS:
                    e = None
                if e is not None and e.type == "response.output_text.delta":
                    delta = e.delta if type(e.delta) is str else None
                    if not delta:
                        return msgspec.structs.replace(state, sse=sst), ()
                    return msgspec.structs.replace(state, sse=sst, item_emitted=True), (ChatChunk(text=delta),)
        st = msgspec.structs.replace(state, sse=sst)
        if not events:
            return st, ()
        return self._on_events(st, events)

    def _on_events(
        self, st: ResponsesStreamState, events: tuple[sse.SseEvent, ...]
    ) -> tuple[ResponsesStreamState, tuple[StreamEvent, ...]]:
        out: list[StreamEvent] = []
        for ev in events:
            if st.done:
                break
            if ev.data == b"[DONE]":
                continue
            try:
                e = _EVENT.decode(ev.data)
            except DECODE_ERRORS as exc:
                kind = _event_type(ev.data)
                if isinstance(kind, str) and kind not in _READ:
                    continue  # valid JSON of an event we do not read, with fields shaped unlike ours
                out.append(stream_error(self.name, f"malformed stream event: {exc}", ev.data))
                return msgspec.structs.replace(st, failed=True), tuple(out)
            st, failure = self._on_event(st, e, out)
            if failure is not None:
                out.append(failure)
                return msgspec.structs.replace(st, failed=True), tuple(out)
        return st, tuple(out)

    def _on_event(
        self, st: ResponsesStreamState, e: _REvent, out: list[StreamEvent]
    ) -> tuple[ResponsesStreamState, LlmError | None]:
        t = e.type or ""
        replace = msgspec.structs.replace
        if t == "response.created":
            if e.response is not None and not st.started:
                out.append(_head(e.response))
            return replace(st, started=True), None
        if t == "response.output_item.added" and e.item is not None:
            item = e.item
            st = replace(st, item=e.output_index, item_emitted=False, piece=None, call=-1)
            if item.type == "function_call":
                out.append(
                    ChatChunk(
                        tool_calls=(
                            ToolCallDelta(
                                index=st.calls, id=item.call_id or item.id or f"call_{st.calls}", name=item.name or ""
                            ),
                        )
                    )
                )
                args = _arguments(item)
                if args:
                    out.append(_args(st.calls, args))
                st = replace(st, call=st.calls, calls=st.calls + 1, item_emitted=bool(args))
            return st, None
        delta = e.delta if type(e.delta) is str else None
        if t in ("response.output_text.delta", "response.refusal.delta"):
            if delta:
                out.append(ChatChunk(text=delta) if t == "response.output_text.delta" else ChatChunk(refusal=delta))
                st = replace(st, item_emitted=True)
            return st, None
        if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            if delta:
                piece = ("s" if t == "response.reasoning_summary_text.delta" else "c", e.summary_index or e.content_index or 0)
                # Summary parts are joined with a blank line, as decode_response joins them.
                sep = "\n\n" if st.item_emitted and st.piece != piece else ""
                out.append(ChatChunk(reasoning=sep + delta))
                st = replace(st, item_emitted=True, piece=piece)
            return st, None
        if t == "response.function_call_arguments.delta":
            if delta and st.call >= 0:
                out.append(_args(st.call, delta))
                st = replace(st, item_emitted=True)
            return st, None
        if t == "response.output_item.done" and e.item is not None:
            item = e.item
            if item.type == "function_call":
                if st.call < 0 or st.item != e.output_index:  # never announced: the whole call now
                    out.extend(_item_chunks(item, st.calls))
                    return replace(st, calls=st.calls + 1, item=None, call=-1), None
                if not st.item_emitted and _arguments(item):
                    out.append(_args(st.call, _arguments(item)))
            elif item.type == "reasoning":
                if st.item_emitted:
                    if item.encrypted_content:
                        out.append(ChatChunk(reasoning_signature=item.encrypted_content))
                else:
                    out.extend(_item_chunks(item, st.calls))
            elif item.type == "message" and not st.item_emitted:
                # A server that sent no deltas for this message: its text is here.
                out.extend(_item_chunks(item, st.calls))
            return replace(st, item=None, call=-1, item_emitted=False, piece=None), None
        if t in ("response.completed", "response.incomplete"):
            r = e.response or _RResponse()
            has_calls = st.calls > 0 or any(i.type == "function_call" for i in r.output or ())
            out.append(_tail(r, has_calls))
            return replace(st, done=True), None
        if t == "response.failed":
            r = e.response or _RResponse(status="failed")
            return st, self._stream_failure(self._failed(r, 200))
        if t == "error":
            d = e.error or _RErrorDetail(message=e.message, code=e.code, param=e.param)
            return st, self._stream_failure(self.chat._error_from_detail(d, HttpResponse(200)))
        # response.in_progress, content_part.*, *.done, annotations, hosted-tool progress: nothing new.
        return st, None

    def _stream_failure(self, err: LlmError) -> LlmError:
        return LlmError(
            kind=err.kind if err.kind is not ErrorKind.PROVIDER else ErrorKind.STREAMING,
            message=f"error event mid-stream: {err.message}",
            provider=self.name,
            code=err.code,
            retryable=err.retryable,
            raw=err.raw,
        )

    def stream_finish(self, state: ResponsesStreamState) -> Result[tuple[ChatChunk, ...], LlmError]:
        if state.failed:
            return Failure(stream_error(self.name, "stream already failed", b""))
        st, events = (state, ()) if state.done else self._on_events(state, sse.finish(state.sse))
        return close_stream(
            self.name, events, complete=st.done, missing="response.completed or response.incomplete missing"
        )


class ResponsesStreamState(msgspec.Struct, frozen=True):
    """The fold's state: only scalars about the item being streamed (items arrive one after another),
    so each event costs the same however long the stream is."""

    sse: sse.SseState = sse.SseState()
    started: bool = False
    done: bool = False
    failed: bool = False
    calls: int = 0
    """Function calls announced so far (the next one's tool index)."""
    item: int | None = None
    """``output_index`` of the item being streamed."""
    call: int = -1
    """Tool index of the item being streamed, when it is a function call."""
    item_emitted: bool = False
    """Whether any of the current item's content was emitted from deltas."""
    piece: tuple[str, int] | None = None
    """The reasoning summary/content part the last reasoning delta belonged to."""


def _encode_message(m: Message, items: list[_WItem]) -> str | None:
    role = m.role
    if role is Role.TOOL:
        if not m.tool_call_id:
            return "a tool message needs tool_call_id"
        items.append(_WFunctionCallOutputItem(m.tool_call_id, m.text))
        return None
    if role is Role.ASSISTANT:
        for p in m.parts:
            if isinstance(p, ReasoningPart):
                # Only encrypted reasoning can be sent back when nothing is stored; bare summary
                # text cannot be replayed and is dropped, as Chat Completions drops it.
                if p.signature:
                    summary = [_WSummaryText(p.text)] if p.text else []
                    items.append(_WReasoningItem(summary, p.signature))
                elif p.redacted:
                    items.append(_WReasoningItem([], p.redacted))
        text = m.text
        if text:
            items.append(_WMessageItem("assistant", text))
        items.extend(_WFunctionCallItem(tc.id, tc.name, tc.arguments or "{}") for tc in m.tool_calls)
        return None
    if isinstance(m.content, str):
        items.append(_WMessageItem(role.value, m.content))
        return None
    parts: list[_WInputText | _WInputImage] = []
    for p in m.content:
        if isinstance(p, TextPart):
            parts.append(_WInputText(p.text))
        elif isinstance(p, ImagePart):
            if role is not Role.USER:
                return f"images are only allowed in user messages, not {role.value}"
            url = p.url if p.url is not None else f"data:{p.media_type};base64,{p.data}"
            parts.append(_WInputImage(url, p.detail or "auto"))
    if role is Role.SYSTEM:
        if any(isinstance(p, _WInputImage) for p in parts):
            return "images are not allowed in system messages"
        items.append(_WMessageItem("system", "".join(p.text for p in parts if isinstance(p, _WInputText))))
    else:
        items.append(_WMessageItem(role.value, parts))
    return None


def _event_type(data: bytes) -> object:
    try:
        return _TYPE.decode(data).type
    except DECODE_ERRORS:
        return None


def _arguments(item: _RItem) -> str:
    return item.arguments if type(item.arguments) is str else ""


def _args(index: int, arguments: str) -> ChatChunk:
    return ChatChunk(tool_calls=(ToolCallDelta(index=index, arguments=arguments),))


def _head(r: _RResponse) -> ChatChunk:
    return ChatChunk(id=r.id or None, model=r.model or None, created=int(r.created_at or 0) or None)


def _item_chunks(item: _RItem, call_index: int) -> list[ChatChunk]:
    """One output item as the chunks a stream of it yields (the fold turns both into one message)."""
    if item.type == "message":
        out = []
        for c in item.content or ():
            if c.type == "output_text" and c.text:
                out.append(ChatChunk(text=c.text))
            elif c.type == "refusal" and c.refusal:
                out.append(ChatChunk(refusal=c.refusal))
        return out
    if item.type == "reasoning":
        pieces = [s.text for s in item.summary or () if s.text]
        pieces += [c.text for c in item.content or () if c.type == "reasoning_text" and c.text]
        text = "\n\n".join(pieces)
        if not text:
            # Encrypted reasoning without a summary: kept whole, so it can be sent back.
            return [ChatChunk(redacted_reasoning=item.encrypted_content)] if item.encrypted_content else []
        out = [ChatChunk(reasoning=text)]
        if item.encrypted_content:
            out.append(ChatChunk(reasoning_signature=item.encrypted_content))
        return out
    if item.type == "function_call":
        return [
            ChatChunk(
                tool_calls=(
                    ToolCallDelta(
                        index=call_index,
                        id=item.call_id or item.id or f"call_{call_index}",
                        name=item.name or "",
                        arguments=_arguments(item),
                    ),
                )
            )
        ]
    return []  # hosted tools (web search, file search, …): not mapped to our schema


def _usage(u: _RUsage | None) -> Usage | None:
    if u is None:
        return None
    prompt, completion = u.input_tokens or 0, u.output_tokens or 0
    inp, outp = u.input_tokens_details, u.output_tokens_details
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,  # "output_tokens" already counts the reasoning tokens
        total_tokens=u.total_tokens if u.total_tokens is not None else prompt + completion,
        cached_tokens=(inp.cached_tokens or 0) if inp else 0,
        cache_write_tokens=(inp.cache_write_tokens or 0) if inp else 0,
        reasoning_tokens=(outp.reasoning_tokens or 0) if outp else 0,
    )


def _finish(r: _RResponse, has_calls: bool) -> tuple[FinishReason, str | None]:
    if r.status == "incomplete":
        reason = r.incomplete_details.reason if r.incomplete_details else None
        return _INCOMPLETE.get(reason or "", FinishReason.OTHER), reason or "incomplete"
    if r.status == "completed":
        return (FinishReason.TOOL_CALLS if has_calls else FinishReason.STOP), r.status
    return FinishReason.OTHER, r.status


def _tail(r: _RResponse, has_calls: bool) -> ChatChunk:
    finish, raw = _finish(r, has_calls)
    return settle(ChatChunk(
        finish_reason=finish,
        raw_finish_reason=raw,
        usage=_usage(r.usage),
        id=r.id or None,
        model=r.model or None,
        created=int(r.created_at or 0) or None,
    ))


OPENAI_RESPONSES = ResponsesDialect(
    dataclasses.replace(OPENAI, name="openai_responses", url_for=_default_url, model_names=("openai_responses", "openai"))
)
AZURE_RESPONSES = ResponsesDialect(dataclasses.replace(AZURE, url_for=azure_responses_url))
# Other servers that added /v1/responses (Ollama's OpenAI-compatible API, vLLM, LM Studio): base URL required.
COMPATIBLE_RESPONSES = ResponsesDialect(dataclasses.replace(OPENAI_COMPATIBLE, url_for=_default_url))

# provider → its Responses dialect, for LlmConfig.with_provider(name, api="responses").
RESPONSES_FOR: dict[str, ResponsesDialect] = {
    "openai": OPENAI_RESPONSES,
    "openai_responses": OPENAI_RESPONSES,
    "azure": AZURE_RESPONSES,
    "openai_compatible": COMPATIBLE_RESPONSES,
}


def responses_dialect_for(provider: str) -> ResponsesDialect | None:
    """The Responses dialect of ``provider``, or ``None`` when it serves no Responses API here."""
    return RESPONSES_FOR.get(provider)

