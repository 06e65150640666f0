"""Anthropic Messages, as a pure dialect.

Wire reference: https://docs.anthropic.com/en/api/messages (create), /en/api/messages-streaming
(SSE events), /en/api/errors (error shapes), /en/api/messages-count-tokens, and the official
``anthropic`` SDK's types, which the tests use as the oracle.

How the unified schema maps onto the Messages API:

* ``system`` messages are lifted to the top-level ``system`` field (a string for one, a list of
  text blocks for several); the API has no system role inside ``messages``.
* Tool results (``Role.TOOL``) become ``tool_result`` blocks in a *user* turn, and consecutive
  turns of the same role are merged into one, so the results of parallel calls travel together in
  the user turn right after the assistant's ``tool_use`` blocks, as the API requires.
* An assistant turn sends its signed ``ReasoningPart``\\ s back first, as ``thinking`` /
  ``redacted_thinking`` blocks, verbatim ("you must pass thinking blocks back to the API
  unmodified" — extended-thinking docs). Unsigned reasoning (e.g. from another provider) cannot
  be verified by Anthropic and is left out.
* ``max_tokens`` is required by the API: the request's value, else the catalog's max output for the
  model, else :data:`DEFAULT_MAX_TOKENS`; with extended thinking it is raised above the budget.
* ``reasoning.budget_tokens`` → ``thinking: {type: enabled, budget_tokens}``; ``reasoning.effort``
  alone → ``output_config.effort``. ``response_format`` json_schema → ``output_config.format``
  (structured outputs); ``json_object`` has no Anthropic equivalent and is refused. ``user`` →
  ``metadata.user_id``; ``seed`` has no equivalent and is not sent. ``provider_options`` are merged
  into the top level of the body (``top_k``, ``metadata``, ``service_tier``, …).
* ``Usage.prompt_tokens`` = ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``
  ("total input tokens in a request is the summation" of the three — API reference), with
  ``cached_tokens`` = cache reads and ``cache_write_tokens`` = cache writes (``cache_write_1h_tokens``
  from ``usage.cache_creation.ephemeral_1h_input_tokens``).
* A :class:`CacheControl` breakpoint → ``cache_control: {"type": "ephemeral"}`` (plus ``"ttl": "1h"``)
  on the tool, the text part, or the last block of the message it is set on; a marked system
  prompt is sent as a list of text blocks. At most 4 per request, 1h before 5m
  (:mod:`interlingua.core.prompt_cache`), checked before sending.

>>> from .schema import ChatRequest, Message
>>> from .secret import Secret
>>> r = ANTHROPIC.encode_request(
...     ChatRequest(model="claude-sonnet-4-5", max_tokens=64,
...                 messages=(Message.system("Be brief."), Message.user("hi"))),
...     ProviderConfig(api_key=Secret("sk-ant-test"))).unwrap()
>>> r.url, r.headers["x-api-key"], r.headers["anthropic-version"]
('https://api.anthropic.com/v1/messages', 'sk-ant-test', '2023-06-01')
>>> r.body
b'{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"system":"Be brief."}'
>>> body = b'{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","usage":{"input_tokens":9,"output_tokens":2}}'
>>> resp = ANTHROPIC.decode_response(HttpResponse(200, body=body)).unwrap()
>>> resp.text, resp.finish_reason.value, resp.usage.total_tokens
('Hello', 'stop', 11)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from returns.result import Failure, Result, Success

from . import sse
from ._memo import remember
from ._pieces import Pieces
from ._result import ok
from .dialect import (
    DECODE_ERRORS,
    ProviderConfig,
    StreamEvent,
    before_output,
    close_stream,
    error_from_response,
    invalid_request,
    join_url,
    malformed,
    should_retry_hint,
    stream_error,
    too_long_error,
)
from .errors import ErrorKind, LlmError
from .http import Headers, HttpRequest, HttpResponse
from .prompt_cache import breakpoint_problem
from .schema import (
    CacheControl,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    Role,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoiceFunction,
    Usage,
    assistant_message,
    assistant_text,
)
from .shared import (
    USER_AGENT,
    TokenCount,
    merge_provider_options,
    preflight,
    refuse_empty,
    settle,
    strip_model_prefix,
)

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_FINISH_OTHER, _ASSISTANT, _SYSTEM, _TOOL = FinishReason.OTHER, Role.ASSISTANT, Role.SYSTEM, Role.TOOL

__all__ = ["ANTHROPIC", "API_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicDialect", "AnthropicStreamState"]

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when neither the request nor the catalog gives one. The API requires the field;
4096 is the largest output every current Claude model accepts (Claude 3 Haiku's limit)."""

# ---------------------------------------------------------------------------------------------
# Request wire types (https://docs.anthropic.com/en/api/messages). UNSET fields are left out.


class _WCacheControl(msgspec.Struct):
    """https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching: ``{"type": "ephemeral"}``,
    with ``"ttl": "1h"`` for the one-hour cache (5 minutes when absent)."""

    type: str = "ephemeral"
    ttl: str | UnsetType = UNSET


_CC_5M = _WCacheControl()
_CC_1H = _WCacheControl(ttl="1h")


def _cc(c: CacheControl | None) -> _WCacheControl | UnsetType:
    if c is None:
        return UNSET
    return _CC_1H if c.ttl == "1h" else _CC_5M


class _WText(msgspec.Struct, tag="text", tag_field="type"):
    text: str
    cache_control: _WCacheControl | UnsetType = UNSET


class _WBase64Source(msgspec.Struct, tag="base64", tag_field="type"):
    media_type: str
    data: str


class _WUrlSource(msgspec.Struct, tag="url", tag_field="type"):
    url: str


class _WImage(msgspec.Struct, tag="image", tag_field="type"):
    source: _WBase64Source | _WUrlSource
    cache_control: _WCacheControl | UnsetType = UNSET


class _WToolUse(msgspec.Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: Any
    cache_control: _WCacheControl | UnsetType = UNSET


class _WToolResult(msgspec.Struct, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: str | list[_WText | _WImage]
    is_error: bool | UnsetType = UNSET
    cache_control: _WCacheControl | UnsetType = UNSET


class _WThinking(msgspec.Struct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str


class _WRedactedThinking(msgspec.Struct, tag="redacted_thinking", tag_field="type"):
    data: str


_WBlock = _WText | _WImage | _WToolUse | _WToolResult | _WThinking | _WRedactedThinking


class _WMessage(msgspec.Struct):
    role: str
    content: str | list[_WBlock]


class _WTool(msgspec.Struct):
    name: str
    input_schema: dict[str, Any]
    description: str | UnsetType = UNSET
    strict: bool | UnsetType = UNSET
    cache_control: _WCacheControl | UnsetType = UNSET


class _WToolChoice(msgspec.Struct):
    type: str
    name: str | UnsetType = UNSET


class _WThinkingConfig(msgspec.Struct):
    type: str
    budget_tokens: int


class _WOutputFormat(msgspec.Struct):
    type: str
    schema: dict[str, Any]


class _WOutputConfig(msgspec.Struct):
    format: _WOutputFormat | UnsetType = UNSET
    effort: str | UnsetType = UNSET


class _WMetadata(msgspec.Struct):
    user_id: str


class _WRequest(msgspec.Struct):
    model: str
    max_tokens: int | UnsetType
    messages: list[_WMessage]
    system: str | list[_WText] | UnsetType = UNSET
    tools: list[_WTool] | UnsetType = UNSET
    tool_choice: _WToolChoice | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    thinking: _WThinkingConfig | UnsetType = UNSET
    output_config: _WOutputConfig | UnsetType = UNSET
    metadata: _WMetadata | UnsetType = UNSET
    stream: bool | UnsetType = UNSET


# ---------------------------------------------------------------------------------------------
# Response wire types: every field optional and nullable, unknown fields and unknown block types
# ignored (server tools, citations, containers … are added to the API over time).


class _RBlock(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None


class _ROutputDetails(msgspec.Struct):
    thinking_tokens: TokenCount | None = None


class _RCacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: TokenCount | None = None
    ephemeral_1h_input_tokens: TokenCount | None = None


class _RUsage(msgspec.Struct):
    input_tokens: TokenCount | None = None
    output_tokens: TokenCount | None = None
    cache_creation_input_tokens: TokenCount | None = None
    cache_read_input_tokens: TokenCount | None = None
    cache_creation: _RCacheCreation | None = None
    """The cache writes split by TTL (the 1-hour ones are billed at 2x input, the 5-minute at 1.25x)."""
    output_tokens_details: _ROutputDetails | None = None


class _RErrorDetail(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class _RMessage(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    role: str | None = None
    model: str | None = None
    content: list[_RBlock] | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: _RUsage | None = None
    error: _RErrorDetail | None = None
    request_id: str | None = None


class _RDelta(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None


class _REvent(msgspec.Struct):
    type: str | None = None
    message: _RMessage | None = None
    index: int | None = None
    content_block: _RBlock | None = None
    delta: _RDelta | None = None
    usage: _RUsage | None = None
    error: _RErrorDetail | None = None


class _RCount(msgspec.Struct):
    input_tokens: TokenCount | None = None
    type: str | None = None
    error: _RErrorDetail | None = None


_ENCODER = msgspec.json.Encoder()
_MESSAGE = msgspec.json.Decoder(_RMessage)
_EVENT = msgspec.json.Decoder(_REvent)
_COUNT = msgspec.json.Decoder(_RCount)
_ANY = msgspec.json.Decoder()

# https://docs.anthropic.com/en/api/messages — "stop_reason"
FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    "pause_turn": FinishReason.OTHER,
}

# https://docs.anthropic.com/en/api/errors — error.type -> kind (before the status default).
ERROR_TYPES: dict[str, ErrorKind] = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "billing_error": ErrorKind.PERMISSION,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.INVALID_REQUEST,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "timeout_error": ErrorKind.TIMEOUT,
    "api_error": ErrorKind.PROVIDER,
    "overloaded_error": ErrorKind.OVERLOADED,
}

TOOL_CHOICES: dict[str, str] = {"auto": "auto", "required": "any", "none": "none"}
# Anthropic's effort levels are low/medium/high(/xhigh/max); "minimal" has no twin, low is nearest.
EFFORTS: dict[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


def _no_known_limit(model: str) -> int | None:
    return None


# (id(dialect), id(cfg), model string, path, streamed) -> (dialect, cfg, (model id, URL, headers)): the
# key, config and base-URL checks passed and their result, pure and the same on every request (issue
# 19). The entry holds the dialect and the config, so their ids stay theirs while cached (``is``
# confirms a hit). Headers are immutable and shared. Bounded: cleared when full.
_ADDRESSED: dict[tuple[int, int, str, str, bool], tuple[Any, ProviderConfig, tuple[str, str, Headers]]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class AnthropicDialect:
    """Anthropic's Messages API. ``max_output_tokens`` answers "what max_tokens fits this model" when
    the request has none (default: unknown, so :data:`DEFAULT_MAX_TOKENS`). The client's path fills
    ``max_tokens`` from the configured catalog before encoding (:func:`.prepare.fill_max_tokens`);
    no dialect reads a global catalog."""

    name: str = "anthropic"
    default_base_url: str = "https://api.anthropic.com"
    messages_path: str = "/v1/messages"
    count_tokens_path: str = "/v1/messages/count_tokens"
    api_version: str = API_VERSION
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    max_output_tokens: Callable[[str], int | None] = _no_known_limit
    model_names: tuple[str, ...] = ("anthropic",)

    # -- encode ---------------------------------------------------------------------------------

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]:
        built = self._request(req, cfg, self.messages_path, stream)
        if type(built) is Failure:
            return built
        body, url, headers = built
        if stream:
            body.stream = True
        raw = _ENCODER.encode(body)
        if req.provider_options:  # merge_provider_options leaves the body as it is without any (issue 19)
            merged = merge_provider_options(self.name, raw, req.provider_options)
            if type(merged) is Failure:
                return merged
            raw = merged.unwrap()
        return ok(HttpRequest("POST", url, headers, raw))

    def encode_count_tokens(self, req: ChatRequest, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
        """``POST /v1/messages/count_tokens`` for ``req``: only the fields that endpoint accepts
        (model, messages, system, tools, tool_choice, thinking, output_config).

        >>> from .schema import ChatRequest, Message
        >>> from .secret import Secret
        >>> r = ANTHROPIC.encode_count_tokens(ChatRequest(model="claude-haiku-4-5", messages=(Message.user("hi"),)),
        ...                                   ProviderConfig(api_key=Secret("k"))).unwrap()
        >>> r.url, r.body
        ('https://api.anthropic.com/v1/messages/count_tokens', b'{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}')
        """
        built = self._request(req, cfg, self.count_tokens_path, False)
        if type(built) is Failure:
            return built
        body, url, headers = built
        body = msgspec.structs.replace(
            body, max_tokens=UNSET, stop_sequences=UNSET, temperature=UNSET, top_p=UNSET, metadata=UNSET
        )
        return Success(HttpRequest("POST", url, headers, _ENCODER.encode(body)))

    def decode_count_tokens(self, resp: HttpResponse) -> Result[int, LlmError]:
        """The ``input_tokens`` of a count_tokens reply, or the error it carries.

        >>> ANTHROPIC.decode_count_tokens(HttpResponse(200, body=b'{"input_tokens":14}')).unwrap()
        14
        """
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            c = _COUNT.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if c.error is not None or c.type == "error":
            return Failure(self._error_from_detail(c.error or _RErrorDetail(), resp))
        if c.input_tokens is None:
            return Failure(malformed(self.name, "no input_tokens in the reply", resp.body, status=resp.status))
        return Success(c.input_tokens)

    def _request(
        self, req: ChatRequest, cfg: ProviderConfig, path: str, stream: bool
    ) -> tuple[_WRequest, str, Headers] | Failure[LlmError]:
        """The body, URL and headers of a request to ``path``, or the first reason there is none."""
        if (empty := refuse_empty(self.name, req)) is not None:
            return empty
        addressed = self._address(req, cfg, path, stream)
        if type(addressed) is Failure:
            return addressed
        model, url, headers = addressed.unwrap()
        body = self._body(req, model)
        if type(body) is Failure:
            return body
        return body, url, headers

    def _address(self, req: ChatRequest, cfg: ProviderConfig, path: str, stream: bool) -> Result[tuple[str, str, Headers], LlmError]:
        """The model id, URL and headers of a request to ``path``, once the key and the config are checked."""
        key = (id(self), id(cfg), req.model, path, stream)
        hit = _ADDRESSED.get(key)
        if hit is not None and hit[0] is self and hit[1] is cfg:
            return ok(hit[2])
        if not cfg.api_key:
            return Failure(
                LlmError(
                    kind=ErrorKind.AUTHENTICATION,
                    message="no API key for anthropic: pass api_key= or set ANTHROPIC_API_KEY",
                    code="missing_api_key",
                    provider=self.name,
                )
            )
        base = cfg.base_url or self.default_base_url
        checked = preflight(self.name, cfg, base)
        if type(checked) is Failure:
            return checked
        addressed = (strip_model_prefix(req.model, *self.model_names), join_url(base, path), self._headers(cfg, stream))
        return ok(remember(_ADDRESSED, key, (self, cfg, addressed))[2])

    def _headers(self, cfg: ProviderConfig, stream: bool) -> Headers:
        headers: list[tuple[str, str]] = [
            ("content-type", "application/json"),
            ("accept", "text/event-stream" if stream else "application/json"),
            ("anthropic-version", cfg.api_version or self.api_version),
            ("user-agent", USER_AGENT),
        ]
        if cfg.api_key:
            headers.append(("x-api-key", cfg.api_key.reveal()))
        headers.extend(cfg.headers)
        return Headers(headers)

    def _body(self, req: ChatRequest, model: str) -> _WRequest | Failure[LlmError]:
        problem = breakpoint_problem(req)
        if problem is not None:
            return invalid_request(self.name, problem)
        encoded = _encode_messages(req.messages)
        if isinstance(encoded, str):
            return invalid_request(self.name, encoded)
        system, messages = encoded
        body = _WRequest(model=model, max_tokens=self._max_tokens(req, model), messages=messages)
        if system:
            body.system = system[0].text if len(system) == 1 and system[0].cache_control is UNSET else system
        if req.tools:
            body.tools = [
                _WTool(
                    t.name,
                    t.parameters,
                    UNSET if t.description is None else t.description,
                    UNSET if t.strict is None else t.strict,
                    _cc(t.cache),
                )
                for t in req.tools
            ]
        if req.tool_choice is not None:
            body.tool_choice = (
                _WToolChoice("tool", req.tool_choice.name)
                if isinstance(req.tool_choice, ToolChoiceFunction)
                else _WToolChoice(TOOL_CHOICES[req.tool_choice])
            )
        if req.stop:
            body.stop_sequences = list(req.stop)
        if req.temperature is not None:
            body.temperature = req.temperature
        if req.top_p is not None:
            body.top_p = req.top_p
        if req.user is not None:
            body.metadata = _WMetadata(req.user)
        output = _WOutputConfig()
        if req.reasoning is not None:
            if req.reasoning.budget_tokens is not None:
                body.thinking = _WThinkingConfig("enabled", req.reasoning.budget_tokens)
            elif req.reasoning.effort is not None:
                output.effort = EFFORTS[req.reasoning.effort]
        if req.response_format is not None:
            rf = req.response_format
            if rf.type == "json_object":
                return invalid_request(
                    self.name,
                    "Anthropic has no schemaless JSON mode (response_format json_object); "
                    "use a json_schema response format (sent as output_config.format)",
                )
            if rf.type == "json_schema":
                if rf.schema is None:
                    return invalid_request(self.name, "a json_schema response format needs a schema")
                # https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs
                output.format = _WOutputFormat("json_schema", rf.schema)
        if output.format is not UNSET or output.effort is not UNSET:
            body.output_config = output
        return body

    def _max_tokens(self, req: ChatRequest, model: str) -> int:
        if req.max_tokens is not None:
            return req.max_tokens
        limit = self.max_output_tokens(model) or self.default_max_tokens
        budget = req.reasoning.budget_tokens if req.reasoning is not None else None
        # "budget_tokens must be set to a value less than max_tokens" (extended-thinking docs).
        if budget is not None and limit <= budget:
            limit = budget + self.default_max_tokens
        return limit

    # -- decode ---------------------------------------------------------------------------------

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]:
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            m = _MESSAGE.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if m.type == "error" or m.error is not None:
            return Failure(self._error_from_detail(m.error or _RErrorDetail(), resp))
        if m.content is None:
            return Failure(malformed(self.name, "no content in the response", resp.body, status=resp.status))
        if len(m.content) == 1 and m.content[0].type == "text":
            # The usual answer, one text block: the normal form assistant_message would build.
            message = assistant_text(m.content[0].text or "")
        else:
            message = _message(m.content)
        finish, raw_finish = _finish(m.stop_reason)
        return ok(
            settle(ChatResponse(
                id=m.id or "",
                model=m.model or "",
                created=0,
                message=message,
                finish_reason=finish,
                raw_finish_reason=raw_finish,
                usage=_usage(_Tally().add(m.usage)),
                provider=self.name,
                provider_metadata=_stop_metadata(m.stop_sequence),
            ))
        )

    def decode_error(self, resp: HttpResponse) -> LlmError:
        try:
            body = _MESSAGE.decode(resp.body) if resp.body else _RMessage()
        except DECODE_ERRORS:
            body = _RMessage()
        return self._error_from_detail(body.error or _RErrorDetail(), resp)

    def _error_from_detail(self, d: _RErrorDetail, resp: HttpResponse) -> LlmError:
        kind = ERROR_TYPES.get(d.type or "")
        message = d.message or None
        # 400 invalid_request_error "prompt is too long: 208310 tokens > 200000 maximum"
        if message and "prompt is too long" in message:
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        if kind is None and resp.status < 400:
            kind = ErrorKind.PROVIDER
        return error_from_response(
            self.name, resp, message=message, kind=kind, code=d.type, retryable=should_retry_hint(resp.headers)
        )

    # -- stream ---------------------------------------------------------------------------------

    def stream_start(self, max_event_bytes: int = sse.DEFAULT_MAX_EVENT_BYTES) -> AnthropicStreamState:
        return AnthropicStreamState(sse=sse.start(max_event_bytes))

    def stream_feed(
        self, state: AnthropicStreamState, data: bytes
    ) -> tuple[AnthropicStreamState, tuple[StreamEvent, ...]]:
        if state.failed or state.stopped:
            # Nothing after message_stop or an error event can change the result.
            return state, ()
        sst, events = sse.feed(state.sse, data)
        match events:
            case (ev,) if ev.event == "content_block_delta" and not sst.too_long:
                # The usual read (issue 19): one text delta. Anything else it turns out to be (a tool
                # input or thinking delta, bad JSON) is decoded again below, by the general fold.
                try:
                    e: _REvent | None = _EVENT.decode(ev.data)
                except DECODE_ERRORS:
                    e = None
                if e is not None and e.type == "content_block_delta" and (d := e.delta) is not None and d.type == "text_delta":
                    out = (ChatChunk(text=d.text),) if d.text else ()
                    started = state.started or bool(out)
                    return AnthropicStreamState(sst, state.tools, state.calls, state.tally, False, False, started), out
        state = msgspec.structs.replace(state, sse=sst)
        if sst.too_long:
            return msgspec.structs.replace(state, failed=True), (too_long_error(self.name, sst.max_event_bytes),)
        if not events:
            return state, ()
        return self._on_events(state, events)

    def _on_events(
        self, st: AnthropicStreamState, events: tuple[sse.SseEvent, ...]
    ) -> tuple[AnthropicStreamState, tuple[StreamEvent, ...]]:
        out: list[StreamEvent] = []
        tools = dict(st.tools) if st.tools else {}  # open tool blocks: almost every event has none
        tally, stopped, calls = st.tally, st.stopped, st.calls
        for ev in events:
            if stopped:
                break
            try:
                e = _EVENT.decode(ev.data)
            except DECODE_ERRORS as exc:
                out.append(stream_error(self.name, f"malformed stream event: {exc}", ev.data))
                return _freeze(st, tools, calls, tally, stopped, failed=True, started=st.started or bool(out)), tuple(out)
            # data.type names the event; the SSE event line says the same and stands in if it is missing.
            # The cases are tried in order: the most frequent event (a content delta) comes first.
            match e.type or ev.event:
                case "content_block_delta":
                    d = e.delta or _RDelta()
                    if d.type == "text_delta":  # the common delta, without a call (issue 19)
                        if d.text:
                            out.append(ChatChunk(text=d.text))
                    else:
                        chunk = _block_delta(e.index or 0, d, tools)
                        if chunk is not None:
                            out.append(chunk)
                case "message_start":
                    m = e.message or _RMessage()
                    tally = tally.add(m.usage)
                    out.append(settle(ChatChunk(id=m.id, model=m.model, usage=_usage(tally))))
                case "content_block_start":
                    b = e.content_block or _RBlock()
                    if b.type == "tool_use":
                        # tool calls are numbered in order of appearance, across closed blocks too
                        tools[e.index or 0] = _ToolBlock(call=calls, initial=_arguments(b.input))
                        delta = ToolCallDelta(index=calls, id=b.id or f"toolu_{calls}", name=b.name or "")
                        out.append(ChatChunk(tool_calls=(delta,)))
                        calls += 1
                    else:
                        chunk = _block_start(b)
                        if chunk is not None:
                            out.append(chunk)
                case "content_block_stop":
                    tool = tools.pop(e.index or 0, None)
                    if tool is not None:
                        args = _arguments_text(tool.args) if tool.args else tool.initial
                        out.append(ChatChunk(tool_calls=(ToolCallDelta(index=tool.call, arguments=args),)))
                case "message_delta":
                    d = e.delta or _RDelta()
                    tally = tally.add(e.usage)
                    finish, raw = _finish(d.stop_reason) if d.stop_reason is not None else (None, None)
                    out.append(
                        settle(ChatChunk(
                            finish_reason=finish,
                            raw_finish_reason=raw,
                            usage=_usage(tally),
                            provider_metadata=_stop_metadata(d.stop_sequence) or None,
                        ))
                    )
                case "message_stop":
                    stopped = True
                case "error":
                    failure = self._stream_failure(e.error or _RErrorDetail(), ev.data)
                    if not (st.started or out):
                        # Nothing reached the caller: classified as the same status would be
                        # (api_error a retryable 500, overloaded_error an overloaded 529).
                        failure = before_output(self._status_failure(e.error or _RErrorDetail(), ev.data))
                    out.append(failure)
                    return _freeze(st, tools, calls, tally, stopped, failed=True, started=st.started or bool(out)), tuple(out)
                case _:
                    pass  # ping, and event types added later ("clients should handle unknown events")
        return _freeze(st, tools, calls, tally, stopped, failed=False, started=st.started or bool(out)), tuple(out)

    def _status_failure(self, d: _RErrorDetail, data: bytes) -> LlmError:
        kind = ERROR_TYPES.get(d.type or "", ErrorKind.PROVIDER)
        return LlmError(
            kind=kind,
            message=d.message or d.type or "unknown error",
            provider=self.name,
            code=d.type,
            raw=data[:512].decode("utf-8", "replace"),
        )

    def _stream_failure(self, d: _RErrorDetail, data: bytes) -> LlmError:
        # An error event arrives on a 200 stream: the type names the kind ("overloaded_error" is as
        # retryable mid-stream as it is before); an unnamed failure is a streaming error.
        kind = ERROR_TYPES.get(d.type or "", ErrorKind.STREAMING)
        if kind is ErrorKind.PROVIDER:
            kind = ErrorKind.STREAMING
        if d.message and "prompt is too long" in d.message:
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        return LlmError(
            kind=kind,
            message=f"error event mid-stream: {d.message or d.type or 'unknown error'}",
            provider=self.name,
            code=d.type,
            raw=data[:512].decode("utf-8", "replace"),
        )

    def stream_finish(self, state: AnthropicStreamState) -> Result[tuple[ChatChunk, ...], LlmError]:
        if state.failed:
            return Failure(stream_error(self.name, "stream already failed", b""))
        st, events = state, tuple[StreamEvent, ...]()
        if not state.stopped:
            st, events = self._on_events(state, sse.finish(state.sse))
        return close_stream(self.name, events, complete=st.stopped, missing="no message_stop event")


class _Tally(msgspec.Struct, frozen=True):
    """Usage so far: message_start's counts, overwritten by message_delta's cumulative ones."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    thinking: int = 0

    def add(self, u: _RUsage | None) -> _Tally:
        if u is None:
            return self
        # message_delta usage is cumulative ("the token counts … are cumulative" — streaming docs):
        # a field present replaces, a field absent keeps the earlier value.
        details = u.output_tokens_details
        creation = u.cache_creation
        return _Tally(
            input=self.input if u.input_tokens is None else u.input_tokens,
            output=self.output if u.output_tokens is None else u.output_tokens,
            cache_read=self.cache_read if u.cache_read_input_tokens is None else u.cache_read_input_tokens,
            cache_write=self.cache_write
            if u.cache_creation_input_tokens is None
            else u.cache_creation_input_tokens,
            cache_write_1h=self.cache_write_1h
            if creation is None or creation.ephemeral_1h_input_tokens is None
            else creation.ephemeral_1h_input_tokens,
            thinking=self.thinking
            if details is None or details.thinking_tokens is None
            else details.thinking_tokens,
        )


class _ToolBlock(msgspec.Struct, frozen=True):
    call: int
    initial: str
    args: Pieces[str] = Pieces()
    """The input_json_delta fragments so far: pushed in O(1), joined once at content_block_stop (a
    tuple re-copied per fragment made a 400 KB tool input cost 10 s of CPU)."""


class AnthropicStreamState(msgspec.Struct, frozen=True):
    sse: sse.SseState = sse.SseState()
    tools: tuple[tuple[int, _ToolBlock], ...] = ()
    """Open tool_use blocks: content-block index → tool-call ordinal and the input JSON so far."""
    calls: int = 0
    tally: _Tally = _Tally()
    stopped: bool = False
    failed: bool = False
    started: bool = False
    """A chunk was produced: an error event after it is a mid-stream failure."""


def _freeze(
    st: AnthropicStreamState,
    tools: dict[int, _ToolBlock],
    calls: int,
    tally: _Tally,
    stopped: bool,
    *,
    failed: bool,
    started: bool = False,
) -> AnthropicStreamState:
    return AnthropicStreamState(st.sse, tuple(tools.items()), calls, tally, stopped, failed, started)


def _block_start(b: _RBlock) -> ChatChunk | None:
    match b.type:
        case "text":
            return ChatChunk(text=b.text) if b.text else None
        case "thinking":
            if b.thinking or b.signature:
                return ChatChunk(reasoning=b.thinking or "", reasoning_signature=b.signature or None)
            return None
        case "redacted_thinking":
            return ChatChunk(redacted_reasoning=b.data or "")
        case _:
            return None  # server tool blocks etc. have no unified form yet


def _block_delta(index: int, d: _RDelta, tools: dict[int, _ToolBlock]) -> ChatChunk | None:
    match d.type:
        case "text_delta":
            return ChatChunk(text=d.text) if d.text else None
        case "thinking_delta":
            return ChatChunk(reasoning=d.thinking) if d.thinking else None
        case "signature_delta":
            return ChatChunk(reasoning_signature=d.signature) if d.signature else None
        case "input_json_delta":
            tool = tools.get(index)
            if tool is not None and d.partial_json:
                tools[index] = msgspec.structs.replace(tool, args=tool.args.push(d.partial_json))
            return None
        case _:
            return None  # citations_delta: citations have no unified form yet


def _arguments(value: Any) -> str:
    """A tool_use ``input`` object as compact JSON text (``{}`` when absent)."""
    if value is None:
        return "{}"
    return _ENCODER.encode(value).decode()


def _arguments_text(pieces: Pieces[str]) -> str:
    # Streamed input JSON is only complete at content_block_stop, and the server's spacing differs
    # from the compact form the non-streamed object encodes to: normalise, so that a folded stream
    # equals the non-stream response. Invalid JSON is passed on as the model wrote it.
    raw = pieces.join("")
    try:
        return _arguments(_ANY.decode(raw))
    except DECODE_ERRORS:
        return raw


def _message(blocks: list[_RBlock]) -> Message:
    """The assistant turn for a reply's content blocks, in the normal form."""
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for b in blocks:
        match b.type:
            case "text":
                parts.append(TextPart(b.text or ""))
            case "thinking":
                parts.append(ReasoningPart(text=b.thinking or "", signature=b.signature))
            case "redacted_thinking":
                parts.append(ReasoningPart(redacted=b.data or ""))
            case "tool_use":
                calls.append(ToolCall(id=b.id or f"toolu_{len(calls)}", name=b.name or "", arguments=_arguments(b.input)))
            case _:
                pass  # server tool blocks etc. have no unified form yet
    return assistant_message(parts, calls)


def _finish(raw: str | None) -> tuple[FinishReason, str | None]:
    if raw is None:
        return _FINISH_OTHER, None
    return FINISH_REASONS.get(raw, _FINISH_OTHER), raw


def _usage(t: _Tally) -> Usage:
    prompt = t.input + t.cache_read + t.cache_write
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=t.output,
        total_tokens=prompt + t.output,
        cached_tokens=t.cache_read,
        cache_write_tokens=t.cache_write,
        cache_write_1h_tokens=min(t.cache_write_1h, t.cache_write),
        reasoning_tokens=t.thinking,
    )


def _stop_metadata(stop_sequence: str | None) -> dict[str, Any]:
    return {"stop_sequence": stop_sequence} if stop_sequence else {}



# ---------------------------------------------------------------------------------------------
# Messages


def _encode_messages(msgs: tuple[Message, ...]) -> tuple[list[_WText], list[_WMessage]] | str:
    system: list[_WText] = []
    turns: list[_WMessage] = []
    for m in msgs:
        if m.role == _SYSTEM:
            if any(isinstance(p, ImagePart) for p in m.parts):
                return "images are not allowed in system messages"
            if isinstance(m.content, str):
                if m.text:
                    system.append(_WText(m.text, _cc(m.cache)))
                continue
            blocks = [_WText(p.text, _cc(p.cache)) for p in m.content if isinstance(p, TextPart) and p.text]
            if blocks and m.cache is not None:
                blocks[-1].cache_control = _cc(m.cache)
            system.extend(blocks)
            continue
        encoded = _encode_turn(m)
        if isinstance(encoded, str):
            return encoded
        role, content = encoded
        last = turns[-1] if turns else None
        if last is not None and last.role == role:
            # "consecutive user or assistant turns in your request will be combined into a single
            # turn" (API reference): do it here, so tool results of parallel calls share one turn.
            last.content = _blocks(last.content) + _blocks(content)
        else:
            turns.append(_WMessage(role, content))
    return system, turns


def _blocks(content: str | list[_WBlock]) -> list[_WBlock]:
    if isinstance(content, str):
        return [_WText(content)] if content else []
    return content


def _encode_turn(m: Message) -> tuple[str, str | list[_WBlock]] | str:
    encoded = _encode_content(m)
    if m.cache is None or isinstance(encoded, str):
        return encoded
    # A message's breakpoint goes on its last block ("cache_control on the last block of the prefix")
    role, content = encoded
    blocks = _blocks(content)
    for block in reversed(blocks):
        if not isinstance(block, _WThinking | _WRedactedThinking):  # thinking blocks cannot carry it
            block.cache_control = _cc(m.cache)
            break
    return role, blocks


def _encode_content(m: Message) -> tuple[str, str | list[_WBlock]] | str:
    role = m.role  # if/elif on module-bound members: a ``case Role.TOOL:`` reads Role.TOOL each time
    if role is _TOOL:
        if not m.tool_call_id:
            return "a tool message needs tool_call_id"
        result = _WToolResult(m.tool_call_id, m.text, True if m.is_error else UNSET)
        return "user", [result]
    elif role is _ASSISTANT:
        blocks: list[_WBlock] = []
        for p in m.parts:
            if isinstance(p, ReasoningPart):
                if p.redacted is not None:
                    blocks.append(_WRedactedThinking(p.redacted))
                elif p.signature:
                    blocks.append(_WThinking(p.text, p.signature))
                # unsigned reasoning (another provider's) would be rejected: left out
        for p in m.parts:
            if isinstance(p, TextPart) and p.text:
                blocks.append(_WText(p.text, _cc(p.cache)))
            elif isinstance(p, ImagePart):
                return "images are only allowed in user messages, not assistant"
        for tc in m.tool_calls:
            try:
                args = _ANY.decode(tc.arguments or "{}")
            except DECODE_ERRORS:
                return f"tool call {tc.id!r} has arguments that are not valid JSON"
            blocks.append(_WToolUse(tc.id, tc.name, args))
        if isinstance(m.content, str) and not m.tool_calls:
            return "assistant", m.content
        return "assistant", blocks
    else:
        if isinstance(m.content, str):
            return "user", m.content
        parts: list[_WBlock] = []
        for p in m.content:
            if isinstance(p, TextPart):
                if p.text:
                    parts.append(_WText(p.text, _cc(p.cache)))
            elif isinstance(p, ImagePart):
                parts.append(_WImage(_image_source(p)))
        return "user", parts


def _image_source(p: ImagePart) -> _WBase64Source | _WUrlSource:
    if p.data is not None:
        return _WBase64Source(p.media_type or "", p.data)
    url = p.url or ""
    # A data: URL is inline base64 in OpenAI's spelling; Anthropic wants it as a base64 source.
    head, sep, data = url.partition(",")
    if sep and head.startswith("data:") and head.endswith(";base64"):
        return _WBase64Source(head[5 : -len(";base64")], data)
    return _WUrlSource(url)


ANTHROPIC = AnthropicDialect()
