"""Amazon Bedrock's Converse API, as a pure dialect.

Wire reference: the Bedrock Runtime API reference, operations ``Converse``
(``POST /model/{modelId}/converse``) and ``ConverseStream`` (``POST /model/{modelId}/converse-stream``,
answered as an ``application/vnd.amazon.eventstream`` of ``messageStart``, ``contentBlockStart``,
``contentBlockDelta``, ``contentBlockStop``, ``messageStop`` and ``metadata`` events).

Addressing: ``https://bedrock-runtime.{region}.amazonaws.com`` (``base_url`` overrides it). The model
id is one path segment, percent-encoded the way botocore encodes URI labels (every byte but
``A-Za-z0-9-_.~``), so ``anthropic.claude-3-5-sonnet-20240620-v1:0`` travels as ``…-v1%3A0`` and an
inference-profile ARN's ``/`` as ``%2F``.

Auth, first match wins:

* ``cfg.api_key`` — a Bedrock API key, sent as ``Authorization: Bearer <key>``;
* ``cfg.aws_access_key_id`` + ``cfg.aws_secret_access_key`` (+ ``aws_session_token``) — SigV4
  (:mod:`.sigv4`, service ``bedrock``) over the exact headers sent, with ``cfg.region`` and the
  ``now`` the caller passes (the client passes its clock); without ``now`` there is no signature.

Request mapping, field for field: system messages → ``system: [{text}]``; user/assistant turns →
``messages`` of content blocks (``text``, ``image {format, source.bytes}`` from inline data or a
``data:`` URL — Bedrock cannot fetch URLs, ``reasoningContent``, ``toolUse {toolUseId, name, input}``);
tool results → ``toolResult {toolUseId, content: [{text}], status}`` in a user turn (consecutive
results and consecutive same-role turns are merged, because Converse requires alternating roles);
``max_tokens``/``temperature``/``top_p``/``stop`` → ``inferenceConfig``; tools →
``toolConfig.tools[].toolSpec {name, description, inputSchema.json}`` with ``toolChoice``
``auto``/``any``/``tool`` (``"none"`` leaves ``toolConfig`` out, Converse has no "none").
``reasoning`` → ``additionalModelRequestFields.thinking {type: enabled, budget_tokens}`` — the field
Anthropic Claude models on Bedrock read (effort maps to a budget: minimal 1024, low 2048,
medium 8192, high 16384); other model families take their own fields through
``provider_options={"additionalModelRequestFields": {...}}``. ``provider_options`` are merged into the
top level of the body (``guardrailConfig``, ``performanceConfig``, ``requestMetadata``, …);
an ``additionalModelRequestFields`` there is merged with the one ``reasoning`` builds. ``seed`` and
``user`` have no Converse field and are not sent; ``response_format`` is refused.
A :class:`CacheControl` breakpoint → a ``cachePoint {type: default[, ttl: 1h]}`` entry right after
the marked content block, system block or tool (at most 4, 1h before 5m, checked before sending);
``usage.cacheReadInputTokens``/``cacheWriteInputTokens`` → ``cached_tokens``/``cache_write_tokens``,
``cacheDetails`` (writes by TTL) → ``cache_write_1h_tokens``.

Converse responses carry no id, model or creation time: those stay empty (in streams too, so a
folded stream equals its non-streamed twin); ``metrics`` and ``additionalModelResponseFields`` go to
``provider_metadata``.

>>> from .schema import ChatRequest, Message
>>> from .secret import Secret
>>> cfg = ProviderConfig(region="us-east-1", aws_access_key_id="AKIDEXAMPLE",
...                      aws_secret_access_key=Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
>>> r = BEDROCK.encode_request(ChatRequest(model="anthropic.claude-3-haiku-20240307-v1:0",
...                                        messages=(Message.user("hi"),)), cfg, now=1700000000).unwrap()
>>> r.url
'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse'
>>> r.body
b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'
>>> r.headers["authorization"].split(", ")[0]
'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request'
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from typing import Any
from urllib.parse import quote

import msgspec
from msgspec import UNSET, UnsetType
from returns.result import Failure, Result, Success

from . import eventstream, sigv4
from ._memo import remember
from ._result import ok
from .dialect import (
    DECODE_ERRORS,
    ProviderConfig,
    StreamEvent,
    error_from_response,
    invalid_request,
    join_url,
    malformed,
    stream_error,
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
)
from .shared import (
    USER_AGENT,
    TokenCount,
    merge_provider_options,
    model_id_problem,
    preflight,
    refuse_empty,
    settle,
)
from .sse import DEFAULT_MAX_EVENT_BYTES

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_FINISH_OTHER, _ASSISTANT, _SYSTEM, _TOOL, _USER = FinishReason.OTHER, Role.ASSISTANT, Role.SYSTEM, Role.TOOL, Role.USER

__all__ = ["BEDROCK", "BedrockDialect", "BedrockStreamState"]


# ---------------------------------------------------------------------------------------------
# Request wire types (Converse API reference: Message, ContentBlock, ToolConfiguration, …).


class _WImageSource(msgspec.Struct):
    bytes: str


class _WImage(msgspec.Struct):
    format: str
    source: _WImageSource


class _WToolUse(msgspec.Struct, rename="camel"):
    tool_use_id: str
    name: str
    input: Any


class _WToolResultText(msgspec.Struct):
    text: str


class _WToolResult(msgspec.Struct, rename="camel"):
    tool_use_id: str
    content: list[_WToolResultText]
    status: str | UnsetType = UNSET


class _WReasoningText(msgspec.Struct):
    text: str
    signature: str | UnsetType = UNSET


class _WReasoning(msgspec.Struct, rename="camel"):
    reasoning_text: _WReasoningText | UnsetType = UNSET
    redacted_content: str | UnsetType = UNSET


class _WCachePoint(msgspec.Struct):
    """CachePointBlock: ``{"type": "default"}``, with ``"ttl": "1h"`` for the extended TTL ("when
    omitted, uses type value for caching behavior" — Converse API reference)."""

    type: str = "default"
    ttl: str | UnsetType = UNSET


_CP_5M = _WCachePoint()
_CP_1H = _WCachePoint(ttl="1h")


def _cache_point(c: CacheControl) -> _WCachePoint:
    return _CP_1H if c.ttl == "1h" else _CP_5M


class _WBlock(msgspec.Struct, rename="camel", omit_defaults=True):
    """A ContentBlock: a union expressed as an object with exactly one member set."""

    text: str | UnsetType = UNSET
    image: _WImage | UnsetType = UNSET
    tool_use: _WToolUse | UnsetType = UNSET
    tool_result: _WToolResult | UnsetType = UNSET
    reasoning_content: _WReasoning | UnsetType = UNSET
    cache_point: _WCachePoint | UnsetType = UNSET


class _WMessage(msgspec.Struct):
    role: str
    content: list[_WBlock]


class _WSystem(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str | UnsetType = UNSET
    cache_point: _WCachePoint | UnsetType = UNSET


class _WInference(msgspec.Struct, rename="camel"):
    max_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET


class _WInputSchema(msgspec.Struct):
    json: dict[str, Any]


class _WToolSpecBody(msgspec.Struct, rename="camel"):
    name: str
    input_schema: _WInputSchema
    description: str | UnsetType = UNSET


class _WTool(msgspec.Struct, rename="camel", omit_defaults=True):
    tool_spec: _WToolSpecBody | UnsetType = UNSET
    cache_point: _WCachePoint | UnsetType = UNSET


class _WToolName(msgspec.Struct):
    name: str


class _WToolChoice(msgspec.Struct, omit_defaults=True):
    auto: dict[str, Any] | UnsetType = UNSET
    any: dict[str, Any] | UnsetType = UNSET
    tool: _WToolName | UnsetType = UNSET


class _WToolConfig(msgspec.Struct, rename="camel"):
    tools: list[_WTool]
    tool_choice: _WToolChoice | UnsetType = UNSET


class _WRequest(msgspec.Struct, rename="camel"):
    messages: list[_WMessage]
    system: list[_WSystem] | UnsetType = UNSET
    inference_config: _WInference | UnsetType = UNSET
    tool_config: _WToolConfig | UnsetType = UNSET
    additional_model_request_fields: dict[str, Any] | UnsetType = UNSET


# ---------------------------------------------------------------------------------------------
# Response and stream-event wire types: all optional, unknown fields ignored.


class _RToolUse(msgspec.Struct, rename="camel"):
    tool_use_id: str | None = None
    name: str | None = None
    input: Any = None


class _RReasoningText(msgspec.Struct):
    text: str | None = None
    signature: str | None = None


class _RReasoning(msgspec.Struct, rename="camel"):
    reasoning_text: _RReasoningText | None = None
    redacted_content: str | None = None


class _RBlock(msgspec.Struct, rename="camel"):
    text: str | None = None
    tool_use: _RToolUse | None = None
    reasoning_content: _RReasoning | None = None


class _RMessage(msgspec.Struct):
    role: str | None = None
    content: list[_RBlock] | None = None


class _ROutput(msgspec.Struct):
    message: _RMessage | None = None


class _RCacheDetail(msgspec.Struct, rename="camel"):
    ttl: str | None = None
    input_tokens: TokenCount | None = None


class _RUsage(msgspec.Struct, rename="camel"):
    input_tokens: TokenCount | None = None
    output_tokens: TokenCount | None = None
    total_tokens: TokenCount | None = None
    cache_read_input_tokens: TokenCount | None = None
    cache_write_input_tokens: TokenCount | None = None
    cache_details: list[_RCacheDetail] | None = None
    """Cache writes by TTL ("1h before 5m"): the 1-hour ones are priced apart."""


class _RConverse(msgspec.Struct, rename="camel"):
    output: _ROutput | None = None
    stop_reason: str | None = None
    usage: _RUsage | None = None
    metrics: dict[str, Any] | None = None
    additional_model_response_fields: Any = None


class _RStartToolUse(msgspec.Struct, rename="camel"):
    tool_use_id: str | None = None
    name: str | None = None


class _RStart(msgspec.Struct, rename="camel"):
    tool_use: _RStartToolUse | None = None


class _RDeltaToolUse(msgspec.Struct):
    input: str | None = None


class _RDeltaReasoning(msgspec.Struct, rename="camel"):
    text: str | None = None
    signature: str | None = None
    redacted_content: str | None = None


class _RDelta(msgspec.Struct, rename="camel"):
    text: str | None = None
    tool_use: _RDeltaToolUse | None = None
    reasoning_content: _RDeltaReasoning | None = None


class _REvent(msgspec.Struct, rename="camel"):
    """Every event payload's members in one all-optional shape; ``:event-type`` says which apply."""

    role: str | None = None
    content_block_index: int = 0
    start: _RStart | None = None
    delta: _RDelta | None = None
    stop_reason: str | None = None
    additional_model_response_fields: Any = None
    usage: _RUsage | None = None
    metrics: dict[str, Any] | None = None


class _RError(msgspec.Struct):
    message: str | None = None
    Message: str | None = None
    type_: str | None = msgspec.field(default=None, name="__type")
    code: str | None = None
    originalMessage: str | None = None
    originalStatusCode: int | None = None


_ENCODER = msgspec.json.Encoder()
_CONVERSE = msgspec.json.Decoder(_RConverse)
_EVENT = msgspec.json.Decoder(_REvent)
_ERROR = msgspec.json.Decoder(_RError)

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "guardrail_intervened": FinishReason.CONTENT_FILTER,
    "content_filtered": FinishReason.CONTENT_FILTER,
}

# Exception names, lower-cased: the HTTP API spells them ``ThrottlingException`` (x-amzn-ErrorType,
# __type) and the event stream ``throttlingException`` (:exception-type). -> (kind, status, retryable)
ERROR_CODES: dict[str, tuple[ErrorKind, int | None, bool | None]] = {
    "throttlingexception": (ErrorKind.RATE_LIMIT, 429, None),
    "servicequotaexceededexception": (ErrorKind.RATE_LIMIT, 400, False),
    "accessdeniedexception": (ErrorKind.PERMISSION, 403, None),
    "unrecognizedclientexception": (ErrorKind.AUTHENTICATION, 403, None),
    "invalidsignatureexception": (ErrorKind.AUTHENTICATION, 403, None),
    "signaturedoesnotmatch": (ErrorKind.AUTHENTICATION, 403, None),
    "incompletesignatureexception": (ErrorKind.AUTHENTICATION, 403, None),
    "missingauthenticationtokenexception": (ErrorKind.AUTHENTICATION, 403, None),
    "expiredtokenexception": (ErrorKind.AUTHENTICATION, 403, None),
    "validationexception": (ErrorKind.INVALID_REQUEST, 400, None),
    "resourcenotfoundexception": (ErrorKind.NOT_FOUND, 404, None),
    "modelnotreadyexception": (ErrorKind.OVERLOADED, 429, True),
    "modeltimeoutexception": (ErrorKind.TIMEOUT, 408, None),
    "serviceunavailableexception": (ErrorKind.OVERLOADED, 503, None),
    "internalserverexception": (ErrorKind.PROVIDER, 500, None),
    "modelerrorexception": (ErrorKind.PROVIDER, 424, None),
    "modelstreamerrorexception": (ErrorKind.STREAMING, 424, None),
}
# Bedrock reports an over-long prompt as a ValidationException; the model's own words vary
# ("Input is too long for requested model.", "prompt is too long: 210000 tokens > 200000 maximum").
_TOO_LONG = re.compile(r"too long|context (length|window)|too many (input )?tokens|exceeds? the maximum (input|context)", re.I)

IMAGE_FORMATS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
THINKING_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
_ROLES = {Role.USER: "user", Role.ASSISTANT: "assistant", Role.TOOL: "user"}


def _model_id(model: str) -> str:
    return model[len("bedrock:") :] if model.startswith(("bedrock:", "bedrock/")) else model


def _quote_label(value: str) -> str:
    # botocore's percent_encode for a URI label: only unreserved characters (RFC 3986) stay literal,
    # which is exactly urllib's quote with nothing marked safe.
    return quote(value, safe="")


@dataclasses.dataclass(frozen=True, slots=True)
class BedrockDialect:
    """Bedrock Runtime Converse/ConverseStream."""

    name: str = "bedrock"
    default_base_url: str = "https://bedrock-runtime.{region}.amazonaws.com"
    service: str = "bedrock"

    # -- encode ---------------------------------------------------------------------------------

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]:
        if (empty := refuse_empty(self.name, req)) is not None:
            return empty
        # What depends only on (config, model, stream) — the credential and region checks, the URL
        # with its quoted model label, the unsigned headers — is built once per such triple (issue 19)
        key = (id(self), id(cfg), req.model, stream)
        hit = _ADDRESSED.get(key)
        if hit is None or hit[0] is not self or hit[1] is not cfg:
            addressed = self._address(cfg, req.model, stream)
            if type(addressed) is Failure:
                return addressed
            hit = remember(_ADDRESSED, key, (self, cfg, *addressed.unwrap()))
        url, base_headers = hit[2], hit[3]
        if not cfg.api_key and now is None:
            return invalid_request(self.name, "SigV4 signing needs the current time: pass now= to encode_request")
        if req.response_format is not None and req.response_format.type != "text":
            return invalid_request(
                self.name, "Converse has no response_format; force a tool call with a JSON schema instead"
            )
        body = _encode_body(req)
        if isinstance(body, str):
            return invalid_request(self.name, body)
        raw = _ENCODER.encode(body)
        if req.provider_options:  # merge_provider_options leaves the body as it is without any (issue 19)
            merged = merge_provider_options(self.name, raw, req.provider_options, merged=_MERGED_OPTIONS)
            if type(merged) is Failure:
                return merged
            raw = merged.unwrap()
        if cfg.api_key:
            return ok(HttpRequest("POST", url, base_headers, raw))
        headers = list(base_headers.items_raw())
        assert cfg.aws_access_key_id and cfg.aws_secret_access_key and cfg.region and now is not None
        creds = sigv4.Credentials(cfg.aws_access_key_id, cfg.aws_secret_access_key, cfg.aws_session_token)
        headers.extend(sigv4.sign("POST", url, headers, raw, creds, cfg.region, self.service, now))
        return ok(HttpRequest("POST", url, Headers(headers), raw))

    def _address(self, cfg: ProviderConfig, model: str, stream: bool) -> Result[tuple[str, Headers], LlmError]:
        """The checks and the parts of a request that depend only on the config and the model: the
        URL and the headers before any SigV4 signature (with a Bedrock API key, all of them)."""
        sigv4_creds = cfg.aws_access_key_id and cfg.aws_secret_access_key
        if not cfg.api_key and not sigv4_creds:
            return self._auth_failure(
                "no credentials for bedrock: pass api_key= (a Bedrock API key) or aws_access_key_id= and "
                "aws_secret_access_key=, or set AWS_BEARER_TOKEN_BEDROCK or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        if not cfg.base_url and not cfg.region:
            return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, provider=self.name, code="missing_region",
                                    message="no AWS region for bedrock: pass region= or set AWS_REGION"))
        if not cfg.api_key and not cfg.region:
            return invalid_request(self.name, "SigV4 needs the AWS region: pass region= or set AWS_REGION")
        if cfg.region and not _REGION.fullmatch(cfg.region):
            # botocore's rule for a region (a valid host label) before it goes into the host name
            return invalid_request(self.name, "the AWS region is not a valid region name (letters, digits, '-')")
        base = cfg.base_url or self.default_base_url.format(region=cfg.region)
        checked = preflight(self.name, cfg, base)
        if type(checked) is Failure:
            return checked
        model_id = _model_id(model)
        if (problem := model_id_problem(model_id)) is not None:
            return invalid_request(self.name, problem)
        url = join_url(base, f"/model/{_quote_label(model_id)}/{'converse-stream' if stream else 'converse'}")
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Accept", "application/vnd.amazon.eventstream" if stream else "application/json"),
            ("User-Agent", USER_AGENT),
            *cfg.headers,
        ]
        if cfg.api_key:
            headers.append(("Authorization", "Bearer " + cfg.api_key.reveal()))
        return Success((url, Headers(headers)))

    def _auth_failure(self, message: str) -> Failure[LlmError]:
        return Failure(LlmError(kind=ErrorKind.AUTHENTICATION, message=message, provider=self.name, code="missing_api_key"))

    # -- decode ---------------------------------------------------------------------------------

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]:
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            c = _CONVERSE.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if c.output is None or c.output.message is None:
            return Failure(malformed(self.name, "no output.message in the response", resp.body, status=resp.status))
        parts: list[Part] = []
        calls: list[ToolCall] = []
        for block in c.output.message.content or ():
            if block.text is not None:
                parts.append(TextPart(block.text))
            elif block.tool_use is not None:
                tu = block.tool_use
                args = "{}" if tu.input is None else _ENCODER.encode(tu.input).decode()
                calls.append(ToolCall(id=tu.tool_use_id or f"tooluse_{len(calls)}", name=tu.name or "", arguments=args))
            elif block.reasoning_content is not None:
                rc = block.reasoning_content
                if rc.redacted_content is not None:
                    parts.append(ReasoningPart(redacted=rc.redacted_content))
                elif rc.reasoning_text is not None:
                    parts.append(ReasoningPart(text=rc.reasoning_text.text or "", signature=rc.reasoning_text.signature))
        finish, raw_finish = _finish(c.stop_reason)
        return ok(
            settle(ChatResponse(
                id="",
                model="",
                created=0,
                message=assistant_message(parts, calls),
                finish_reason=finish,
                raw_finish_reason=raw_finish,
                usage=_usage(c.usage),
                provider=self.name,
                provider_metadata=_metadata(c.metrics, c.additional_model_response_fields),
            ))
        )

    def decode_error(self, resp: HttpResponse) -> LlmError:
        try:
            body = _ERROR.decode(resp.body) if resp.body else _RError()
        except DECODE_ERRORS:
            body = _RError()
        # "x-amzn-ErrorType: ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/";
        # a JSON "__type" may carry a namespace: "com.amazon.coral.service#UnrecognizedClientException".
        code = (resp.headers.get("x-amzn-errortype") or "").split(":", 1)[0].strip()
        code = code or (body.type_ or body.code or "").rsplit("#", 1)[-1].split(":", 1)[0]
        message = body.message or body.Message
        kind, _, retryable = ERROR_CODES.get(code.lower(), (None, None, None))
        if kind is ErrorKind.INVALID_REQUEST and message and _TOO_LONG.search(message):
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        if kind is None and resp.status < 400:
            kind = ErrorKind.PROVIDER
        return error_from_response(
            self.name, resp, message=message, kind=kind, code=code or None, retryable=retryable
        )

    # -- stream ---------------------------------------------------------------------------------

    def stream_start(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> BedrockStreamState:
        """``max_event_bytes`` is not read: an event-stream frame is bounded by the format's own limits
        (botocore's), which every AWS client applies."""
        return BedrockStreamState()

    def stream_feed(
        self, state: BedrockStreamState, data: bytes
    ) -> tuple[BedrockStreamState, tuple[StreamEvent, ...]]:
        if state.failed:
            return state, ()
        es, frames = eventstream.feed(state.frames, data)
        match frames:
            case (eventstream.EventMessage(headers={":message-type": "event", ":event-type": "contentBlockDelta"}) as f,):
                # The usual read (issue 19): one text delta, the chunk _on_delta makes for it. Anything
                # else it turns out to be is decoded again below, by the general fold.
                try:
                    d = _EVENT.decode(f.payload).delta
                except DECODE_ERRORS:
                    d = None
                if d is not None and d.text is not None:
                    return BedrockStreamState(es, state.empty_tools, state.stopped, state.metadata, False), (ChatChunk(text=d.text),)
        st = msgspec.structs.replace(state, frames=es)
        out: list[StreamEvent] = []
        for frame in frames:
            if isinstance(frame, LlmError):
                out.append(msgspec.structs.replace(frame, provider=self.name))
                return msgspec.structs.replace(st, failed=True), tuple(out)
            st, event = self._on_frame(st, frame)
            if event is not None:
                out.append(event)
                if isinstance(event, LlmError):
                    return msgspec.structs.replace(st, failed=True), tuple(out)
        return st, tuple(out)

    def _on_frame(
        self, st: BedrockStreamState, frame: eventstream.EventMessage
    ) -> tuple[BedrockStreamState, StreamEvent | None]:
        match frame.header(":message-type"):
            case "event":
                pass
            case "exception":
                return st, self._stream_exception(frame.header(":exception-type") or "", frame.payload)
            case "error":
                code = frame.header(":error-code") or ""
                return st, self._stream_exception(code, b"", frame.header(":error-message"))
            case other:
                return st, stream_error(self.name, f"unknown :message-type {other!r}", frame.payload)
        try:
            ev = _EVENT.decode(frame.payload)
        except DECODE_ERRORS as e:
            return st, stream_error(self.name, f"malformed {frame.header(':event-type')} event: {e}", frame.payload)
        idx = ev.content_block_index
        match frame.header(":event-type"):
            case "contentBlockStart":
                tu = ev.start.tool_use if ev.start else None
                if tu is None:
                    return st, None
                delta = ToolCallDelta(index=idx, id=tu.tool_use_id, name=tu.name)
                pending = (*st.empty_tools, idx)
                return msgspec.structs.replace(st, empty_tools=pending), ChatChunk(tool_calls=(delta,))
            case "contentBlockDelta":
                return self._on_delta(st, idx, ev.delta)
            case "contentBlockStop":
                if idx in st.empty_tools:
                    # A tool called with no input streams no fragment; the non-stream form is "{}".
                    rest = tuple(i for i in st.empty_tools if i != idx)
                    chunk = ChatChunk(tool_calls=(ToolCallDelta(index=idx, arguments="{}"),))
                    return msgspec.structs.replace(st, empty_tools=rest), chunk
                return st, None
            case "messageStop":
                finish, raw = _finish(ev.stop_reason)
                meta = _metadata(None, ev.additional_model_response_fields) or None
                chunk = ChatChunk(finish_reason=finish, raw_finish_reason=raw, provider_metadata=meta)
                return msgspec.structs.replace(st, stopped=True), chunk
            case "metadata":
                meta = _metadata(ev.metrics, None) or None
                return msgspec.structs.replace(st, metadata=True), settle(ChatChunk(usage=_usage(ev.usage), provider_metadata=meta))
            case _:
                # messageStart (role only) and event types added later carry nothing to report.
                return st, None

    def _on_delta(
        self, st: BedrockStreamState, idx: int, d: _RDelta | None
    ) -> tuple[BedrockStreamState, StreamEvent | None]:
        if d is None:
            return st, None
        if d.text is not None:
            return st, ChatChunk(text=d.text)
        if d.tool_use is not None:
            frag = d.tool_use.input or ""
            rest = tuple(i for i in st.empty_tools if i != idx) if frag else st.empty_tools
            return msgspec.structs.replace(st, empty_tools=rest), ChatChunk(
                tool_calls=(ToolCallDelta(index=idx, arguments=frag),)
            )
        rc = d.reasoning_content
        if rc is not None:
            if rc.redacted_content is not None:
                return st, ChatChunk(redacted_reasoning=rc.redacted_content)
            return st, ChatChunk(reasoning=rc.text or "", reasoning_signature=rc.signature)
        return st, None

    def _stream_exception(self, name: str, payload: bytes, message: str | None = None) -> LlmError:
        try:
            body = _ERROR.decode(payload) if payload else _RError()
        except DECODE_ERRORS:
            body = _RError()
        text = message or body.message or body.Message or body.originalMessage or name or "error event"
        kind, status, retryable = ERROR_CODES.get(name.lower(), (ErrorKind.STREAMING, None, None))
        if kind is ErrorKind.INVALID_REQUEST and _TOO_LONG.search(text):
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        return LlmError(
            kind=kind,
            message=f"{name or 'error'} mid-stream: {text}",
            provider=self.name,
            status=body.originalStatusCode or status,
            code=name or None,
            retryable=retryable,
            raw=payload[:512].decode("utf-8", "replace") if payload else None,
        )

    def stream_finish(self, state: BedrockStreamState) -> Result[tuple[ChatChunk, ...], LlmError]:
        if state.failed:
            return Failure(stream_error(self.name, "stream already failed", b""))
        err = eventstream.finish(state.frames)
        if err is not None:
            return Failure(msgspec.structs.replace(err, provider=self.name))
        if not (state.stopped and state.metadata):
            missing = " and ".join(n for n, seen in (("messageStop", state.stopped), ("metadata", state.metadata)) if not seen)
            return Failure(
                LlmError(kind=ErrorKind.STREAMING, message=f"stream ended before {missing}", provider=self.name)
            )
        return Success(())


_MERGED_OPTIONS = frozenset({"additionalModelRequestFields"})
_ADDRESSED: dict[tuple[int, int, str, bool], tuple[BedrockDialect, ProviderConfig, str, Headers]] = {}
"""(dialect, config, model, stream) → URL and unsigned headers; bounded, confirmed with ``is`` (core/_memo.py)."""
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
"""botocore's ``validate_region_name``: a region becomes part of the host, so it must be one label."""


class BedrockStreamState(msgspec.Struct, frozen=True):
    frames: eventstream.EventStreamState = eventstream.EventStreamState()
    empty_tools: tuple[int, ...] = ()
    """Tool-use blocks started but given no input fragment yet."""
    stopped: bool = False
    metadata: bool = False
    failed: bool = False



# -- request body ---------------------------------------------------------------------------------


def _encode_body(req: ChatRequest) -> _WRequest | str:
    problem = breakpoint_problem(req)
    if problem is not None:
        return problem
    system: list[_WSystem] = []
    turns: list[_WMessage] = []
    for m in req.messages:
        if m.role is _SYSTEM:
            if any(isinstance(p, ImagePart) for p in m.parts):
                return "images are not allowed in system messages"
            if isinstance(m.content, str):
                if m.text:
                    system.append(_WSystem(m.text))
            else:
                for p in m.content:
                    if isinstance(p, TextPart) and p.text:
                        system.append(_WSystem(p.text))
                    if isinstance(p, TextPart) and p.cache is not None:
                        system.append(_WSystem(cache_point=_cache_point(p.cache)))
            if m.cache is not None:
                system.append(_WSystem(cache_point=_cache_point(m.cache)))
            continue
        blocks = _encode_blocks(m)
        if isinstance(blocks, str):
            return blocks
        if not blocks:
            continue
        role = _ROLES[m.role]
        if turns and turns[-1].role == role:
            turns[-1].content.extend(blocks)
        else:
            turns.append(_WMessage(role, blocks))
    if not turns:
        return "a Converse request needs at least one user or assistant message with content"
    body = _WRequest(messages=turns)
    if system:
        body.system = system
    inference = _WInference()
    if req.max_tokens is not None:
        inference.max_tokens = req.max_tokens
    if req.temperature is not None:
        inference.temperature = req.temperature
    if req.top_p is not None:
        inference.top_p = req.top_p
    if req.stop:
        inference.stop_sequences = list(req.stop)
    if inference != _WInference():
        body.inference_config = inference
    if req.tools and req.tool_choice != "none":
        tools: list[_WTool] = []
        for t in req.tools:
            spec = _WToolSpecBody(t.name, _WInputSchema(t.parameters), UNSET if t.description is None else t.description)
            tools.append(_WTool(spec))
            if t.cache is not None:  # a cachePoint entry after the tool it closes
                tools.append(_WTool(cache_point=_cache_point(t.cache)))
        body.tool_config = _WToolConfig(tools, _tool_choice(req))
    if req.reasoning is not None:
        budget = req.reasoning.budget_tokens or THINKING_BUDGETS.get(req.reasoning.effort or "medium", 8192)
        body.additional_model_request_fields = {"thinking": {"type": "enabled", "budget_tokens": budget}}
    return body


def _tool_choice(req: ChatRequest) -> _WToolChoice | UnsetType:
    match req.tool_choice:
        case ToolChoiceFunction(name=name):
            return _WToolChoice(tool=_WToolName(name))
        case "required":
            return _WToolChoice(any={})
        case "auto":
            return _WToolChoice(auto={})
        case _:
            return UNSET


def _encode_blocks(m: Message) -> list[_WBlock] | str:
    if m.role is _TOOL:
        if not m.tool_call_id:
            return "a tool message needs tool_call_id"
        result = _WToolResult(m.tool_call_id, [_WToolResultText(m.text)], "error" if m.is_error else "success")
        if m.cache is not None:
            return [_WBlock(tool_result=result), _WBlock(cache_point=_cache_point(m.cache))]
        return [_WBlock(tool_result=result)]
    blocks: list[_WBlock] = []
    for p in m.parts:
        match p:
            case TextPart(text=text):
                # Converse rejects blank text blocks ("The text field in the ContentBlock object is blank").
                if text:
                    blocks.append(_WBlock(text=text))
                if p.cache is not None:
                    blocks.append(_WBlock(cache_point=_cache_point(p.cache)))
            case ImagePart():
                if m.role is not _USER:
                    return f"images are only allowed in user messages, not {m.role.value}"
                image = _encode_image(p)
                if isinstance(image, str):
                    return image
                blocks.append(_WBlock(image=image))
            case ReasoningPart(text=text, signature=signature, redacted=redacted):
                if m.role is not _ASSISTANT:
                    continue
                if redacted is not None:
                    blocks.append(_WBlock(reasoning_content=_WReasoning(redacted_content=redacted)))
                else:
                    rt = _WReasoningText(text, UNSET if signature is None else signature)
                    blocks.append(_WBlock(reasoning_content=_WReasoning(reasoning_text=rt)))
    for tc in m.tool_calls:
        try:
            args = msgspec.json.decode(tc.arguments or "{}")
        except DECODE_ERRORS:
            return f"tool call {tc.id!r} has arguments that are not JSON: Converse needs a JSON object"
        if not isinstance(args, dict):
            return f"tool call {tc.id!r} arguments must be a JSON object for Converse"
        blocks.append(_WBlock(tool_use=_WToolUse(tc.id, tc.name, args)))
    if m.cache is not None and blocks:
        blocks.append(_WBlock(cache_point=_cache_point(m.cache)))
    return blocks


def _encode_image(p: ImagePart) -> _WImage | str:
    data, media_type = p.data, p.media_type
    if p.url is not None:
        head, sep, payload = p.url.partition(",")
        if not (p.url.startswith("data:") and sep and head.endswith(";base64")):
            return "Bedrock Converse takes images as bytes, not URLs: pass ImagePart(data=..., media_type=...)"
        data, media_type = payload, head[5:-7]
    fmt = IMAGE_FORMATS.get((media_type or "").lower())
    if fmt is None:
        return f"Bedrock Converse supports png, jpeg, gif and webp images, not {media_type!r}"
    try:
        base64.b64decode(data or "", validate=True)
    except (binascii.Error, ValueError):
        return "image data is not valid base64"
    return _WImage(fmt, _WImageSource(data or ""))


# -- response pieces ------------------------------------------------------------------------------


def _finish(raw: str | None) -> tuple[FinishReason, str | None]:
    if raw is None:
        return _FINISH_OTHER, None
    return FINISH_REASONS.get(raw, _FINISH_OTHER), raw


def _usage(u: _RUsage | None) -> Usage:
    if u is None:
        return Usage()
    # Bedrock's inputTokens leaves out cache reads and writes (totalTokens counts them); the unified
    # prompt_tokens includes both.
    read, write = u.cache_read_input_tokens or 0, u.cache_write_input_tokens or 0
    prompt = (u.input_tokens or 0) + read + write
    completion = u.output_tokens or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=u.total_tokens if u.total_tokens is not None else prompt + completion,
        cached_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=min(write, sum(d.input_tokens or 0 for d in u.cache_details or () if d.ttl == "1h")),
    )


def _metadata(metrics: dict[str, Any] | None, extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if metrics:
        meta["metrics"] = metrics
    if extra:
        meta["additional_model_response_fields"] = extra
    return meta


BEDROCK = BedrockDialect()
