"""OpenTelemetry GenAI semantic conventions (semantic-conventions **v1.41.0**): names and pure mappings.

Every attribute, metric and value name the telemetry emits is written here, once, as the v1.41.0
documents spell it (``docs/gen-ai/gen-ai-spans.md``, ``gen-ai-metrics.md``, ``openai.md``,
``anthropic.md``). The ``opentelemetry-semantic-conventions`` package ships them only as deprecated
"incubating" constants, so they are hard-coded rather than imported. Nothing here imports
OpenTelemetry: these are plain functions from our request/response values to attribute mappings
(what :mod:`interlingua.effects.telemetry` hands to the API), so they are tested without it.

Which provider a call went to arrives as its registry row's values (``ProviderSpec.otel_name``, the
``gen_ai.provider.name``, and ``otel_system_apart``): nothing here tests provider strings, except
the convention's own rule that ``openai.*`` attributes go with ``gen_ai.provider.name == "openai"``.

>>> req = ChatRequest(model="gpt-4o-mini", messages=(Message.user("hi"),), max_tokens=50, temperature=0.0)
>>> attrs = request_attributes(req, provider_name="openai", stream=False)
>>> attrs[OPERATION_NAME], attrs[PROVIDER_NAME], attrs[REQUEST_MODEL], attrs[REQUEST_MAX_TOKENS]
('chat', 'openai', 'gpt-4o-mini', 50)
>>> span_name("chat", "gpt-4o-mini")
'chat gpt-4o-mini'
>>> input_messages((Message.system("Be brief."), Message.user("hi")), system_apart=True)
'[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'
>>> system_instructions((Message.system("Be brief."), Message.user("hi")))
'[{"type":"text","content":"Be brief."}]'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .errors import LlmError
from .schema import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    ReasoningPart,
    Role,
    TextPart,
    ToolSpec,
    Usage,
)

__all__ = [
    "CHAT",
    "DURATION_BUCKETS",
    "TOKEN_BUCKETS",
    "AttributeValue",
    "content_attributes",
    "error_type",
    "finish_reason",
    "has_usage",
    "input_messages",
    "output_messages",
    "request_attributes",
    "response_attributes",
    "server_attributes",
    "span_name",
    "system_instructions",
    "tool_definitions",
    "usage_attributes",
]

AttributeValue = str | bool | int | float | tuple[str, ...]

SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"

# -- attribute names (gen-ai-spans.md, "Inference") --------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_STREAM = "gen_ai.request.stream"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
# openai.md: only on spans whose gen_ai.provider.name is "openai"
OPENAI_API_TYPE = "openai.api.type"
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

# -- ours (our own namespace, never gen_ai.*) ----------------------------------------------------------
COST_USD = "interlingua.cost.usd"
"""The call's exact cost in USD, a decimal string (a double would round it)."""
ANSWERED_BY = "interlingua.answered_by"
"""``provider:model`` of the model that answered (differs from the request after a failover)."""
ATTEMPTS = "interlingua.attempts"
ERROR_STATUS = "http.response.status_code"

# -- values ----------------------------------------------------------------------------------------
CHAT = "chat"
# gen-ai-metrics.md: "This metric SHOULD be specified with ExplicitBucketBoundaries of [1, 4, 16, …]"
TOKEN_BUCKETS: tuple[int, ...] = tuple(4**i for i in range(14))  # 1, 4, 16 … 67108864
DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

_FINISH: dict[FinishReason, str] = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_call",  # the output-messages schema's spelling
    FinishReason.CONTENT_FILTER: "content_filter",
}

_JSON = msgspec.json.Encoder()


def span_name(operation: str, model: str) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}``."""
    return f"{operation} {model}" if model else operation


def server_attributes(base_url: str) -> dict[str, AttributeValue]:
    """``server.address``/``server.port`` of a base URL (port from the scheme when not written).

    >>> server_attributes("https://api.openai.com/v1")
    {'server.address': 'api.openai.com', 'server.port': 443}
    >>> server_attributes("not a url")
    {}
    """
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return {SERVER_ADDRESS: host, SERVER_PORT: port} if port is not None else {SERVER_ADDRESS: host}


def request_attributes(
    req: ChatRequest, *, provider_name: str, stream: bool, operation: str = CHAT, api_type: str = "chat_completions"
) -> dict[str, AttributeValue]:
    """The attributes known when the call starts (the sampler sees these). ``api_type``: OpenAI's
    API the request speaks, ``chat_completions`` or ``responses`` (``openai.api.type``)."""
    attrs: dict[str, AttributeValue] = {
        OPERATION_NAME: operation,
        PROVIDER_NAME: provider_name,
        REQUEST_MODEL: req.model,
    }
    if req.max_tokens is not None:
        attrs[REQUEST_MAX_TOKENS] = req.max_tokens
    if req.temperature is not None:
        attrs[REQUEST_TEMPERATURE] = float(req.temperature)
    if req.top_p is not None:
        attrs[REQUEST_TOP_P] = float(req.top_p)
    if req.seed is not None:
        attrs[REQUEST_SEED] = req.seed
    if req.stop:
        attrs[REQUEST_STOP_SEQUENCES] = tuple(req.stop)
    if stream:  # "If and only if the request is streaming"
        attrs[REQUEST_STREAM] = True
    if req.response_format is not None:
        attrs[OUTPUT_TYPE] = "text" if req.response_format.type == "text" else "json"
    if provider_name == "openai":  # openai.md: only with gen_ai.provider.name "openai"
        attrs[OPENAI_API_TYPE] = api_type
        tier = req.provider_options.get("service_tier")
        if isinstance(tier, str):
            attrs[OPENAI_REQUEST_SERVICE_TIER] = tier
    return attrs


def usage_attributes(usage: Usage) -> dict[str, AttributeValue]:
    """Token counts. ``Usage.prompt_tokens`` already includes cache reads and writes (each dialect
    sums Anthropic's ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``), which
    is what ``gen_ai.usage.input_tokens`` must be; output tokens include reasoning tokens."""
    attrs: dict[str, AttributeValue] = {
        USAGE_INPUT_TOKENS: usage.prompt_tokens,
        USAGE_OUTPUT_TOKENS: usage.completion_tokens,
    }
    if usage.cached_tokens:
        attrs[USAGE_CACHE_READ_INPUT_TOKENS] = usage.cached_tokens
    if usage.cache_write_tokens:
        attrs[USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        attrs[USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
    return attrs


def has_usage(usage: Usage | None) -> bool:
    """Whether the provider reported usage (token metrics come from reported usage only)."""
    return usage is not None and (usage.prompt_tokens > 0 or usage.completion_tokens > 0 or usage.total_tokens > 0)


def finish_reason(reason: FinishReason, raw: str | None) -> str:
    return _FINISH.get(reason) or raw or reason.value


def response_attributes(resp: ChatResponse, *, provider_name: str) -> dict[str, AttributeValue]:
    """What the answer says: id, model, finish reason, usage, OpenAI's tier and fingerprint."""
    attrs: dict[str, AttributeValue] = {}
    if resp.id:
        attrs[RESPONSE_ID] = resp.id
    if resp.model:
        attrs[RESPONSE_MODEL] = resp.model
    attrs[RESPONSE_FINISH_REASONS] = (finish_reason(resp.finish_reason, resp.raw_finish_reason),)
    if has_usage(resp.usage):
        attrs.update(usage_attributes(resp.usage))
    if provider_name == "openai":
        meta = resp.provider_metadata
        for key, name in (("service_tier", OPENAI_RESPONSE_SERVICE_TIER), ("system_fingerprint", OPENAI_RESPONSE_SYSTEM_FINGERPRINT)):
            value = meta.get(key)
            if isinstance(value, str) and value:
                attrs[name] = value
    return attrs


def error_type(err: LlmError) -> str:
    """``error.type``: our error kind, a short documented list (:class:`~interlingua.core.ErrorKind`)."""
    return err.kind.value


# -- content (opt-in), in the convention's JSON shapes ---------------------------------------------


def _parts(msg: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if msg.role is Role.TOOL:
        # ToolCallResponsePart: {"type": "tool_call_response", "id", "response"}
        text = msg.content if isinstance(msg.content, str) else "".join(p.text for p in msg.content if isinstance(p, TextPart))
        return [{"type": "tool_call_response", "id": msg.tool_call_id, "response": text}]
    if isinstance(msg.content, str):
        if msg.content:
            parts.append({"type": "text", "content": msg.content})
    else:
        for p in msg.content:
            if isinstance(p, TextPart):
                parts.append({"type": "text", "content": p.text})
            elif isinstance(p, ReasoningPart):
                if p.text:
                    parts.append({"type": "reasoning", "content": p.text})
            elif isinstance(p, ImagePart):
                if p.url is not None:
                    parts.append({"type": "uri", "modality": "image", "mime_type": p.media_type, "uri": p.url})
                else:
                    parts.append({"type": "blob", "modality": "image", "mime_type": p.media_type, "content": p.data})
    if msg.refusal:
        parts.append({"type": "text", "content": msg.refusal})
    for call in msg.tool_calls:
        try:
            args: Any = msgspec.json.decode(call.arguments or "{}")
        except msgspec.DecodeError:
            args = call.arguments  # the model's text as it was, when it is not JSON
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": args})
    return parts


def _message(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": msg.role.value, "parts": _parts(msg)}
    if msg.name:
        out["name"] = msg.name
    return out


def input_messages(messages: Sequence[Message], *, system_apart: bool) -> str:
    """``gen_ai.input.messages`` as a JSON string (span attributes cannot hold structures; the
    convention allows the JSON string then). System messages are left out where the provider
    takes them apart (gen-ai-spans.md [18]: they are :func:`system_instructions` then)."""
    return _JSON.encode([_message(m) for m in messages if not (system_apart and m.role is Role.SYSTEM)]).decode()


def system_instructions(messages: Sequence[Message]) -> str | None:
    """``gen_ai.system_instructions``: the system messages' parts as a JSON list (``None``: none)."""
    parts = [p for m in messages if m.role is Role.SYSTEM for p in _parts(m)]
    return _JSON.encode(parts).decode() if parts else None


def output_messages(resp: ChatResponse) -> str:
    """``gen_ai.output.messages``: one message per choice (we return one), with its finish reason."""
    out = _message(resp.message)
    out["finish_reason"] = finish_reason(resp.finish_reason, resp.raw_finish_reason)
    return _JSON.encode([out]).decode()


def tool_definitions(tools: Sequence[ToolSpec]) -> str | None:
    """``gen_ai.tool.definitions``: FunctionToolDefinition objects."""
    if not tools:
        return None
    defs: list[dict[str, Any]] = []
    for t in tools:
        d: dict[str, Any] = {"type": "function", "name": t.name}
        if t.description is not None:
            d["description"] = t.description
        d["parameters"] = t.parameters
        defs.append(d)
    return _JSON.encode(defs).decode()


def content_attributes(req: ChatRequest, *, system_apart: bool) -> Mapping[str, AttributeValue]:
    """The opt-in request content: input messages, system instructions, tool definitions."""
    attrs: dict[str, AttributeValue] = {INPUT_MESSAGES: input_messages(req.messages, system_apart=system_apart)}
    system = system_instructions(req.messages) if system_apart else None
    if system is not None:
        attrs[SYSTEM_INSTRUCTIONS] = system
    tools = tool_definitions(req.tools)
    if tools is not None:
        attrs[TOOL_DEFINITIONS] = tools
    return attrs
