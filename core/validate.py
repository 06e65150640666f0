"""Pre-flight validation of a unified request, per provider — pure, and run before anything is sent.

Everything here is a mistake the provider would answer with a 400 after a network round trip (or,
worse, silently accept and mishandle). Each failure is an ``invalid_request`` error that says what
to fix.

>>> from .schema import ChatRequest, Message
>>> validate_request(ChatRequest(model="m", messages=()), "openai").failure().message
'messages must not be empty: add at least one user message'
>>> bad = ChatRequest(model="m", messages=(Message.user("hi"), Message.tool("call_9", "42")))
>>> print(validate_request(bad, "openai").failure().message)
messages[1]: tool result for 'call_9' answers no earlier tool call (known ids: none)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from returns.result import Failure, Result, Success

from .errors import ErrorKind, LlmError
from .registry import SPECS, ProviderRules
from .schema import ChatRequest, ImagePart, ModelInfo, Role

__all__ = ["PROVIDER_RULES", "ProviderRules", "request_problem", "validate_request"]


class _Rules(Mapping[str, ProviderRules]):
    """Provider name or alias → its row's rules (core/registry.py); a view, so rows registered later count."""

    def __getitem__(self, name: str) -> ProviderRules:
        return SPECS[name].rules

    def __iter__(self) -> Iterator[str]:
        return iter(SPECS)

    def __len__(self) -> int:
        return len(SPECS)


PROVIDER_RULES: Mapping[str, ProviderRules] = _Rules()
_DEFAULT = ProviderRules(tool_results_required=False)
"""The permissive rules of a provider without a row."""


def _fail(provider: str, message: str) -> LlmError:
    return LlmError(kind=ErrorKind.INVALID_REQUEST, message=message, provider=provider)


def _media_type(p: ImagePart) -> str | None:
    if p.media_type:
        return p.media_type.lower()
    if p.url and p.url.startswith("data:"):
        return p.url[5:].split(";", 1)[0].split(",", 1)[0].lower() or None
    return None


def validate_request(
    req: ChatRequest, provider: str, info: ModelInfo | None = None
) -> Result[ChatRequest, LlmError]:
    """``req`` unchanged if ``provider`` can take it, else the first problem as a Failure."""
    problem = request_problem(req, provider, info)
    return Success(req) if problem is None else Failure(problem)


def request_problem(req: ChatRequest, provider: str, info: ModelInfo | None = None) -> LlmError | None:
    """The first reason ``provider`` cannot take ``req``, or ``None`` (:func:`validate_request`
    without the Result, for the client's per-call path)."""
    spec = SPECS._by_name.get(provider)
    rules = spec.rules if spec is not None else _DEFAULT
    if not req.messages:
        return _fail(provider, "messages must not be empty: add at least one user message")
    if not any(m.role is not Role.SYSTEM for m in req.messages):
        return _fail(provider, "only system messages given: add a user message")
    known: list[str] = []
    open_calls: dict[str, int] = {}
    seen_non_system = False
    for i, m in enumerate(req.messages):
        if type(m.role) is not Role:
            return _fail(provider, f"messages[{i}]: unknown role {m.role!r}")
        if m.role is Role.SYSTEM:
            if seen_non_system and not rules.system_anywhere:
                return _fail(provider, f"messages[{i}]: system messages must come first for {provider}")
        else:
            seen_non_system = True
        if m.role is Role.TOOL:
            if not m.tool_call_id:
                return _fail(provider, f"messages[{i}]: a tool result needs tool_call_id")
            if m.tool_call_id not in known:
                ids = ", ".join(known) or "none"
                return _fail(provider, f"messages[{i}]: tool result for {m.tool_call_id!r} answers no earlier tool call (known ids: {ids})")
            open_calls.pop(m.tool_call_id, None)
            continue
        if m.role is Role.USER and open_calls and rules.tool_results_required:
            missing = ", ".join(open_calls)
            return _fail(provider, f"messages[{i}]: tool call(s) {missing} from messages[{min(open_calls.values())}] "
                         f"have no tool result before this user turn; {provider} requires one per call")
        if m.tool_calls and m.role is not Role.ASSISTANT:
            return _fail(provider, f"messages[{i}]: only assistant messages carry tool calls")
        for tc in m.tool_calls:
            if not tc.id or not tc.name:
                return _fail(provider, f"messages[{i}]: every tool call needs an id and a name")
            if tc.id in known:
                return _fail(provider, f"messages[{i}]: duplicate tool call id {tc.id!r}")
            known.append(tc.id)
            open_calls[tc.id] = i
        for p in () if isinstance(m.content, str) else m.content:
            if not isinstance(p, ImagePart):
                continue
            if m.role is not Role.USER:
                return _fail(provider, f"messages[{i}]: images are only allowed in user messages")
            if p.url and not p.url.startswith("data:") and not rules.image_urls:
                return _fail(provider, f"messages[{i}]: {provider} cannot fetch image URLs; "
                             "download the image and pass ImagePart(data=..., media_type=...)")
            mt = _media_type(p)
            if rules.image_media_types is not None and mt is not None and mt not in rules.image_media_types:
                allowed = ", ".join(sorted(rules.image_media_types))
                return _fail(provider, f"messages[{i}]: {provider} does not accept {mt} images (accepted: {allowed})")
    names: set[str] = set()
    for t in req.tools:
        if not t.name or not all(c.isalnum() or c in "_-" for c in t.name) or len(t.name) > 64:
            return _fail(provider, f"tool name {t.name!r} must be 1-64 letters, digits, '_' or '-'")
        if t.name in names:
            return _fail(provider, f"tool {t.name!r} is defined twice")
        names.add(t.name)
        schema = t.parameters
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return _fail(provider, f"tool {t.name!r}: parameters must be a JSON-Schema object "
                         '({"type": "object", "properties": {...}})')
        props = schema.get("properties", {})
        if not isinstance(props, dict):
            return _fail(provider, f"tool {t.name!r}: 'properties' must be an object")
        required = schema.get("required", [])
        if not isinstance(required, list) or any(r not in props for r in required):
            return _fail(provider, f"tool {t.name!r}: 'required' must list names defined in 'properties'")
    choice = req.tool_choice
    if choice is not None and not isinstance(choice, str) and choice.name not in names:
        return _fail(provider, f"tool_choice names {choice.name!r}, which is not among the tools")
    if choice == "required" and not req.tools:
        return _fail(provider, "tool_choice='required' needs at least one tool")
    if req.max_tokens is not None:
        if req.max_tokens < 1:
            return _fail(provider, "max_tokens must be at least 1")
        if info is not None and info.max_output_tokens is not None and req.max_tokens > info.max_output_tokens:
            return _fail(provider, f"max_tokens={req.max_tokens} is above {info.id}'s limit of {info.max_output_tokens} output tokens")
    if req.temperature is not None and rules.temperature is not None:
        lo, hi = rules.temperature
        if not lo <= req.temperature <= hi:
            return _fail(provider, f"temperature={req.temperature} is outside {provider}'s range [{lo:g}, {hi:g}]")
    if req.top_p is not None and not 0.0 <= req.top_p <= 1.0:
        return _fail(provider, f"top_p={req.top_p} is outside [0, 1]")
    if req.response_format is not None and req.response_format.type == "json_schema":
        s = req.response_format.schema
        if not isinstance(s, dict) or not s:
            return _fail(provider, "response_format json_schema needs a schema (a JSON-Schema object)")
    return None
