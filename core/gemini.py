"""Google Gemini (Generative Language API), as a pure dialect.

Wire reference: https://ai.google.dev/api/generate-content (``generateContent``,
``streamGenerateContent``, ``GenerateContentResponse``), https://ai.google.dev/api/caching#Content
(``Content``/``Part``), https://ai.google.dev/api/tokens (``countTokens``) and
https://ai.google.dev/gemini-api/docs/thought-signatures.

>>> from .schema import ChatRequest, Message
>>> from .secret import Secret
>>> r = GEMINI.encode_request(ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),)),
...                           ProviderConfig(api_key=Secret("AIza-test"))).unwrap()
>>> r.method, r.url, r.headers["x-goog-api-key"]
('POST', 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent', 'AIza-test')
>>> r.body
b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
>>> body = b'{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"finishReason":"STOP"}],"responseId":"r1","modelVersion":"gemini-2.5-flash"}'
>>> GEMINI.decode_response(HttpResponse(200, body=body)).unwrap().text
'Hello'

Design notes (the places where Gemini's model and the unified one differ):

* **Key.** Only in the ``x-goog-api-key`` header. The API also accepts ``?key=``, but a URL ends up
  in logs, proxies and error messages; a header does not.
* **Tool call ids.** Gemini's ``functionCall`` usually has no ``id``. When the API sends one it is
  kept; otherwise :func:`synthesize_call_id` derives one from the response id, the call's position in
  the response and its name (``call_`` + 24 hex digits of SHA-256), so the same response decodes to
  the same ids, streamed or not. On encode no id is sent at all: a ``functionResponse`` is matched
  by the API by ``name`` and by order ("the number of function response parts should be equal to
  the number of function call parts"). So a tool message's ``tool_call_id`` is resolved to the
  call's name through the preceding assistant turn, and consecutive tool messages are sent as one
  ``user`` turn in the order of the calls they answer.
* **Tool results** go out as ``{"output": content}`` (``{"error": content}`` when ``is_error``), the
  two keys the ``FunctionResponse.response`` docs name.
* **Thought signatures.** A ``thoughtSignature`` on a ``functionCall`` part is kept on the
  :class:`ToolCall` and sent back on that part. One on a thought or text part is kept on the
  :class:`ReasoningPart` it belongs to (a text part's signature closes the thoughts before it, or
  becomes an empty signed ``ReasoningPart`` when there were none) and is sent back on a ``thought``
  part (or a bare ``{"thoughtSignature"}`` part when the reasoning text is empty).
* **Usage.** ``prompt_tokens`` = ``promptTokenCount`` + ``toolUsePromptTokenCount`` (both billed as
  input; ``promptTokenCount`` already includes ``cachedContentTokenCount``); ``completion_tokens`` =
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` (thoughts are billed as output);
  ``reasoning_tokens`` = ``thoughtsTokenCount``; ``total_tokens`` = ``totalTokenCount``. Streamed
  ``usageMetadata`` repeats on chunks as running totals, so each is passed on as cumulative.
* **Finish.** ``STOP`` with function calls in the answer is ``tool_calls`` (Gemini has no separate
  reason); the raw reason is always kept.
* **provider_options** are merged into the top level of the body (``safetySettings``,
  ``cachedContent``, ``tools`` entries such as ``googleSearch`` are appended); a
  ``generationConfig`` dict in them is merged into the generation config.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
from msgspec import UNSET, UnsetType
from returns.result import Failure, Result, Success

from . import sse
from ._memo import remember
from ._result import ok
from .dialect import (
    DECODE_ERRORS,
    ProviderConfig,
    StreamEvent,
    close_stream,
    error_from_response,
    invalid_request,
    join_url,
    malformed,
    stream_error,
    too_long_error,
)
from .errors import ErrorKind, LlmError
from .fold import fold_chunks
from .http import Headers, HttpRequest, HttpResponse
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
from .shared import (
    USER_AGENT,
    TokenCount,
    conversation_problem,
    merge_provider_options,
    model_id_problem,
    preflight,
    settle,
)

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_FINISH_OTHER, _FINISH_STOP, _FINISH_TOOL_CALLS, _ASSISTANT, _SYSTEM, _TOOL = FinishReason.OTHER, FinishReason.STOP, FinishReason.TOOL_CALLS, Role.ASSISTANT, Role.SYSTEM, Role.TOOL

__all__ = ["GEMINI", "GeminiDialect", "GeminiStreamState", "synthesize_call_id"]

API_VERSION = "v1beta"

# ---------------------------------------------------------------------------------------------
# Request wire types (https://ai.google.dev/api/caching#Content). UNSET fields are left out.


class _WBlob(msgspec.Struct, rename="camel"):
    mime_type: str
    data: str


class _WFileData(msgspec.Struct, rename="camel"):
    file_uri: str
    mime_type: str | UnsetType = UNSET


class _WFunctionCall(msgspec.Struct):
    name: str
    args: dict[str, Any]


class _WFunctionResponse(msgspec.Struct):
    name: str
    response: dict[str, Any]


class _WPart(msgspec.Struct, rename="camel"):
    text: str | UnsetType = UNSET
    inline_data: _WBlob | UnsetType = UNSET
    file_data: _WFileData | UnsetType = UNSET
    function_call: _WFunctionCall | UnsetType = UNSET
    function_response: _WFunctionResponse | UnsetType = UNSET
    thought: bool | UnsetType = UNSET
    thought_signature: str | UnsetType = UNSET


class _WContent(msgspec.Struct, kw_only=True):
    role: str | UnsetType = UNSET
    parts: list[_WPart]


class _WFunctionDeclaration(msgspec.Struct, rename="camel"):
    name: str
    description: str | UnsetType = UNSET
    # ``parametersJsonSchema`` takes arbitrary JSON Schema; ``parameters`` only the OpenAPI subset
    # (https://ai.google.dev/api/caching#FunctionDeclaration), so the former is what fits ToolSpec.
    parameters_json_schema: dict[str, Any] | UnsetType = UNSET


class _WTool(msgspec.Struct, rename="camel"):
    function_declarations: list[_WFunctionDeclaration]


class _WFunctionCallingConfig(msgspec.Struct, rename="camel"):
    mode: str
    allowed_function_names: list[str] | UnsetType = UNSET


class _WToolConfig(msgspec.Struct, rename="camel"):
    function_calling_config: _WFunctionCallingConfig


class _WThinkingConfig(msgspec.Struct, rename="camel"):
    include_thoughts: bool | UnsetType = UNSET
    thinking_budget: int | UnsetType = UNSET
    thinking_level: str | UnsetType = UNSET


class _WGenerationConfig(msgspec.Struct, rename="camel"):
    stop_sequences: list[str] | UnsetType = UNSET
    response_mime_type: str | UnsetType = UNSET
    response_json_schema: dict[str, Any] | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    thinking_config: _WThinkingConfig | UnsetType = UNSET


class _WRequest(msgspec.Struct, rename="camel", kw_only=True):
    model: str | UnsetType = UNSET  # only inside countTokens' generateContentRequest
    contents: list[_WContent]
    system_instruction: _WContent | UnsetType = UNSET
    tools: list[_WTool] | UnsetType = UNSET
    tool_config: _WToolConfig | UnsetType = UNSET
    generation_config: _WGenerationConfig | UnsetType = UNSET


class _WCountTokens(msgspec.Struct, rename="camel"):
    generate_content_request: _WRequest


# ---------------------------------------------------------------------------------------------
# Response wire types: all optional and nullable, unknown fields ignored.


class _RFunctionCall(msgspec.Struct):
    id: str | None = None
    name: str | None = None
    args: dict[str, Any] | None = None


class _RPart(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool | None = None
    thought_signature: str | None = None
    function_call: _RFunctionCall | None = None


class _RContent(msgspec.Struct):
    parts: list[_RPart] | None = None
    role: str | None = None


class _RCandidate(msgspec.Struct, rename="camel"):
    content: _RContent | None = None
    finish_reason: str | None = None
    finish_message: str | None = None
    safety_ratings: list[Any] | None = None
    index: int | None = None


class _RPromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None
    safety_ratings: list[Any] | None = None


class _RUsage(msgspec.Struct, rename="camel"):
    prompt_token_count: TokenCount | None = None
    candidates_token_count: TokenCount | None = None
    total_token_count: TokenCount | None = None
    cached_content_token_count: TokenCount | None = None
    thoughts_token_count: TokenCount | None = None
    tool_use_prompt_token_count: TokenCount | None = None


class _RStatus(msgspec.Struct):
    """``google.rpc.Status`` as JSON: https://ai.google.dev/gemini-api/docs/troubleshooting."""

    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[Any] | None = None


class _RResponse(msgspec.Struct, rename="camel"):
    candidates: list[_RCandidate] | None = None
    prompt_feedback: _RPromptFeedback | None = None
    usage_metadata: _RUsage | None = None
    model_version: str | None = None
    response_id: str | None = None
    error: _RStatus | None = None


class _RErrorBody(msgspec.Struct):
    error: _RStatus | None = None


class _RCountTokens(msgspec.Struct, rename="camel"):
    total_tokens: TokenCount | None = None
    error: _RStatus | None = None


_ENCODER = msgspec.json.Encoder()
_RESPONSE = msgspec.json.Decoder(_RResponse)
_ERROR = msgspec.json.Decoder(_RErrorBody | list[_RErrorBody])
_COUNT = msgspec.json.Decoder(_RCountTokens)

# https://ai.google.dev/api/generate-content#FinishReason
FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    # LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, … → other
}

# google.rpc.Code names (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes) -> kind.
STATUS_KINDS: dict[str, ErrorKind] = {
    "INVALID_ARGUMENT": ErrorKind.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorKind.INVALID_REQUEST,
    "OUT_OF_RANGE": ErrorKind.INVALID_REQUEST,
    "PERMISSION_DENIED": ErrorKind.PERMISSION,
    "UNAUTHENTICATED": ErrorKind.AUTHENTICATION,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMIT,
    "INTERNAL": ErrorKind.PROVIDER,
    "UNKNOWN": ErrorKind.PROVIDER,
    "UNAVAILABLE": ErrorKind.OVERLOADED,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
}
# google.rpc.ErrorInfo reasons that say more than the status. A bad key comes back as 400
# INVALID_ARGUMENT with reason API_KEY_INVALID, which is an authentication problem.
REASON_KINDS: dict[str, ErrorKind] = {
    "API_KEY_INVALID": ErrorKind.AUTHENTICATION,
    "API_KEY_EXPIRED": ErrorKind.AUTHENTICATION,
    "API_KEY_SERVICE_BLOCKED": ErrorKind.PERMISSION,
    "SERVICE_DISABLED": ErrorKind.PERMISSION,
}
# "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
_CONTEXT_MARKERS = ("input token count", "exceeds the maximum number of tokens")

# Reasoning effort -> ThinkingConfig.thinkingLevel (https://ai.google.dev/gemini-api/docs/thinking).
THINKING_LEVELS: dict[str, str] = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
TOOL_MODES: dict[str, str] = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
ROLES: dict[Role, str] = {Role.USER: "user", Role.ASSISTANT: "model"}
# fileData needs a MIME type; for a URL without one it is read from these extensions (the image
# types Gemini accepts: https://ai.google.dev/gemini-api/docs/image-understanding).
IMAGE_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "gif": "image/gif",
}


def synthesize_call_id(response_id: str | None, index: int, name: str) -> str:
    """A stable id for the ``index``-th function call of a response that sent none.

    >>> synthesize_call_id("r1", 0, "get_weather") == synthesize_call_id("r1", 0, "get_weather")
    True
    >>> synthesize_call_id("r1", 0, "get_weather").startswith("call_")
    True
    """
    digest = hashlib.sha256(f"{response_id or ''}\x00{index}\x00{name}".encode()).hexdigest()
    return "call_" + digest[:24]


def strip_model(model: str) -> str:
    """``gemini:x`` / ``google/x`` / ``models/x`` → ``x``.

    >>> strip_model("google:gemini-2.5-pro"), strip_model("models/gemini-2.5-flash")
    ('gemini-2.5-pro', 'gemini-2.5-flash')
    """
    for prefix in ("gemini:", "gemini/", "google:", "google/", "models/"):
        if model.startswith(prefix):
            model = model[len(prefix) :]
    return model


# (id(dialect), id(cfg), model string, method, streamed) -> (dialect, cfg, URL, headers): pure and
# the same on every request (issue 19: ~35 calls per request). Only an address that passed its
# checks is kept; the entry holds the dialect and the config, so their ids stay theirs while cached
# (``is`` confirms a hit). Headers are immutable and shared. Bounded: cleared when full.
_ADDRESSED: dict[tuple[int, int, str, str, bool], tuple[Any, ProviderConfig, str, Headers]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class GeminiDialect:
    """The Gemini API's ``generateContent`` family."""

    name: str = "gemini"
    default_base_url: str = "https://generativelanguage.googleapis.com"

    # -- encode ---------------------------------------------------------------------------------

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]:
        body = self._body(req)
        if isinstance(body, str):
            return invalid_request(self.name, body)
        raw = _ENCODER.encode(body)
        if req.provider_options:  # merge_provider_options leaves the body as it is without any (issue 19)
            merged = merge_provider_options(self.name, raw, req.provider_options, merged=_MERGED, extended=_EXTENDED)
            if type(merged) is Failure:
                return merged
            raw = merged.unwrap()
        if stream:
            # Without alt=sse the endpoint streams one JSON array instead of events.
            return self._request(cfg, req.model, "streamGenerateContent?alt=sse", raw, sse_accept=True)
        return self._request(cfg, req.model, "generateContent", raw)

    def encode_count_tokens(self, req: ChatRequest, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
        """``POST …/models/{model}:countTokens`` for the whole request (system, tools and all).

        >>> from .schema import ChatRequest, Message
        >>> from .secret import Secret
        >>> r = GEMINI.encode_count_tokens(ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),)),
        ...                                ProviderConfig(api_key=Secret("k"))).unwrap()
        >>> r.url
        'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens'
        >>> r.body
        b'{"generateContentRequest":{"model":"models/gemini-2.5-flash","contents":[{"role":"user","parts":[{"text":"hi"}]}]}}'
        """
        body = self._body(req)
        if isinstance(body, str):
            return invalid_request(self.name, body)
        body.model = "models/" + strip_model(req.model)
        raw = _ENCODER.encode(_WCountTokens(body))
        return self._request(cfg, req.model, "countTokens", raw)

    def decode_count_tokens(self, resp: HttpResponse) -> Result[int, LlmError]:
        """``totalTokens`` of a ``countTokens`` reply (or the error it carries).

        >>> GEMINI.decode_count_tokens(HttpResponse(200, body=b'{"totalTokens": 31}')).unwrap()
        31
        """
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            c = _COUNT.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if c.error is not None:
            return Failure(self._error_from_status(c.error, resp))
        # proto3 JSON leaves a zero out, so a missing totalTokens is 0.
        return Success(c.total_tokens or 0)

    def _request(
        self, cfg: ProviderConfig, model: str, method: str, raw: bytes, *, sse_accept: bool = False
    ) -> Result[HttpRequest, LlmError]:
        key = (id(self), id(cfg), model, method, sse_accept)
        hit = _ADDRESSED.get(key)
        if hit is not None and hit[0] is self and hit[1] is cfg:
            return ok(HttpRequest("POST", hit[2], hit[3], raw))
        addressed = self._address(cfg, model, method, sse_accept)
        if type(addressed) is Failure:
            return addressed
        url, headers = addressed.unwrap()
        remember(_ADDRESSED, key, (self, cfg, url, headers))
        return ok(HttpRequest("POST", url, headers, raw))

    def _address(self, cfg: ProviderConfig, model: str, method: str, sse_accept: bool) -> Result[tuple[str, Headers], LlmError]:
        """The URL and headers of one method of one model, once the key, the config and the id are checked."""
        if not cfg.api_key:
            return Failure(
                LlmError(
                    kind=ErrorKind.AUTHENTICATION,
                    message="no API key for gemini: pass api_key= or set GEMINI_API_KEY (or GOOGLE_API_KEY)",
                    code="missing_api_key",
                    provider=self.name,
                )
            )
        base = cfg.base_url or self.default_base_url
        checked = preflight(self.name, cfg, base)
        if type(checked) is Failure:
            return checked
        model_id = strip_model(model)
        if (problem := model_id_problem(model_id)) is not None:
            return invalid_request(self.name, problem)
        path = urlsplit(base).path.rstrip("/")
        # A base URL that already names an API version (a proxy at …/v1beta) is used as is.
        prefix = base if path.rsplit("/", 1)[-1] in ("v1", "v1beta", "v1alpha") else join_url(
            base, cfg.api_version or API_VERSION
        )
        url = join_url(prefix, f"models/{quote(model_id, safe='-._~')}:{method}")
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream" if sse_accept else "application/json"),
            ("User-Agent", USER_AGENT),
            ("x-goog-api-key", cfg.api_key.reveal()),
        ]
        headers.extend(cfg.headers)
        return Success((url, Headers(headers)))

    def _body(self, req: ChatRequest) -> _WRequest | str:
        if (problem := conversation_problem(req)) is not None:
            return problem
        system: list[_WPart] = []
        contents: list[_WContent] = []
        calls: dict[str, tuple[str, int]] = {}  # tool_call_id -> (name, position in its turn)
        pending: list[tuple[int, _WPart]] = []  # a run of tool results, answered in call order

        def flush() -> None:
            if pending:
                contents.append(_WContent(role="user", parts=[p for _, p in sorted(pending, key=lambda x: x[0])]))
                pending.clear()

        for i, m in enumerate(req.messages):
            if m.role is _TOOL:
                part = _tool_result(m, calls, len(pending))
                if isinstance(part, str):
                    return f"messages[{i}]: {part}"
                pending.append(part)
                continue
            flush()
            if m.role is _SYSTEM:
                for p in m.parts:
                    if not isinstance(p, TextPart):
                        return f"messages[{i}]: only text is allowed in a system message"
                    system.append(_WPart(text=p.text))
                continue
            parts = _encode_parts(m)
            if isinstance(parts, str):
                return f"messages[{i}]: {parts}"
            if m.role is _ASSISTANT:
                for pos, tc in enumerate(m.tool_calls):
                    calls[tc.id] = (tc.name, pos)
                    try:
                        args = msgspec.json.decode(tc.arguments or "{}")
                    except DECODE_ERRORS:
                        return f"messages[{i}]: tool call {tc.id!r} arguments are not valid JSON"
                    if not isinstance(args, dict):
                        return f"messages[{i}]: tool call {tc.id!r} arguments must be a JSON object"
                    parts.append(
                        _WPart(
                            function_call=_WFunctionCall(tc.name, args),
                            thought_signature=UNSET if tc.signature is None else tc.signature,
                        )
                    )
            if not parts:
                # Gemini rejects a Content with no parts; an empty turn carries nothing anyway.
                continue
            contents.append(_WContent(role=ROLES[m.role], parts=parts))
        flush()
        if not contents:
            return "the request has no user or assistant content (only system messages)"
        body = _WRequest(contents=contents)
        if system:
            body.system_instruction = _WContent(parts=system)
        if req.tools:
            body.tools = [
                _WTool(
                    [
                        _WFunctionDeclaration(
                            t.name, UNSET if t.description is None else t.description, t.parameters
                        )
                        for t in req.tools
                    ]
                )
            ]
        if req.tool_choice is not None:
            choice = req.tool_choice
            if isinstance(choice, ToolChoiceFunction):
                fcc = _WFunctionCallingConfig("ANY", [choice.name])
            else:
                fcc = _WFunctionCallingConfig(TOOL_MODES[choice])
            body.tool_config = _WToolConfig(fcc)
        gen = _generation_config(req)
        if gen is not None:
            body.generation_config = gen
        return body

    # -- decode ---------------------------------------------------------------------------------

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]:
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            r = _RESPONSE.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if r.error is not None:
            return Failure(self._error_from_status(r.error, resp))
        if not r.candidates:
            blocked = _blocked(self.name, r, resp.status)
            if blocked is not None:
                return Failure(blocked)
            return Failure(malformed(self.name, "no candidates in the response", resp.body, status=resp.status))
        cand = r.candidates[0]
        parts = cand.content.parts if cand.content else None
        if parts is not None and len(parts) == 1:
            p = parts[0]
            if p.text and not p.thought and p.function_call is None and p.thought_signature is None:
                # The common answer, one plain text part: what the fold below builds from it,
                # without the round trip through chunks (the fold's equality tests cover both).
                finish, raw_finish, meta = _outcome(cand, 0)
                return ok(
                    settle(ChatResponse(
                        id=r.response_id or "",
                        model=r.model_version or "",
                        created=0,
                        message=assistant_text(p.text),
                        finish_reason=finish or FinishReason.OTHER,
                        raw_finish_reason=raw_finish,
                        usage=_usage(r.usage_metadata) if r.usage_metadata is not None else Usage(),
                        provider=self.name,
                        provider_metadata=meta,
                    ))
                )
        # Otherwise the answer is folded exactly as a stream of one event would be, so the two are
        # equal by construction (thoughts merged, signatures attached, ids synthesized alike).
        chunks, _ = _chunks(r, 0, r.response_id)
        return Success(fold_chunks(chunks, self.name))

    def decode_error(self, resp: HttpResponse) -> LlmError:
        status = _RStatus()
        if resp.body:
            try:
                body = _ERROR.decode(resp.body)
            except DECODE_ERRORS:
                body = _RErrorBody()
            # streamGenerateContent without alt=sse wraps the error in a JSON array.
            if isinstance(body, list):
                body = body[0] if body else _RErrorBody()
            status = body.error or status
        return self._error_from_status(status, resp)

    def _error_from_status(self, s: _RStatus, resp: HttpResponse) -> LlmError:
        reason, retry_delay = _details(s.details)
        kind = REASON_KINDS.get(reason or "") or STATUS_KINDS.get(s.status or "")
        message = s.message or None
        if kind is ErrorKind.INVALID_REQUEST and message and all(k in message for k in _CONTEXT_MARKERS):
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        if kind is None and resp.status < 400:
            kind = ErrorKind.PROVIDER
        return error_from_response(
            self.name,
            resp,
            message=message,
            kind=kind,
            code=reason or s.status,
            retry_after=retry_delay,
        )

    # -- stream ---------------------------------------------------------------------------------

    def stream_start(self, max_event_bytes: int = sse.DEFAULT_MAX_EVENT_BYTES) -> GeminiStreamState:
        return GeminiStreamState(sse=sse.start(max_event_bytes))

    def stream_feed(
        self, state: GeminiStreamState, data: bytes
    ) -> tuple[GeminiStreamState, tuple[StreamEvent, ...]]:
        if state.failed:
            return state, ()
        sst, events = sse.feed(state.sse, data)
        match events:
            case (ev,) if not sst.too_long:
                # The usual read (issue 19): one mid-stream delta of one plain text part, the chunk
                # _chunks would make for it. Anything else is decoded again below, by the general fold.
                try:
                    r: _RResponse | None = _RESPONSE.decode(ev.data)
                except DECODE_ERRORS:
                    r = None
                if r is not None and r.error is None and r.candidates:
                    cand = r.candidates[0]
                    match cand.content.parts if cand.content is not None else None:
                        case [p] if (p.text and not p.thought and p.function_call is None and cand.finish_reason is None
                                     and not cand.finish_message and not cand.safety_ratings):
                            u = r.usage_metadata
                            chunk = settle(ChatChunk(text=p.text, reasoning_signature=p.thought_signature, id=r.response_id,
                                                     model=r.model_version, usage=_usage(u) if u is not None else None))
                            rid = state.response_id or r.response_id
                            return GeminiStreamState(sst, state.calls, rid, state.finished, False), (chunk,)
        st = msgspec.structs.replace(state, sse=sst)
        if sst.too_long:
            return msgspec.structs.replace(st, failed=True), (too_long_error(self.name, sst.max_event_bytes),)
        if not events:
            return st, ()
        return self._on_events(st, events)

    def _on_events(
        self, st: GeminiStreamState, events: tuple[sse.SseEvent, ...]
    ) -> tuple[GeminiStreamState, tuple[StreamEvent, ...]]:
        out: list[StreamEvent] = []
        calls, response_id, finished = st.calls, st.response_id, st.finished
        for ev in events:
            try:
                r = _RESPONSE.decode(ev.data)
            except DECODE_ERRORS as e:
                out.append(stream_error(self.name, f"malformed stream event: {e}", ev.data))
                return GeminiStreamState(st.sse, calls, response_id, finished, True), tuple(out)
            if r.error is not None:
                err = self._error_from_status(r.error, HttpResponse(200))
                out.append(
                    msgspec.structs.replace(
                        err,
                        kind=ErrorKind.STREAMING if err.kind is ErrorKind.PROVIDER else err.kind,
                        message=f"error event mid-stream: {err.message}",
                        retryable=False,
                    )
                )
                return GeminiStreamState(st.sse, calls, response_id, finished, True), tuple(out)
            if not r.candidates:
                blocked = _blocked(self.name, r, None)
                if blocked is not None:
                    out.append(blocked)
                    return GeminiStreamState(st.sse, calls, response_id, finished, True), tuple(out)
            response_id = response_id or r.response_id
            chunks, calls = _chunks(r, calls, response_id)
            for c in chunks:  # a plain loop: any() over a generator costs three calls per event
                if c.finish_reason is not None:
                    finished = True
            out.extend(chunks)
        return GeminiStreamState(st.sse, calls, response_id, finished, False), tuple(out)

    def stream_finish(self, state: GeminiStreamState) -> Result[tuple[ChatChunk, ...], LlmError]:
        if state.failed:
            return Failure(stream_error(self.name, "stream already failed", b""))
        st, events = self._on_events(state, sse.finish(state.sse))
        # Gemini has no terminal sentinel: the last candidate chunk carries finishReason.
        return close_stream(self.name, events, complete=st.finished, missing="no chunk carried finishReason")


class GeminiStreamState(msgspec.Struct, frozen=True):
    sse: sse.SseState = sse.SseState()
    calls: int = 0
    """Function calls seen so far: the next call's index, and whether STOP means tool_calls."""
    response_id: str | None = None
    finished: bool = False
    failed: bool = False


# ---------------------------------------------------------------------------------------------
# Encoding helpers


def _encode_parts(m: Message) -> list[_WPart] | str:
    out: list[_WPart] = []
    for p in m.parts:
        match p:
            case TextPart(text=text):
                if text:
                    out.append(_WPart(text=text))
            case ImagePart():
                if m.role is not Role.USER:
                    return f"images are only allowed in user messages, not {m.role.value}"
                part = _image(p)
                if isinstance(part, str):
                    return part
                out.append(part)
            case ReasoningPart(text=text, signature=sig):
                # Only the model's own turns carry thoughts; ``redacted`` is Anthropic's and has no
                # Gemini counterpart, so it is not sent.
                if m.role is not Role.ASSISTANT:
                    continue
                if text:
                    out.append(_WPart(text=text, thought=True, thought_signature=UNSET if sig is None else sig))
                elif sig is not None:
                    # Gemini itself streams a signature alone as {"text": "", "thoughtSignature": …}.
                    out.append(_WPart(text="", thought_signature=sig))
    return out


def _image(p: ImagePart) -> _WPart | str:
    if p.data is not None:
        return _WPart(inline_data=_WBlob(p.media_type or "", p.data))
    url = p.url or ""
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        mime, _, enc = head.partition(";")
        if not sep or enc != "base64" or not mime:
            return "a data: image URL must look like data:<mime>;base64,<data>"
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return "the data: image URL does not hold valid base64"
        return _WPart(inline_data=_WBlob(mime, data))
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("gs", "https"):
        return f"Gemini accepts gs://, https:// or data: image URLs, not {url[:40]!r}"
    # gs:// objects, Files API URIs and public or signed https URLs all go in fileData
    # (https://ai.google.dev/gemini-api/docs/file-input-methods); fileData needs a MIME type.
    # A Files API URI needs none: the uploaded file already has one.
    file_mime = p.media_type or IMAGE_TYPES.get(urlsplit(url).path.rsplit(".", 1)[-1].lower())
    if file_mime is None and not url.startswith("https://generativelanguage.googleapis.com/"):
        return f"cannot tell the image type of {url[:80]!r}: pass ImagePart(url=..., media_type='image/png')"
    return _WPart(file_data=_WFileData(url, UNSET if file_mime is None else file_mime))


def _tool_result(m: Message, calls: dict[str, tuple[str, int]], arrival: int) -> tuple[int, _WPart] | str:
    found = calls.get(m.tool_call_id or "")
    name = found[0] if found else m.name
    if not name:
        return (
            f"tool result {m.tool_call_id!r} answers no earlier tool call and has no name; Gemini matches "
            "results to calls by function name"
        )
    # Unknown ids (a result whose call is not in this conversation) keep their arrival order, after
    # the known ones.
    order = found[1] if found else 1_000_000 + arrival
    key = "error" if m.is_error else "output"
    return order, _WPart(function_response=_WFunctionResponse(name, {key: m.text}))


def _generation_config(req: ChatRequest) -> _WGenerationConfig | None:
    g = _WGenerationConfig()
    used = False
    if req.stop:
        g.stop_sequences, used = list(req.stop), True
    if req.max_tokens is not None:
        g.max_output_tokens, used = req.max_tokens, True
    if req.temperature is not None:
        g.temperature, used = req.temperature, True
    if req.top_p is not None:
        g.top_p, used = req.top_p, True
    if req.seed is not None:
        g.seed, used = req.seed, True
    rf = req.response_format
    if rf is not None and rf.type != "text":
        g.response_mime_type, used = "application/json", True
        if rf.type == "json_schema" and rf.schema is not None:
            g.response_json_schema = rf.schema
    r = req.reasoning
    if r is not None:
        tc = _WThinkingConfig(include_thoughts=r.include_thoughts)
        # The API rejects thinkingBudget and thinkingLevel together; an explicit budget wins.
        if r.budget_tokens is not None:
            tc.thinking_budget = r.budget_tokens
        elif r.effort is not None:
            tc.thinking_level = THINKING_LEVELS[r.effort]
        g.thinking_config, used = tc, True
    return g if used else None


# provider_options: generationConfig merges key by key, tools are appended to ours.
_MERGED = frozenset({"generationConfig"})
_EXTENDED = frozenset({"tools"})


# ---------------------------------------------------------------------------------------------
# Decoding helpers


def _chunks(r: _RResponse, calls: int, response_id: str | None) -> tuple[list[ChatChunk], int]:
    """One response object (a whole answer, or one streamed delta) as chunks: one per part, with
    id/model on the first and finish/usage on the last. Returns the running function-call count."""
    out: list[ChatChunk] = []
    cand = r.candidates[0] if r.candidates else None
    parts = (cand.content.parts if cand and cand.content else None) or ()
    if len(parts) == 1 and parts[0].text and not parts[0].thought and parts[0].function_call is None:
        # The usual streamed delta, one plain text part: the one chunk the merges below would make.
        p = parts[0]
        if cand is not None and cand.finish_reason is None and not cand.finish_message and not cand.safety_ratings:
            finish, raw_finish, meta = None, None, None  # what _outcome says for a mid-stream delta
        else:
            finish, raw_finish, meta = _outcome(cand, calls)
        chunk = settle(ChatChunk(
            text=p.text or "",
            reasoning_signature=p.thought_signature,
            id=r.response_id,
            model=r.model_version,
            finish_reason=finish,
            raw_finish_reason=raw_finish,
            usage=_usage(r.usage_metadata) if r.usage_metadata is not None else None,
            provider_metadata=meta or None,
        ))
        return [chunk], calls
    for p in parts:
        if p.function_call is not None:
            fc = p.function_call
            name = fc.name or ""
            out.append(
                ChatChunk(
                    tool_calls=(
                        ToolCallDelta(
                            index=calls,
                            id=fc.id or synthesize_call_id(response_id, calls, name),
                            name=name,
                            arguments=msgspec.json.encode(fc.args or {}).decode(),
                            signature=p.thought_signature,
                        ),
                    )
                )
            )
            calls += 1
        elif p.thought:
            out.append(ChatChunk(reasoning=p.text or "", reasoning_signature=p.thought_signature))
        elif p.text or p.thought_signature is not None:
            out.append(ChatChunk(text=p.text or "", reasoning_signature=p.thought_signature))
        # inlineData (generated images), executableCode, codeExecutionResult: not in the unified model.
    finish, raw_finish, meta = _outcome(cand, calls)
    tail = settle(
        ChatChunk(
            finish_reason=finish,
            raw_finish_reason=raw_finish,
            usage=_usage(r.usage_metadata) if r.usage_metadata is not None else None,
            provider_metadata=meta or None,
        )
    )
    head = ChatChunk(id=r.response_id, model=r.model_version)
    if not out:
        return [_merge(head, tail)], calls
    out[0] = _merge(out[0], head)
    out[-1] = _merge(out[-1], tail)
    return out, calls


def _outcome(cand: _RCandidate | None, calls: int) -> tuple[FinishReason | None, str | None, dict[str, Any]]:
    """The finish reason (raw and mapped) and the candidate's metadata, once ``calls`` calls were made."""
    finish: FinishReason | None = None
    raw_finish = cand.finish_reason if cand else None
    if raw_finish is not None:
        finish = FINISH_REASONS.get(raw_finish, _FINISH_OTHER)
        if finish is _FINISH_STOP and calls:
            finish = _FINISH_TOOL_CALLS
    meta: dict[str, Any] = {}
    if cand is not None and cand.finish_message:
        meta["finish_message"] = cand.finish_message
    if cand is not None and cand.safety_ratings:
        meta["safety_ratings"] = cand.safety_ratings
    return finish, raw_finish, meta


def _merge(a: ChatChunk, b: ChatChunk) -> ChatChunk:
    """``a`` with the metadata fields of ``b`` that ``b`` sets."""
    fields = {
        f: getattr(b, f)
        for f in ("id", "model", "finish_reason", "raw_finish_reason", "usage", "provider_metadata")
        if getattr(b, f) is not None
    }
    return msgspec.structs.replace(a, **fields) if fields else a


def _usage(u: _RUsage) -> Usage:
    prompt = (u.prompt_token_count or 0) + (u.tool_use_prompt_token_count or 0)
    thoughts = u.thoughts_token_count or 0
    completion = (u.candidates_token_count or 0) + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=u.total_token_count if u.total_token_count is not None else prompt + completion,
        cached_tokens=u.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


def _blocked(provider: str, r: _RResponse, status: int | None) -> LlmError | None:
    fb = r.prompt_feedback
    if fb is None or not fb.block_reason:
        return None
    return LlmError(
        kind=ErrorKind.CONTENT_FILTER,
        message=f"the prompt was blocked by Gemini's safety system ({fb.block_reason})",
        provider=provider,
        status=status,
        code=fb.block_reason,
        raw=msgspec.json.encode(fb.safety_ratings or []).decode()[:2048] if fb.safety_ratings else None,
    )


def _details(details: list[Any] | None) -> tuple[str | None, float | None]:
    """``ErrorInfo.reason`` and ``RetryInfo.retryDelay`` (a Duration such as ``"17s"``) from details."""
    reason: str | None = None
    delay: float | None = None
    for d in details or ():
        if not isinstance(d, dict):
            continue
        kind = str(d.get("@type", "")).rsplit("/", 1)[-1]
        if kind == "google.rpc.ErrorInfo" and isinstance(d.get("reason"), str):
            reason = reason or d["reason"]
        elif kind == "google.rpc.RetryInfo":
            delay = _duration(d.get("retryDelay"))
    return reason, delay


def _duration(v: Any) -> float | None:
    """A protobuf Duration in JSON form: ``"17s"``, ``"0.5s"``, ``"3.000000001s"``."""
    if not isinstance(v, str) or not v.endswith("s"):
        return None
    try:
        seconds = float(v[:-1])
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None



GEMINI = GeminiDialect()
