"""OpenAI Chat Completions, as a pure dialect.

Wire reference: https://platform.openai.com/docs/api-reference/chat (create, object, streaming).
Compatible servers (Azure, xAI, Docker Model Runner, vLLM, …) are *configurations* of
:class:`OpenAIDialect` — base URL, auth header, URL shape, a few field names — never copies.

>>> from .schema import ChatRequest, Message
>>> from .secret import Secret
>>> r = OPENAI.encode_request(ChatRequest(model="gpt-4o-mini", messages=(Message.user("hi"),)),
...                           ProviderConfig(api_key=Secret("sk-test"))).unwrap()
>>> r.method, r.url, r.headers["authorization"]
('POST', 'https://api.openai.com/v1/chat/completions', 'Bearer sk-test')
>>> r.body
b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

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
from .prompt_cache import explicit_breakpoints, has_breakpoints_in, openai_cache_fields
from .schema import (
    CacheControl,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    ReasoningPart,
    ResponseFormat,
    Role,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoiceFunction,
    ToolSpec,
    Usage,
    assistant_message,
    assistant_text,
)
from .shared import (
    ROLE_NAMES,
    USER_AGENT,
    TokenCount,
    merge_provider_options,
    model_id_problem,
    preflight,
    refuse_empty,
    settle,
    strip_model_prefix,
)

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_FINISH_CONTENT_FILTER, _FINISH_OTHER, _ASSISTANT, _SYSTEM, _TOOL, _USER = FinishReason.CONTENT_FILTER, FinishReason.OTHER, Role.ASSISTANT, Role.SYSTEM, Role.TOOL, Role.USER

__all__ = ["OPENAI", "OpenAIDialect", "OpenAIStreamState", "strip_model_prefix"]


# ---------------------------------------------------------------------------------------------
# Request wire types. UNSET fields are left out of the JSON entirely.


class _WBreakpoint(msgspec.Struct):
    """``prompt_cache_breakpoint`` ("marks the exact end of a reusable prompt prefix"; gpt-5.6 and
    later): ``ttl`` is a minimum lifetime, ``30m`` (the request default, left out) or ``12h``."""

    mode: str = "explicit"
    ttl: str | UnsetType = UNSET


class _WTextPart(msgspec.Struct, tag="text"):
    text: str
    prompt_cache_breakpoint: _WBreakpoint | UnsetType = UNSET


class _WImageUrl(msgspec.Struct):
    url: str
    detail: str | UnsetType = UNSET


class _WImagePart(msgspec.Struct, tag="image_url"):
    image_url: _WImageUrl
    prompt_cache_breakpoint: _WBreakpoint | UnsetType = UNSET


class _WFunctionCall(msgspec.Struct):
    name: str
    arguments: str


class _WToolCall(msgspec.Struct):
    id: str
    type: str
    function: _WFunctionCall


class _WMessage(msgspec.Struct):
    role: str
    content: str | list[_WTextPart | _WImagePart] | UnsetType | None = UNSET
    tool_calls: list[_WToolCall] | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET


class _WFunctionDef(msgspec.Struct):
    name: str
    parameters: dict[str, Any]
    description: str | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class _WTool(msgspec.Struct):
    type: str
    function: _WFunctionDef


class _WNamedFunction(msgspec.Struct):
    name: str


class _WToolChoice(msgspec.Struct):
    type: str
    function: _WNamedFunction


class _WJsonSchema(msgspec.Struct):
    name: str
    schema: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class _WResponseFormat(msgspec.Struct):
    type: str
    json_schema: _WJsonSchema | UnsetType = UNSET


class _WStreamOptions(msgspec.Struct):
    include_usage: bool


class _WRequest(msgspec.Struct):
    model: str
    messages: list[_WMessage]
    tools: list[_WTool] | UnsetType = UNSET
    tool_choice: str | _WToolChoice | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    max_completion_tokens: int | UnsetType = UNSET
    max_tokens: int | UnsetType = UNSET
    stop: list[str] | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    response_format: _WResponseFormat | UnsetType = UNSET
    user: str | UnsetType = UNSET
    reasoning_effort: str | UnsetType = UNSET
    stream: bool | UnsetType = UNSET
    stream_options: _WStreamOptions | UnsetType = UNSET


# ---------------------------------------------------------------------------------------------
# Response wire types: every field optional and nullable (providers omit and null freely), unknown
# fields ignored (providers add fields).


class _RFunction(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _RToolCall(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    function: _RFunction | None = None
    index: int = 0


class _RMessage(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    tool_calls: list[_RToolCall] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None


class _RChoice(msgspec.Struct):
    index: int = 0
    message: _RMessage | None = None
    delta: _RMessage | None = None
    finish_reason: str | None = None
    content_filter_results: dict[str, Any] | None = None


class _RPromptDetails(msgspec.Struct):
    cached_tokens: TokenCount | None = None
    cache_write_tokens: TokenCount | None = None


class _RCompletionDetails(msgspec.Struct):
    reasoning_tokens: TokenCount | None = None


class _RUsage(msgspec.Struct):
    prompt_tokens: TokenCount | None = None
    completion_tokens: TokenCount | None = None
    total_tokens: TokenCount | None = None
    prompt_tokens_details: _RPromptDetails | None = None
    completion_tokens_details: _RCompletionDetails | None = None


class _RErrorDetail(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | int | None = None
    innererror: dict[str, Any] | None = None


class _RCompletion(msgspec.Struct):
    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[_RChoice] | None = None
    usage: _RUsage | None = None
    error: _RErrorDetail | None = None
    prompt_filter_results: list[dict[str, Any]] | None = None
    # Kept for telemetry (openai.response.service_tier / system_fingerprint). OpenAI sends both on the
    # completion and on every stream chunk; they go to provider_metadata once (the finish chunk).
    service_tier: str | None = None
    system_fingerprint: str | None = None


class _RErrorBody(msgspec.Struct):
    error: _RErrorDetail | str | None = None
    message: str | None = None


_ENCODER = msgspec.json.Encoder()
_COMPLETION = msgspec.json.Decoder(_RCompletion)
_ERROR = msgspec.json.Decoder(_RErrorBody)

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}

# (error code or type) -> kind, checked before the status-derived default.
ERROR_CODES: dict[str, ErrorKind] = {
    "context_length_exceeded": ErrorKind.CONTEXT_LENGTH_EXCEEDED,
    "string_above_max_length": ErrorKind.CONTEXT_LENGTH_EXCEEDED,
    "content_filter": ErrorKind.CONTENT_FILTER,
    "content_policy_violation": ErrorKind.CONTENT_FILTER,
    "invalid_api_key": ErrorKind.AUTHENTICATION,
    "model_not_found": ErrorKind.NOT_FOUND,
    # Azure: https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter
    # ("code": "content_filter", "innererror": {"code": "ResponsibleAIPolicyViolation", ...}).
    "ResponsibleAIPolicyViolation": ErrorKind.CONTENT_FILTER,
    "DeploymentNotFound": ErrorKind.NOT_FOUND,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.RATE_LIMIT,
    "server_error": ErrorKind.PROVIDER,
}
# Retrying these cannot help: the account is out of credit.
NOT_RETRYABLE_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
# Servers whose error bodies carry no code: (message prefix, kind), checked last. xAI answers a wrong
# key with HTTP 400 {"code": "Client specified an invalid argument", "error": "Incorrect API key
# provided: xa***. You can obtain an API key from https://console.x.ai."}.
ERROR_MESSAGES: tuple[tuple[str, ErrorKind], ...] = (
    ("Incorrect API key provided", ErrorKind.AUTHENTICATION),
)


def _tool(t: ToolSpec) -> _WTool:
    return _WTool(
        "function",
        _WFunctionDef(
            t.name,
            t.parameters,
            UNSET if t.description is None else t.description,
            UNSET if t.strict is None else t.strict,
        ),
    )


def _sampling(body: _WRequest, req: ChatRequest) -> None:
    """temperature, top_p, stop, seed and user, each only when set."""
    if req.temperature is not None:
        body.temperature = req.temperature
    if req.top_p is not None:
        body.top_p = req.top_p
    if req.stop:
        body.stop = list(req.stop)
    if req.seed is not None:
        body.seed = req.seed
    if req.user is not None:
        body.user = req.user


def _response_format(rf: ResponseFormat) -> _WResponseFormat:
    return _WResponseFormat(
        rf.type,
        _WJsonSchema(
            rf.name,
            UNSET if rf.schema is None else rf.schema,
            UNSET if rf.strict is None else rf.strict,
        )
        if rf.type == "json_schema"
        else UNSET,
    )


UrlBuilder = Callable[["OpenAIDialect", str, str, ProviderConfig], str]


def _default_url(d: OpenAIDialect, base: str, model: str, cfg: ProviderConfig) -> str:
    return join_url(base, d.chat_path)


# (id(dialect), id(cfg), model string, stream) -> (dialect, cfg, model id, URL, headers, whether
# breakpoints go on content parts): what the checks, the URL and the headers make of one config and
# model, all pure and the same on every request (issue 19: ~30 calls per request). Only an address
# that passed its checks is kept; the entry holds the dialect and the config, so their ids stay theirs
# while cached (``is`` confirms a hit). Headers are immutable and shared. Bounded: cleared when full.
# Filled by ``_fill_address``; read inline by ``encode_request`` (one call less per request) and by
# ``address`` (the Responses dialect's way in).
_ADDRESSED: dict[tuple[int, int, str, bool], tuple[Any, ProviderConfig, str, str, Headers, bool]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class OpenAIDialect:
    """OpenAI Chat Completions and everything that speaks it; each field is one known difference."""

    name: str = "openai"
    default_base_url: str = "https://api.openai.com/v1"
    chat_path: str = "/chat/completions"
    auth_header: str = "Authorization"
    auth_prefix: str = "Bearer "
    key_required: bool = True
    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    url_for: UrlBuilder = _default_url
    model_names: tuple[str, ...] = ("openai",)
    prompt_cache_routing: bool = False
    """Whether prompt-cache breakpoints become ``prompt_cache_key``/``prompt_cache_retention``
    (:func:`interlingua.core.prompt_cache.openai_cache_fields`; OpenAI itself only)."""
    reasoning_in_completion: bool = True
    """Whether ``usage.completion_tokens`` already counts the reasoning tokens (OpenAI: yes; xAI: no,
    "reasoning_tokens ... separated from the completion_tokens"). :class:`Usage` always counts them."""

    # -- encode ---------------------------------------------------------------------------------

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]:
        """Check, address, build the body, merge ``provider_options``, add headers: one named step each."""
        if (empty := refuse_empty(self.name, req)) is not None:
            return empty
        key = (id(self), id(cfg), req.model, stream)
        hit = _ADDRESSED.get(key)
        if hit is None or hit[0] is not self or hit[1] is not cfg:
            filled = self._fill_address(key, req.model, cfg, stream)
            if type(filled) is Failure:
                return filled
            hit = filled.unwrap()
        model, url, headers, explicit = hit[2], hit[3], hit[4], hit[5]
        messages: list[_WMessage] = []
        for m in req.messages:
            wm = _encode_message(m, explicit)
            if isinstance(wm, str):
                return invalid_request(self.name, wm)
            messages.append(wm)
        body = self._body(req, model, messages, stream)
        extra = openai_cache_fields(req, model) if self.prompt_cache_routing and not explicit else {}
        options = {**extra, **req.provider_options} if extra else req.provider_options
        raw = _ENCODER.encode(body)
        if options:  # merge_provider_options leaves the body as it is without any (issue 19: no Result)
            merged = merge_provider_options(self.name, raw, options)
            if type(merged) is Failure:
                return merged
            raw = merged.unwrap()
        return ok(HttpRequest("POST", url, headers, raw))

    def address(self, model: str, cfg: ProviderConfig, *, stream: bool = False) -> Result[tuple[str, str, Headers], LlmError]:
        """The model id, URL and headers :meth:`encode_request` sends a request for ``model`` with, once
        the key, the config and the id are checked (memoised as there). The Responses dialect of the
        same server addresses its requests with it."""
        key = (id(self), id(cfg), model, stream)
        hit = _ADDRESSED.get(key)
        if hit is None or hit[0] is not self or hit[1] is not cfg:
            filled = self._fill_address(key, model, cfg, stream)
            if type(filled) is Failure:
                return filled
            hit = filled.unwrap()
        return Success((hit[2], hit[3], hit[4]))

    def _fill_address(
        self, key: tuple[int, int, str, bool], model: str, cfg: ProviderConfig, stream: bool
    ) -> Result[tuple[Any, ProviderConfig, str, str, Headers, bool], LlmError]:
        """Check and build the address of ``key`` and remember it in :data:`_ADDRESSED`."""
        addressed = self._address(model, cfg)
        if type(addressed) is Failure:
            return addressed
        base, model_id = addressed.unwrap()
        url, headers = self.url_for(self, base, model_id, cfg), self._headers(cfg, stream)
        explicit = self.prompt_cache_routing and explicit_breakpoints(model_id)
        return Success(remember(_ADDRESSED, key, (self, cfg, model_id, url, headers, explicit)))

    def _address(self, model: str, cfg: ProviderConfig) -> Result[tuple[str, str], LlmError]:
        """The base URL and the model id, once the key, the config and the id are checked."""
        if self.key_required and not (cfg.api_key or cfg.bearer_token):
            return Failure(
                LlmError(
                    kind=ErrorKind.AUTHENTICATION,
                    message=f"no API key for {self.name}: pass api_key= or set the provider's key variable",
                    provider=self.name,
                    code="missing_api_key",
                )
            )
        base = cfg.base_url or self.default_base_url
        if not base:
            return Failure(
                LlmError(
                    kind=ErrorKind.INVALID_REQUEST,
                    message=f"{self.name} has no default base URL: pass base_url= (or set the provider's base URL variable)",
                    provider=self.name,
                    code="missing_base_url",
                )
            )
        checked = preflight(self.name, cfg, base)
        if type(checked) is Failure:
            return checked
        model_id = strip_model_prefix(model, *self.model_names)
        if (problem := model_id_problem(model_id)) is not None:
            return invalid_request(self.name, problem)  # Azure puts it in the URL path
        return Success((base, model_id))

    def _body(self, req: ChatRequest, model: str, messages: list[_WMessage], stream: bool) -> _WRequest:
        body = _WRequest(model=model, messages=messages)
        if req.tools:
            body.tools = [_tool(t) for t in req.tools]
        if req.tool_choice is not None:
            body.tool_choice = (
                _WToolChoice("function", _WNamedFunction(req.tool_choice.name))
                if isinstance(req.tool_choice, ToolChoiceFunction)
                else req.tool_choice
            )
        _sampling(body, req)
        if req.max_tokens is not None:
            setattr(body, self.max_tokens_field, req.max_tokens)
        if req.response_format is not None:
            body.response_format = _response_format(req.response_format)
        if req.reasoning is not None and req.reasoning.effort is not None:
            body.reasoning_effort = req.reasoning.effort
        if stream:
            body.stream = True
            body.stream_options = _WStreamOptions(include_usage=True)
        return body

    def _headers(self, cfg: ProviderConfig, stream: bool) -> Headers:
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream" if stream else "application/json"),
            ("User-Agent", USER_AGENT),
        ]
        if cfg.bearer_token:
            headers.append(("Authorization", "Bearer " + cfg.bearer_token.reveal()))
        elif cfg.api_key:
            headers.append((self.auth_header, self.auth_prefix + cfg.api_key.reveal()))
        if cfg.organization:
            headers.append(("OpenAI-Organization", cfg.organization))
        if cfg.project:
            headers.append(("OpenAI-Project", cfg.project))
        headers.extend(cfg.headers)
        return Headers(headers)

    # -- decode ---------------------------------------------------------------------------------

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]:
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            c = _COMPLETION.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if c.error is not None:
            return Failure(self._error_from_detail(c.error, resp))
        if not c.choices:
            if c.prompt_filter_results:
                return Failure(self._filtered(c.prompt_filter_results, resp.status))
            return Failure(malformed(self.name, "no choices in the response", resp.body, status=resp.status))
        choice = c.choices[0]
        msg = choice.message or _RMessage()
        reasoning = msg.reasoning_content or msg.reasoning
        message: Message
        if not (reasoning or msg.tool_calls or msg.refusal):
            # The usual answer, text only: the normal form assistant_message would build.
            message = assistant_text(msg.content or "")
        else:
            parts: list[TextPart | ReasoningPart] = []
            if reasoning:
                parts.append(ReasoningPart(text=reasoning))
            if msg.content:
                parts.append(TextPart(msg.content))
            calls = tuple(
                ToolCall(
                    id=tc.id or f"call_{i}",
                    name=(tc.function.name or "") if tc.function else "",
                    arguments=(tc.function.arguments or "") if tc.function else "",
                )
                for i, tc in enumerate(msg.tool_calls or ())
            )
            message = assistant_message(parts, calls, refusal=msg.refusal)
        finish, raw_finish = _finish(choice.finish_reason, msg.refusal)
        meta = _filter_metadata(c.prompt_filter_results, choice.content_filter_results)
        _serving_metadata(meta, c)
        return ok(
            settle(ChatResponse(
                id=c.id or "",
                model=c.model or "",
                created=c.created or 0,
                message=message,
                finish_reason=finish,
                raw_finish_reason=raw_finish,
                usage=_usage(c.usage, self.reasoning_in_completion),
                provider=self.name,
                provider_metadata=meta,
            ))
        )

    def decode_error(self, resp: HttpResponse) -> LlmError:
        try:
            body = _ERROR.decode(resp.body) if resp.body else _RErrorBody()
        except DECODE_ERRORS:
            body = _RErrorBody()
        detail = body.error
        if isinstance(detail, str):
            detail = _RErrorDetail(message=detail)
        if detail is None:
            detail = _RErrorDetail(message=body.message)
        return self._error_from_detail(detail, resp)

    def _error_from_detail(self, d: _RErrorDetail, resp: HttpResponse) -> LlmError:
        code = None if d.code is None else str(d.code)
        kind = ERROR_CODES.get(code or "") or ERROR_CODES.get(d.type or "")
        inner = d.innererror or {}
        inner_code = inner.get("code")
        if kind is None and isinstance(inner_code, str):
            kind = ERROR_CODES.get(inner_code)
        message = d.message or None
        if kind is None and message and resp.status == 400 and "maximum context length" in message:
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        if kind is None and message:
            kind = next((k for prefix, k in ERROR_MESSAGES if message.startswith(prefix)), None)
        categories = _filtered_categories(inner.get("content_filter_result"))
        if categories:
            message = f"{message or 'blocked by the content filter'} (filtered: {', '.join(categories)})"
        if kind is None and resp.status < 400:
            kind = ErrorKind.PROVIDER
        retryable = should_retry_hint(resp.headers)
        if code in NOT_RETRYABLE_CODES:
            retryable = False
        return error_from_response(
            self.name,
            resp,
            message=message,
            kind=kind,
            code=code or d.type,
            retryable=retryable,
        )

    def _filtered(self, results: list[dict[str, Any]], status: int) -> LlmError:
        categories = sorted(
            {c for r in results if isinstance(r, dict) for c in _filtered_categories(r.get("content_filter_results"))}
        )
        return LlmError(
            kind=ErrorKind.CONTENT_FILTER,
            message="the prompt was blocked by the provider's content filter"
            + (f" (filtered: {', '.join(categories)})" if categories else ""),
            provider=self.name,
            status=status,
            code="content_filter",
            raw=msgspec.json.encode(results).decode()[:2048],
        )

    # -- stream ---------------------------------------------------------------------------------

    def stream_start(self, max_event_bytes: int = sse.DEFAULT_MAX_EVENT_BYTES) -> OpenAIStreamState:
        return OpenAIStreamState(sse=sse.start(max_event_bytes))

    def stream_feed(
        self, state: OpenAIStreamState, data: bytes
    ) -> tuple[OpenAIStreamState, tuple[StreamEvent, ...]]:
        if state.failed or state.done:
            # Nothing after [DONE] or an error event can change the result.
            return state, ()
        sst, events = sse.feed(state.sse, data)
        match events:
            case (ev,) if not sst.too_long and ev.data != b"[DONE]":
                # The usual read (issue 19): one bare content delta, the chunk _on_events makes for
                # it. Anything else it turns out to be is decoded again there.
                try:
                    c: _RCompletion | None = _COMPLETION.decode(ev.data)
                except DECODE_ERRORS:
                    c = None
                if c is not None and c.error is None and c.usage is None and c.choices:
                    ch = c.choices[0]
                    d = ch.delta
                    if d is not None and ch.finish_reason is None and not (
                        d.tool_calls or d.reasoning_content or d.reasoning or d.refusal is not None
                        or ch.content_filter_results
                    ):
                        chunk = ChatChunk(text=d.content or "", id=c.id, model=c.model, created=c.created)
                        return OpenAIStreamState(sst, False, state.finished, False, True), (chunk,)
        if sst.too_long:
            return OpenAIStreamState(sst, state.done, state.finished, True, state.started), (
                too_long_error(self.name, sst.max_event_bytes),
            )
        if not events:
            return OpenAIStreamState(sst, state.done, state.finished, state.failed, state.started), ()
        return self._on_events(OpenAIStreamState(sst, state.done, state.finished, state.failed, state.started), events)

    def _on_events(
        self, st: OpenAIStreamState, events: tuple[sse.SseEvent, ...]
    ) -> tuple[OpenAIStreamState, tuple[StreamEvent, ...]]:
        out: list[StreamEvent] = []
        done, finished = st.done, st.finished
        for ev in events:
            if done:
                break
            if ev.data == b"[DONE]":
                done = True
                continue
            try:
                c = _COMPLETION.decode(ev.data)
            except DECODE_ERRORS as e:
                out.append(stream_error(self.name, f"malformed stream event: {e}", ev.data))
                return OpenAIStreamState(st.sse, done, finished, True, st.started), tuple(out)
            if c.error is not None:
                err = self._error_from_detail(c.error, HttpResponse(200))
                if not (st.started or out):
                    # Nothing reached the caller: the same error as the status would have been
                    # (server_error is a retryable 500), so the client retries it.
                    out.append(before_output(err))
                else:
                    out.append(
                        LlmError(
                            kind=err.kind if err.kind is not ErrorKind.PROVIDER else ErrorKind.STREAMING,
                            message=f"error event mid-stream: {err.message}",
                            provider=self.name,
                            code=err.code,
                            raw=err.raw,
                        )
                    )
                return OpenAIStreamState(st.sse, done, finished, True, st.started), tuple(out)
            choices = c.choices
            if c.usage is None and choices and (d := choices[0].delta) is not None and choices[0].finish_reason is None:
                # The common event, a bare content delta, without the general translation (issue 19):
                # every field _chunk would fill from it is empty, so this is the chunk it would build.
                ch = choices[0]
                if not (d.tool_calls or d.reasoning_content or d.reasoning or d.refusal is not None
                        or ch.content_filter_results):
                    out.append(ChatChunk(text=d.content or "", id=c.id, model=c.model, created=c.created))
                    continue
            chunk = _chunk(c, self.reasoning_in_completion)
            if chunk.finish_reason is not None:
                finished = True
            out.append(chunk)
        return OpenAIStreamState(st.sse, done, finished, False, st.started or bool(out)), tuple(out)

    def stream_finish(self, state: OpenAIStreamState) -> Result[tuple[ChatChunk, ...], LlmError]:
        if state.failed:
            return Failure(stream_error(self.name, "stream already failed", b""))
        st: OpenAIStreamState = state
        events: tuple[StreamEvent, ...] = ()
        if not state.done:
            st, events = self._on_events(state, sse.finish(state.sse))
        # Compatible servers that never send [DONE] still end with a finish_reason; a stream with
        # neither was cut short.
        return close_stream(self.name, events, complete=st.done or st.finished, missing="[DONE] or finish_reason missing")


class OpenAIStreamState(msgspec.Struct, frozen=True):
    sse: sse.SseState = sse.SseState()
    done: bool = False
    finished: bool = False
    failed: bool = False
    started: bool = False
    """A chunk was produced: an error event after it is a mid-stream failure."""



_BREAKPOINT_30M = _WBreakpoint()
_BREAKPOINT_12H = _WBreakpoint(ttl="12h")


def _breakpoint(c: CacheControl | None) -> _WBreakpoint | UnsetType:
    if c is None:
        return UNSET
    # a minimum lifetime: the default 30m covers "5m"; only "12h" covers "1h"
    return _BREAKPOINT_12H if c.ttl == "1h" else _BREAKPOINT_30M


def _encode_message(m: Message, explicit: bool = False) -> _WMessage | str:
    wm = _encode_plain(m)
    if not explicit or isinstance(wm, str) or not has_breakpoints_in(m):
        return wm
    # gpt-5.6+: the breakpoints go on content parts; a message's own goes on its last part
    content = wm.content
    parts: list[_WTextPart | _WImagePart] = [_WTextPart(content)] if isinstance(content, str) else list(content or ())
    if not isinstance(m.content, str):
        marks = [p.cache if isinstance(p, TextPart) else None for p in m.content if isinstance(p, TextPart | ImagePart)]
        if len(marks) == len(parts):
            for part, mark in zip(parts, marks, strict=True):
                part.prompt_cache_breakpoint = _breakpoint(mark)
        elif parts and any(marks):  # a system turn's parts are joined into one: its last mark closes it
            parts[-1].prompt_cache_breakpoint = _breakpoint(next(c for c in reversed(marks) if c is not None))
    if parts and m.cache is not None:
        parts[-1].prompt_cache_breakpoint = _breakpoint(m.cache)
    if parts:
        wm.content = parts
    return wm


def _encode_plain(m: Message) -> _WMessage | str:
    role = m.role
    if role is _TOOL:
        if not m.tool_call_id:
            return "a tool message needs tool_call_id"
        return _WMessage("tool", content=m.text, tool_call_id=m.tool_call_id)
    if role is _ASSISTANT:
        text = m.text
        wm = _WMessage("assistant", content=text if text or not m.tool_calls else None)
        if m.tool_calls:
            wm.tool_calls = [
                _WToolCall(tc.id, "function", _WFunctionCall(tc.name, tc.arguments or "{}"))
                for tc in m.tool_calls
            ]
        if m.name:
            wm.name = m.name
        return wm
    if isinstance(m.content, str):
        wm = _WMessage(ROLE_NAMES[role], content=m.content)
    else:
        parts: list[_WTextPart | _WImagePart] = []
        for p in m.content:
            if isinstance(p, TextPart):
                parts.append(_WTextPart(p.text))
            elif isinstance(p, ImagePart):
                if role is not _USER:
                    return f"images are only allowed in user messages, not {role.value}"
                url = p.url if p.url is not None else f"data:{p.media_type};base64,{p.data}"
                parts.append(_WImagePart(_WImageUrl(url, UNSET if p.detail is None else p.detail)))
            # ReasoningPart: Chat Completions has no way to send reasoning back; it is dropped.
        if role is _SYSTEM:
            if any(isinstance(p, _WImagePart) for p in parts):
                return "images are not allowed in system messages"
            wm = _WMessage("system", content="".join(p.text for p in parts if isinstance(p, _WTextPart)))
        else:
            wm = _WMessage(role.value, content=parts)
    if m.name:
        wm.name = m.name
    return wm


def _finish(raw: str | None, refusal: str | None = None) -> tuple[FinishReason, str | None]:
    if refusal:
        return _FINISH_CONTENT_FILTER, raw or "refusal"
    if raw is None:
        return _FINISH_OTHER, None
    return FINISH_REASONS.get(raw, _FINISH_OTHER), raw


def _usage(u: _RUsage | None, reasoning_in_completion: bool = True) -> Usage:
    if u is None:
        return Usage()
    prompt = u.prompt_tokens or 0
    reasoning = (u.completion_tokens_details.reasoning_tokens or 0) if u.completion_tokens_details else 0
    completion = (u.completion_tokens or 0) + (0 if reasoning_in_completion else reasoning)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=u.total_tokens if u.total_tokens is not None else prompt + completion,
        cached_tokens=(u.prompt_tokens_details.cached_tokens or 0) if u.prompt_tokens_details else 0,
        cache_write_tokens=(u.prompt_tokens_details.cache_write_tokens or 0) if u.prompt_tokens_details else 0,
        reasoning_tokens=reasoning,
    )


def _filtered_categories(results: object) -> list[str]:
    """The names of the categories Azure's filter flagged: ``{"violence": {"filtered": true, ...}}``."""
    if not isinstance(results, dict):
        return []
    return sorted(k for k, v in results.items() if isinstance(v, dict) and v.get("filtered") is True)


def _filter_metadata(
    prompt: list[dict[str, Any]] | None, completion: dict[str, Any] | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if prompt:
        meta["prompt_filter_results"] = prompt
    if completion:
        meta["content_filter_results"] = completion
    return meta


def _serving_metadata(meta: dict[str, Any], c: _RCompletion) -> dict[str, Any]:
    """Add the service tier and system fingerprint the completion names (to ``meta``, returned)."""
    if c.service_tier:
        meta["service_tier"] = c.service_tier
    if c.system_fingerprint:
        meta["system_fingerprint"] = c.system_fingerprint
    return meta


def _chunk(c: _RCompletion, reasoning_in_completion: bool = True) -> ChatChunk:
    usage = _usage(c.usage, reasoning_in_completion) if c.usage is not None else None
    if not c.choices:
        head: dict[str, Any] | None = {"prompt_filter_results": c.prompt_filter_results} if c.prompt_filter_results else None
        return settle(ChatChunk(id=c.id, model=c.model, created=c.created, usage=usage, provider_metadata=head))
    ch = c.choices[0]
    d = ch.delta or ch.message or _RMessage()
    deltas: tuple[ToolCallDelta, ...] = ()
    if d.tool_calls:
        deltas = tuple(
            ToolCallDelta(
                index=tc.index,
                id=tc.id,
                name=tc.function.name if tc.function else None,
                arguments=(tc.function.arguments or "") if tc.function else "",
            )
            for tc in d.tool_calls
        )
    finish: FinishReason | None = None
    raw_finish = ch.finish_reason
    meta: dict[str, Any] | None = {"content_filter_results": ch.content_filter_results} if ch.content_filter_results else None
    if raw_finish is not None:
        finish = FINISH_REASONS.get(raw_finish, FinishReason.OTHER)
        if c.service_tier or c.system_fingerprint:
            meta = _serving_metadata(meta or {}, c)
    return settle(ChatChunk(
        text=d.content or "",
        reasoning=d.reasoning_content or d.reasoning or "",
        tool_calls=deltas,
        finish_reason=finish,
        raw_finish_reason=raw_finish,
        usage=usage,
        id=c.id,
        model=c.model,
        created=c.created,
        refusal=d.refusal,
        provider_metadata=meta,
    ))


OPENAI = OpenAIDialect(prompt_cache_routing=True)
