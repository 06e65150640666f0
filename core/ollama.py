"""Ollama's native chat API (``POST /api/chat``), as a pure dialect.

Wire reference: https://github.com/ollama/ollama/blob/main/docs/api.md ("Generate a chat
completion", "List Local Models", "Show Model Information") and ``api/types.go``. This is the
native API, not Ollama's OpenAI-compatible ``/v1`` one.

What maps to what, and the choices made where Ollama differs:

* ``stream`` defaults to *true* on Ollama, so it is always sent explicitly.
* No key by default (a local Ollama has no auth); ``cfg.api_key`` adds ``Authorization: Bearer``
  for ollama.com or an authenticating proxy. Default base ``http://127.0.0.1:11434``. A LAN host
  over plain http is refused unless ``allow_insecure_http=True`` (loopback is always fine).
* Images travel inline as base64 in ``message.images``; ``data:`` URLs are decoded, a remote
  http(s) URL is an ``invalid_request`` (Ollama cannot fetch it; we never drop it silently).
* Tool calls carry ``arguments`` as a JSON *object* both ways: encode parses our JSON text
  (invalid JSON is ``invalid_request``), decode re-serialises the object with msgspec (compact).
  Servers before the ``id`` field existed send calls without ids; those get the stable id
  ``call_<index>_<12 hex of sha256(name NUL arguments)>`` so a stream and its non-stream twin,
  and two decodes of the same body, agree.
* Tool results are ``role: tool`` with ``tool_name`` (looked up from the earlier call with the
  same id, else ``Message.name``) and ``tool_call_id``.
* ``tool_choice``: Ollama cannot force a call. ``"none"`` sends no tools; a named function sends
  only that tool; ``"auto"``/``"required"`` send all tools.
* ``format``: ``"json"`` for ``json_object``, the schema itself for ``json_schema``.
* ``options``: temperature, top_p, ``num_predict`` ← max_tokens, stop, seed; ``provider_options``
  keys that are Ollama model options (``num_ctx``, ``top_k``, ``min_p``, …, or an ``options``
  dict) go into ``options``, every other key (``keep_alive``, ``think``, ``logprobs``, …) to
  the top level.
* ``think``: the reasoning effort when Ollama has that level (``low``/``medium``/``high``;
  ``minimal`` → ``low``), else ``true``.
* ``done_reason``: ``stop``→stop, ``length``→length, ``load``/``unload``→other, a missing one on a
  ``done`` response (older servers) → stop; any tool call → tool_calls (raw value kept).
* Usage: ``prompt_eval_count`` / ``eval_count``. Durations (ns) go to ``provider_metadata``.

>>> from .schema import ChatRequest, Message
>>> r = OLLAMA.encode_request(ChatRequest(model="llama3.2", messages=(Message.user("hi"),)),
...                           ProviderConfig()).unwrap()
>>> r.method, r.url, "authorization" in r.headers
('POST', 'http://127.0.0.1:11434/api/chat', False)
>>> r.body
b'{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}'
>>> body = b'{"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":"Hello"},"done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":2}'
>>> resp = OLLAMA.decode_response(HttpResponse(200, body=body)).unwrap()
>>> resp.text, resp.usage.total_tokens, resp.created
('Hello', 28, 1721680408)
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import hashlib
import re
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import msgspec
from msgspec import UNSET, UnsetType
from returns.result import Failure, Result, Success

from . import ndjson
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
from .http import Headers, HttpRequest, HttpResponse
from .schema import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    ModelInfo,
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
    ROLE_NAMES,
    USER_AGENT,
    TokenCount,
    merge_provider_options,
    preflight,
    refuse_empty,
    strip_model_prefix,
)
from .sse import DEFAULT_MAX_EVENT_BYTES

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_FINISH_OTHER, _FINISH_STOP, _FINISH_TOOL_CALLS, _ASSISTANT, _TOOL = FinishReason.OTHER, FinishReason.STOP, FinishReason.TOOL_CALLS, Role.ASSISTANT, Role.TOOL

__all__ = [
    "DEFAULT_BASE_URL",
    "OLLAMA",
    "OllamaDialect",
    "OllamaModel",
    "OllamaShow",
    "OllamaStreamState",
    "normalize_host",
    "parse_rfc3339",
    "synthetic_call_id",
]

DEFAULT_BASE_URL = "http://127.0.0.1:11434"
DEFAULT_PORT = 11434

# ---------------------------------------------------------------------------------------------
# Request wire types (api/types.go ChatRequest, Message, ToolCall, Tool). UNSET fields are omitted.


class _WFunctionCall(msgspec.Struct):
    name: str
    arguments: dict[str, Any]


class _WToolCall(msgspec.Struct):
    function: _WFunctionCall
    id: str | UnsetType = UNSET


class _WMessage(msgspec.Struct):
    role: str
    content: str
    thinking: str | UnsetType = UNSET
    images: list[str] | UnsetType = UNSET
    tool_calls: list[_WToolCall] | UnsetType = UNSET
    tool_name: str | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET


class _WFunctionDef(msgspec.Struct):
    name: str
    parameters: dict[str, Any]
    description: str | UnsetType = UNSET


class _WTool(msgspec.Struct):
    type: str
    function: _WFunctionDef


class _WOptions(msgspec.Struct, omit_defaults=True):
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    num_predict: int | UnsetType = UNSET
    stop: list[str] | UnsetType = UNSET
    seed: int | UnsetType = UNSET


class _WRequest(msgspec.Struct):
    model: str
    messages: list[_WMessage]
    stream: bool
    tools: list[_WTool] | UnsetType = UNSET
    format: str | dict[str, Any] | UnsetType = UNSET
    options: _WOptions | UnsetType = UNSET
    think: bool | str | UnsetType = UNSET


class _WShowRequest(msgspec.Struct):
    model: str


# ---------------------------------------------------------------------------------------------
# Response wire types: all optional, unknown fields ignored (Ollama adds fields often).


class _RFunction(msgspec.Struct):
    name: str | None = None
    arguments: Any = None
    index: int | None = None


class _RToolCall(msgspec.Struct):
    id: str | None = None
    function: _RFunction | None = None


class _RMessage(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    thinking: str | None = None
    tool_calls: list[_RToolCall] | None = None


class _RChat(msgspec.Struct):
    model: str | None = None
    created_at: str | None = None
    message: _RMessage | None = None
    done: bool | None = None
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: TokenCount | None = None
    prompt_eval_duration: int | None = None
    eval_count: TokenCount | None = None
    eval_duration: int | None = None
    error: Any = None


class _RError(msgspec.Struct):
    error: Any = None


class _RDetails(msgspec.Struct):
    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    context_length: int | None = None


class _RTag(msgspec.Struct):
    name: str | None = None
    model: str | None = None
    modified_at: str | None = None
    size: int | None = None
    digest: str | None = None
    details: _RDetails | None = None
    capabilities: list[str] | None = None


class _RTags(msgspec.Struct):
    models: list[_RTag] | None = None
    error: Any = None


class _RShow(msgspec.Struct):
    details: _RDetails | None = None
    model_info: dict[str, Any] | None = None
    capabilities: list[str] | None = None
    parameters: str | None = None
    template: str | None = None
    license: str | None = None
    modified_at: str | None = None
    error: Any = None


_ENCODER = msgspec.json.Encoder()
_CHAT = msgspec.json.Decoder(_RChat)
_NO_LINE = ndjson.NdjsonState().line
"""The empty line buffer every fresh NDJSON state shares (ndjson tests emptiness by identity)."""
_ERROR = msgspec.json.Decoder(_RError)
_TAGS = msgspec.json.Decoder(_RTags)
_SHOW = msgspec.json.Decoder(_RShow)
_ANY = msgspec.json.Decoder()

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    # An empty ``messages`` list loads or (with keep_alive 0) unloads the model: no generation.
    "load": FinishReason.OTHER,
    "unload": FinishReason.OTHER,
}

# Ollama's Modelfile parameters (docs/modelfile.md, api/types.go Options/Runner): these
# provider_options keys belong inside ``options``; any other key goes to the top level.
OPTION_KEYS = frozenset(
    {
        "num_keep", "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "use_mlock",
        "num_thread", "numa", "low_vram", "vocab_only", "f16_kv", "logits_all", "embedding_only",
        "top_k", "min_p", "typical_p", "tfs_z", "repeat_last_n", "repeat_penalty",
        "presence_penalty", "frequency_penalty", "mirostat", "mirostat_tau", "mirostat_eta",
        "penalize_newline", "temperature", "top_p", "num_predict", "stop", "seed",
    }
)  # fmt: skip

# ReasoningConfig.effort -> Ollama ``think`` level (docs/capabilities/thinking.mdx).
THINK_LEVELS: dict[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}

_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
_NOT_FOUND_MODEL = re.compile(r"""model ["']([^"']+)["'] not found""")


# ---------------------------------------------------------------------------------------------
# Small pure helpers


def normalize_host(value: str) -> str:
    """``OLLAMA_HOST`` as Ollama's own clients read it → a base URL.

    A missing scheme means http, a missing host means 127.0.0.1, and without a scheme a missing
    port means 11434. The bind-all addresses ``0.0.0.0``/``[::]`` (common in ``OLLAMA_HOST`` for
    the server) mean "this machine", so they become loopback.

    >>> normalize_host("")
    'http://127.0.0.1:11434'
    >>> normalize_host("0.0.0.0"), normalize_host("gpu-box:8080"), normalize_host(":5000")
    ('http://127.0.0.1:11434', 'http://gpu-box:8080', 'http://127.0.0.1:5000')
    >>> normalize_host("https://ollama.example.com/"), normalize_host("[::1]")
    ('https://ollama.example.com', 'http://[::1]:11434')
    """
    v = value.strip()
    if not v:
        return DEFAULT_BASE_URL
    has_scheme = "://" in v
    parts = urlsplit(v if has_scheme else "http://" + v)
    scheme = parts.scheme or "http"
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and not has_scheme:
        port = DEFAULT_PORT
    netloc = host if port is None else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_rfc3339(s: str | None) -> int | None:
    """Unix seconds of an RFC 3339 timestamp (Go's ``time.Time`` JSON, nanoseconds allowed).

    >>> parse_rfc3339("2023-08-04T08:52:19.385406455-07:00"), parse_rfc3339("1970-01-01T00:00:01Z")
    (1691164339, 1)
    >>> parse_rfc3339("yesterday") is None
    True
    """
    if not s:
        return None
    try:
        # The fast path (Python 3.11 reads RFC 3339, nanoseconds truncated); the regex below keeps
        # the strict reading (and a leap second) for whatever it refuses.
        t = _dt.datetime.fromisoformat(s)
        if t.tzinfo is not None:
            return int(t.timestamp())
    except ValueError:
        pass
    m = _RFC3339.match(s)
    if m is None:
        return None
    y, mo, d, h, mi, sec = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    offset = 0
    if m.group(8):
        offset = (int(m.group(9)) * 60 + int(m.group(10))) * 60 * (1 if m.group(8) == "+" else -1)
    try:
        t = _dt.datetime(y, mo, d, h, mi, min(sec, 59), tzinfo=_dt.UTC)
    except ValueError:
        return None
    return int(t.timestamp()) - offset


def synthetic_call_id(index: int, name: str, arguments: str) -> str:
    """The id of a tool call the server sent without one: stable for the same call at the same place.

    >>> synthetic_call_id(0, "get_weather", '{"city":"Paris"}')
    'call_0_...'
    """
    digest = hashlib.sha256(f"{name}\x00{arguments}".encode()).hexdigest()[:12]
    return f"call_{index}_{digest}"


def _arguments_text(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):
        return value  # some proxies forward OpenAI-style JSON text unchanged
    return _ENCODER.encode(value).decode()


def _error_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        message = value.get("message")
        if isinstance(message, str):
            return message
    return _ENCODER.encode(value).decode()


def _image_base64(p: ImagePart) -> str:
    """The base64 payload Ollama wants, or raise ``ValueError`` with the reason (caught by the encoder)."""
    if p.data is not None:
        return p.data
    url = p.url or ""
    if url[:5].lower() == "data:":
        header, sep, payload = url[5:].partition(",")
        if not sep:
            raise ValueError("a data: URL image has no ',' before its payload")
        if header.lower().endswith(";base64"):
            return "".join(payload.split())
        return base64.b64encode(unquote_to_bytes(payload)).decode()
    if url[:7].lower() == "http://" or url[:8].lower() == "https://":
        raise ValueError(
            f"Ollama takes images inline (base64) and cannot fetch {url!r}: download it and pass "
            "ImagePart(data=..., media_type=...) or a data: URL"
        )
    raise ValueError(f"unsupported image URL {url[:40]!r}: use base64 data or a data: URL")


# (id(dialect), id(cfg), model string, streamed) -> (dialect, cfg, (model id, chat URL, headers)): the
# config and base-URL checks passed and their result, pure and the same on every request (issue 19).
# The entry holds the dialect and the config, so their ids stay theirs while cached (``is`` confirms a
# hit). Headers are immutable and shared. Bounded: cleared when full.
_ADDRESSED: dict[tuple[int, int, str, bool], tuple[Any, ProviderConfig, tuple[str, str, Headers]]] = {}
_NO_OPTIONS = _WOptions()  # compared against, never changed


def _headers(cfg: ProviderConfig, accept: str) -> Headers:
    headers: list[tuple[str, str]] = [
        ("Content-Type", "application/json"),
        ("Accept", accept),
        ("User-Agent", USER_AGENT),
    ]
    if cfg.api_key:
        headers.append(("Authorization", "Bearer " + cfg.api_key.reveal()))
    headers.extend(cfg.headers)
    return Headers(headers)


# ---------------------------------------------------------------------------------------------
# Model listing / capabilities


class OllamaModel(msgspec.Struct, frozen=True, kw_only=True):
    """One installed model from ``GET /api/tags``."""

    name: str
    model: str = ""
    size: int = 0
    digest: str = ""
    modified_at: str = ""
    family: str | None = None
    families: tuple[str, ...] = ()
    parameter_size: str | None = None
    quantization_level: str | None = None
    format: str | None = None
    capabilities: tuple[str, ...] = ()


class OllamaShow(msgspec.Struct, frozen=True, kw_only=True):
    """What ``POST /api/show`` says about a model's abilities."""

    capabilities: tuple[str, ...] = ()
    context_length: int | None = None
    architecture: str | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.capabilities

    @property
    def supports_vision(self) -> bool:
        return "vision" in self.capabilities

    @property
    def supports_thinking(self) -> bool:
        return "thinking" in self.capabilities

    def to_model_info(self, model: str) -> ModelInfo:
        """A catalog entry for ``model``; structured output (``format``) works for every chat model.

        >>> OllamaShow(capabilities=("completion", "tools"), context_length=8192).to_model_info("llama3.2").supports_tools
        True
        """
        return ModelInfo(
            id=model,
            provider="ollama",
            context_window=self.context_length,
            supports_tools=self.supports_tools,
            supports_vision=self.supports_vision,
            supports_reasoning=self.supports_thinking,
            supports_structured_output="completion" in self.capabilities,
        )


def _context_length(info: dict[str, Any] | None, details: _RDetails | None) -> tuple[int | None, str | None]:
    arch = None
    if info:
        a = info.get("general.architecture")
        arch = a if isinstance(a, str) else None
        candidates = [f"{arch}.context_length"] if arch else []
        candidates += sorted(k for k in info if k.endswith(".context_length"))
        for k in candidates:
            v = info.get(k)
            if isinstance(v, int) and not isinstance(v, bool):
                return v, arch
    if details is not None and details.context_length:
        return details.context_length, arch
    return None, arch


# ---------------------------------------------------------------------------------------------
# The dialect


@dataclasses.dataclass(frozen=True, slots=True)
class OllamaDialect:
    """Ollama's native API: ``/api/chat``, ``/api/tags``, ``/api/show``."""

    name: str = "ollama"
    default_base_url: str = DEFAULT_BASE_URL
    chat_path: str = "/api/chat"
    tags_path: str = "/api/tags"
    show_path: str = "/api/show"
    model_names: tuple[str, ...] = ("ollama",)

    def _base(self, cfg: ProviderConfig) -> Result[str, LlmError]:
        return preflight(self.name, cfg, cfg.base_url or self.default_base_url)

    # -- encode ---------------------------------------------------------------------------------

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]:
        if (empty := refuse_empty(self.name, req)) is not None:
            return empty
        key = (id(self), id(cfg), req.model, stream)
        hit = _ADDRESSED.get(key)
        if hit is not None and hit[0] is self and hit[1] is cfg:
            model, url, headers = hit[2]
        else:
            base = self._base(cfg)
            if type(base) is Failure:
                return base
            model = strip_model_prefix(req.model, *self.model_names)
            url = join_url(base.unwrap(), self.chat_path)
            headers = _headers(cfg, "application/x-ndjson" if stream else "application/json")
            remember(_ADDRESSED, key, (self, cfg, (model, url, headers)))
        messages: list[_WMessage] = []
        call_names: dict[str, str] = {}
        for m in req.messages:
            try:
                messages.append(_encode_message(m, call_names))
            except ValueError as e:
                return invalid_request(self.name, str(e))
        body = _WRequest(model=model, messages=messages, stream=stream)
        tools = req.tools
        match req.tool_choice:
            case "none":
                tools = ()
            case ToolChoiceFunction(name=forced):
                tools = tuple(t for t in req.tools if t.name == forced)
                if not tools:
                    return invalid_request(self.name, f"tool_choice names {forced!r}, which is not in tools")
        if tools:
            body.tools = [
                _WTool(
                    "function",
                    _WFunctionDef(t.name, t.parameters, UNSET if t.description is None else t.description),
                )
                for t in tools
            ]
        if req.response_format is not None:
            rf = req.response_format
            if rf.type == "json_schema":
                body.format = rf.schema if rf.schema is not None else "json"
            elif rf.type == "json_object":
                body.format = "json"
        opts = _WOptions()
        if req.temperature is not None:
            opts.temperature = req.temperature
        if req.top_p is not None:
            opts.top_p = req.top_p
        if req.max_tokens is not None:
            opts.num_predict = req.max_tokens
        if req.stop:
            opts.stop = list(req.stop)
        if req.seed is not None:
            opts.seed = req.seed
        if opts != _NO_OPTIONS:
            body.options = opts
        if req.reasoning is not None:
            effort = req.reasoning.effort
            body.think = THINK_LEVELS.get(effort, True) if effort is not None else True
        raw = _ENCODER.encode(body)
        if req.provider_options:  # merge_provider_options leaves the body as it is without any (issue 19)
            merged = merge_provider_options(self.name, raw, req.provider_options, nest=("options", OPTION_KEYS))
            if type(merged) is Failure:
                return merged
            raw = merged.unwrap()
        return ok(HttpRequest("POST", url, headers, raw))

    def encode_list_models(self, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
        """``GET /api/tags``: the models installed on the server."""
        return self._base(cfg).map(
            lambda b: HttpRequest("GET", join_url(b, self.tags_path), _headers(cfg, "application/json"))
        )

    def encode_show(self, model: str, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
        """``POST /api/show`` for ``model``: capabilities, context length, details."""
        if not model:
            return invalid_request(self.name, "model must not be empty")
        body = _ENCODER.encode(_WShowRequest(strip_model_prefix(model, *self.model_names)))
        return self._base(cfg).map(
            lambda b: HttpRequest("POST", join_url(b, self.show_path), _headers(cfg, "application/json"), body)
        )

    # -- decode ---------------------------------------------------------------------------------

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]:
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            c = _CHAT.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if c.error is not None and c.message is None:
            return Failure(self._error(resp, _error_text(c.error), ErrorKind.PROVIDER))
        msg = c.message or _RMessage()
        calls: tuple[ToolCall, ...] = ()
        if not (msg.thinking or msg.tool_calls):
            # The usual answer, text only: the normal form assistant_message would build.
            message = assistant_text(msg.content or "")
        else:
            parts: list[TextPart | ReasoningPart] = []
            if msg.thinking:
                parts.append(ReasoningPart(text=msg.thinking))
            if msg.content:
                parts.append(TextPart(msg.content))
            calls = _tool_calls(msg.tool_calls, 0)
            message = assistant_message(parts, calls)
        finish, raw_finish = _finish(c, bool(calls))
        return ok(
            ChatResponse(
                id="",
                model=c.model or "",
                created=parse_rfc3339(c.created_at) or 0,
                message=message,
                finish_reason=finish,
                raw_finish_reason=raw_finish,
                usage=_usage(c),
                provider=self.name,
                provider_metadata=_durations(c),
            )
        )

    def decode_error(self, resp: HttpResponse) -> LlmError:
        message: str | None = None
        try:
            body = _ERROR.decode(resp.body) if resp.body else _RError()
            if body.error is not None:
                message = _error_text(body.error)
        except DECODE_ERRORS:
            pass
        return self._error(resp, message, None)

    def _error(self, resp: HttpResponse, message: str | None, kind: ErrorKind | None) -> LlmError:
        if resp.status == 404 and message:
            # "model \"x\" not found, try pulling it first" — say how.
            m = _NOT_FOUND_MODEL.search(message)
            message = f"{message} (run `ollama pull {m.group(1) if m else '<model>'}` on the server)"
        return error_from_response(self.name, resp, message=message, kind=kind)

    def decode_list_models(self, resp: HttpResponse) -> Result[tuple[OllamaModel, ...], LlmError]:
        """The installed models from a ``GET /api/tags`` reply (any status)."""
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            t = _TAGS.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if t.models is None:
            if t.error is not None:
                return Failure(self._error(resp, _error_text(t.error), ErrorKind.PROVIDER))
            return Failure(malformed(self.name, "no 'models' in the /api/tags reply", resp.body, status=resp.status))
        out = []
        for m in t.models:
            d = m.details or _RDetails()
            out.append(
                OllamaModel(
                    name=m.name or m.model or "",
                    model=m.model or m.name or "",
                    size=m.size or 0,
                    digest=m.digest or "",
                    modified_at=m.modified_at or "",
                    family=d.family or None,
                    families=tuple(d.families or ()),
                    parameter_size=d.parameter_size or None,
                    quantization_level=d.quantization_level or None,
                    format=d.format or None,
                    capabilities=tuple(m.capabilities or ()),
                )
            )
        return Success(tuple(out))

    def decode_show(self, resp: HttpResponse) -> Result[OllamaShow, LlmError]:
        """A model's abilities from a ``POST /api/show`` reply (any status)."""
        if not 200 <= resp.status < 300:
            return Failure(self.decode_error(resp))
        try:
            s = _SHOW.decode(resp.body)
        except DECODE_ERRORS as e:
            return Failure(malformed(self.name, str(e), resp.body, status=resp.status))
        if s.error is not None and s.model_info is None and s.capabilities is None:
            return Failure(self._error(resp, _error_text(s.error), ErrorKind.PROVIDER))
        d = s.details or _RDetails()
        ctx, arch = _context_length(s.model_info, s.details)
        return Success(
            OllamaShow(
                capabilities=tuple(s.capabilities or ()),
                context_length=ctx,
                architecture=arch,
                family=d.family or None,
                parameter_size=d.parameter_size or None,
                quantization_level=d.quantization_level or None,
            )
        )

    # -- stream ---------------------------------------------------------------------------------

    def stream_start(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> OllamaStreamState:
        """``max_event_bytes``: the longest NDJSON line held."""
        if max_event_bytes == DEFAULT_MAX_EVENT_BYTES:
            return OllamaStreamState()
        return OllamaStreamState(lines=ndjson.NdjsonState(max_line_bytes=max_event_bytes))

    def stream_feed(
        self, state: OllamaStreamState, data: bytes
    ) -> tuple[OllamaStreamState, tuple[StreamEvent, ...]]:
        if state.failed or state.done:
            return state, ()  # nothing after the done line or an error line changes the result
        held = state.lines
        if state.started and held.line is _NO_LINE and (n := len(data)) <= held.max_line_bytes:
            # The usual read (issue 19): one whole mid-stream line and nothing held. It gives exactly
            # what ndjson.feed + _on_lines give (tests/test_stream_hot_path.py); anything else — a
            # blank, malformed, error, tool-call or done line, several lines — takes that path.
            match data.split(b"\n"):
                case [line, b""]:
                    try:
                        c = _CHAT.decode(line)  # JSON allows the CR of a CRLF: msgspec skips it
                    except DECODE_ERRORS:
                        c = None
                    if c is not None and not c.done and c.error is None and (msg := c.message) is not None and not msg.tool_calls:
                        chunk = ChatChunk(text=msg.content or "", reasoning=msg.thinking or "", model=c.model)
                        after = ndjson.NdjsonState(_NO_LINE, held.bytes_seen + n, held.max_line_bytes)
                        return OllamaStreamState(after, state.calls, state.saw_calls, False, False, True), (chunk,)
        buf, lines = ndjson.feed(state.lines, data)
        st = msgspec.structs.replace(state, lines=buf)
        if buf.too_long:
            return msgspec.structs.replace(st, failed=True), (too_long_error(self.name, buf.max_line_bytes),)
        if not lines:
            return st, ()
        return self._on_lines(st, lines, final=False)

    def _on_lines(
        self, st: OllamaStreamState, lines: tuple[bytes, ...], *, final: bool
    ) -> tuple[OllamaStreamState, tuple[StreamEvent, ...]]:
        out: list[StreamEvent] = []
        calls, saw_calls, started = st.calls, st.saw_calls, st.started
        for i, line in enumerate(lines):
            try:
                c = _CHAT.decode(line)
            except DECODE_ERRORS as e:
                cut = final and i == len(lines) - 1
                what = "stream cut mid-line" if cut else f"malformed stream line: {e}"
                out.append(stream_error(self.name, what, line))
                return msgspec.structs.replace(st, failed=True), tuple(out)
            if c.error is not None:
                out.append(stream_error(self.name, f"error line mid-stream: {_error_text(c.error)}", line))
                return msgspec.structs.replace(st, failed=True), tuple(out)
            msg = c.message or _RMessage()
            deltas: tuple[ToolCallDelta, ...] = ()
            if msg.tool_calls:
                new_calls = _tool_calls(msg.tool_calls, calls)
                deltas = tuple(
                    ToolCallDelta(index=calls + j, id=tc.id, name=tc.name, arguments=tc.arguments)
                    for j, tc in enumerate(new_calls)
                )
                calls += len(new_calls)
                saw_calls = True
            chunk = ChatChunk(
                text=msg.content or "",
                reasoning=msg.thinking or "",
                tool_calls=deltas,
                model=c.model,
                # the fold keeps the first chunk's timestamp: parse it once, not on every line
                created=None if started else parse_rfc3339(c.created_at),
            )
            started = True
            if c.done:
                finish, raw = _finish(c, saw_calls)
                chunk = msgspec.structs.replace(
                    chunk,
                    finish_reason=finish,
                    raw_finish_reason=raw,
                    usage=_usage(c),
                    provider_metadata=_durations(c) or None,
                )
                out.append(chunk)
                return OllamaStreamState(st.lines, calls, saw_calls, True, False, started), tuple(out)
            out.append(chunk)
        return OllamaStreamState(st.lines, calls, saw_calls, False, False, started), tuple(out)

    def stream_finish(self, state: OllamaStreamState) -> Result[tuple[ChatChunk, ...], LlmError]:
        if state.failed:
            return Failure(stream_error(self.name, "stream already failed", b""))
        st = state
        events: tuple[StreamEvent, ...] = ()
        if not state.done:
            tail = ndjson.finish(state.lines)
            if tail:
                st, events = self._on_lines(state, tail, final=True)
        return close_stream(self.name, events, complete=st.done, missing='no final "done": true line')


class OllamaStreamState(msgspec.Struct, frozen=True):
    lines: ndjson.NdjsonState = ndjson.NdjsonState()
    calls: int = 0
    """Tool calls seen so far: the index (and synthetic-id position) of the next one."""
    saw_calls: bool = False
    done: bool = False
    failed: bool = False
    started: bool = False
    """A chunk (carrying the response's timestamp) has been produced."""



def _encode_message(m: Message, call_names: dict[str, str]) -> _WMessage:
    """One unified message on the wire; raises ``ValueError`` with the reason it cannot be sent."""
    text = m.text
    if m.role is _TOOL:
        wm = _WMessage("tool", text)
        name = call_names.get(m.tool_call_id or "") or m.name
        if name:
            wm.tool_name = name
        if m.tool_call_id:
            wm.tool_call_id = m.tool_call_id
        return wm
    wm = _WMessage(ROLE_NAMES[m.role], text)
    images = [_image_base64(p) for p in m.parts if isinstance(p, ImagePart)]
    if images:
        wm.images = images
    if m.role is _ASSISTANT:
        thinking = m.reasoning
        if thinking:
            wm.thinking = thinking
        if m.tool_calls:
            calls = []
            for tc in m.tool_calls:
                try:
                    args = msgspec.json.decode(tc.arguments or "{}")
                except DECODE_ERRORS as e:
                    raise ValueError(f"tool call {tc.id!r} ({tc.name}) has invalid JSON arguments: {e}") from None
                if not isinstance(args, dict):
                    raise ValueError(f"tool call {tc.id!r} ({tc.name}): Ollama needs the arguments to be a JSON object")
                calls.append(_WToolCall(_WFunctionCall(tc.name, args), tc.id or UNSET))
                if tc.id:
                    call_names[tc.id] = tc.name
            wm.tool_calls = calls
    return wm


def _tool_calls(raw: list[_RToolCall] | None, start: int) -> tuple[ToolCall, ...]:
    out = []
    for i, tc in enumerate(raw or (), start):
        fn = tc.function or _RFunction()
        name = fn.name or ""
        args = _arguments_text(fn.arguments)
        out.append(ToolCall(id=tc.id or synthetic_call_id(i, name, args), name=name, arguments=args))
    return tuple(out)


def _finish(c: _RChat, has_calls: bool) -> tuple[FinishReason, str | None]:
    raw = c.done_reason or None
    if has_calls:
        return _FINISH_TOOL_CALLS, raw
    if raw is None:
        # Servers before done_reason existed end a normal reply with just "done": true.
        return (_FINISH_STOP if c.done else _FINISH_OTHER), None
    return FINISH_REASONS.get(raw, _FINISH_OTHER), raw


def _usage(c: _RChat) -> Usage:
    # prompt_eval_count counts the prompt tokens Ollama evaluated; a cached prefix is not counted.
    prompt = c.prompt_eval_count or 0
    completion = c.eval_count or 0
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _durations(c: _RChat) -> dict[str, Any]:
    return {k: v for k in _DURATIONS if (v := getattr(c, k)) is not None}


OLLAMA = OllamaDialect()
