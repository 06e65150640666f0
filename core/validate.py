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

from collections.abc import Callable, Iterator, Mapping

from returns.result import Failure, Result, Success

from .errors import ErrorKind, LlmError
from .registry import SPECS, ProviderRules
from .schema import ChatRequest, ImagePart, Message, ModelInfo, Role, ToolSpec
from .shared import conversation_problem, refused_option

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_SYSTEM, _TOOL = Role.SYSTEM, Role.TOOL

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
    without the Result, for the client's per-call path). Each rule below is one small function."""
    spec = SPECS._by_name.get(provider)
    rules = spec.rules if spec is not None else _DEFAULT
    if _plain_conversation(req, rules):
        # the three conversation rules hold; each other rule runs only when a field it reads is set
        # (an unset field is never a problem), in ``_FIELD_RULES`` order (issue 19: ~15 calls per
        # request before; no tuple or loop now)
        problem = None
        if req.tools or req.tool_choice is not None:
            problem = _tools(req, provider, rules, info)
        if problem is None and req.max_tokens is not None:
            problem = _max_tokens(req, provider, rules, info)
        if problem is None and (req.temperature is not None or req.top_p is not None):
            problem = _sampling(req, provider, rules, info)
        if problem is None and req.response_format is not None:
            problem = _response_format(req, provider, rules, info)
        if problem is None and req.provider_options:
            problem = _provider_options(req, provider, rules, info)
        return None if problem is None else _fail(provider, problem)
    for rule in _RULES:
        problem = rule(req, provider, rules, info)
        if problem is not None:
            return _fail(provider, problem)
    return None


def _plain_conversation(req: ChatRequest, rules: ProviderRules) -> bool:
    """Whether ``req`` is a conversation of text messages (no tool calls or results, no parts) that
    :func:`_has_messages`, :func:`_has_content` and :func:`_messages` all pass; ``False`` also when
    it is not that kind (the full rules then decide, and name the problem)."""
    seen_other = has_content = False
    for m in req.messages:
        role = m.role
        if type(role) is not Role or role is _TOOL or type(m.content) is not str or m.tool_calls:
            return False
        if role is _SYSTEM:
            if seen_other and not rules.system_anywhere:
                return False
        else:
            seen_other = True
        if not has_content and m.content.strip():
            has_content = True
    return seen_other and has_content


Rule = Callable[[ChatRequest, str, ProviderRules, "ModelInfo | None"], "str | None"]


def _has_messages(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    if not req.messages:
        return "messages must not be empty: add at least one user message"
    if not any(m.role is not Role.SYSTEM for m in req.messages):
        return "only system messages given: add a user message"
    return None


def _has_content(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    # Every provider refuses (or, like OpenAI, takes and bills) a conversation with nothing in it.
    return conversation_problem(req)


class _Calls:
    """Tool-call ids seen so far, and the ones still waiting for their result (id → message index)."""

    def __init__(self, stored: bool) -> None:
        self.known: list[str] = []
        self.open: dict[str, int] = {}
        self.stored = stored
        """A stored conversation (previous_response_id) holds calls that results may answer."""


def _message_problem(i: int, m: Message, provider: str, rules: ProviderRules, calls: _Calls, seen_other: bool) -> str | None:
    if type(m.role) is not Role:
        return f"messages[{i}]: unknown role {m.role!r}"
    if m.role is Role.SYSTEM and seen_other and not rules.system_anywhere:
        return f"messages[{i}]: system messages must come first for {provider}"
    if m.role is Role.TOOL:
        return _tool_result_problem(i, m, calls)
    if m.role is Role.USER and calls.open and rules.tool_results_required:
        missing = ", ".join(calls.open)
        return (f"messages[{i}]: tool call(s) {missing} from messages[{min(calls.open.values())}] "
                f"have no tool result before this user turn; {provider} requires one per call")
    return _tool_calls_problem(i, m, calls) or _images_problem(i, m, provider, rules)


def _tool_result_problem(i: int, m: Message, calls: _Calls) -> str | None:
    if not m.tool_call_id:
        return f"messages[{i}]: a tool result needs tool_call_id"
    if m.tool_call_id not in calls.known and not calls.stored:
        ids = ", ".join(calls.known) or "none"
        return f"messages[{i}]: tool result for {m.tool_call_id!r} answers no earlier tool call (known ids: {ids})"
    calls.open.pop(m.tool_call_id, None)
    return None


def _tool_calls_problem(i: int, m: Message, calls: _Calls) -> str | None:
    if m.tool_calls and m.role is not Role.ASSISTANT:
        return f"messages[{i}]: only assistant messages carry tool calls"
    for tc in m.tool_calls:
        if not tc.id or not tc.name:
            return f"messages[{i}]: every tool call needs an id and a name"
        if tc.id in calls.known:
            return f"messages[{i}]: duplicate tool call id {tc.id!r}"
        calls.known.append(tc.id)
        calls.open[tc.id] = i
    return None


def _images_problem(i: int, m: Message, provider: str, rules: ProviderRules) -> str | None:
    for p in () if isinstance(m.content, str) else m.content:
        if not isinstance(p, ImagePart):
            continue
        if m.role is not Role.USER:
            return f"messages[{i}]: images are only allowed in user messages"
        if p.url and not p.url.startswith("data:") and not rules.image_urls:
            return (f"messages[{i}]: {provider} cannot fetch image URLs; "
                    "download the image and pass ImagePart(data=..., media_type=...)")
        mt = _media_type(p)
        if rules.image_media_types is not None and mt is not None and mt not in rules.image_media_types:
            allowed = ", ".join(sorted(rules.image_media_types))
            return f"messages[{i}]: {provider} does not accept {mt} images (accepted: {allowed})"
    return None


def _messages(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    # hook: responses — a stored conversation (previous_response_id) holds the calls results may answer
    stored = rules.stored_history_option is not None and rules.stored_history_option in req.provider_options
    calls, seen_other = _Calls(stored), False
    for i, m in enumerate(req.messages):
        problem = _message_problem(i, m, provider, rules, calls, seen_other)
        if problem is not None:
            return problem
        seen_other = seen_other or m.role is not Role.SYSTEM
    return None


def _tool_problem(t: ToolSpec, names: set[str]) -> str | None:
    if not t.name or not all(c.isalnum() or c in "_-" for c in t.name) or len(t.name) > 64:
        return f"tool name {t.name!r} must be 1-64 letters, digits, '_' or '-'"
    if t.name in names:
        return f"tool {t.name!r} is defined twice"
    schema = t.parameters
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return (f"tool {t.name!r}: parameters must be a JSON-Schema object "
                '({"type": "object", "properties": {...}})')
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        return f"tool {t.name!r}: 'properties' must be an object"
    required = schema.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        return f"tool {t.name!r}: 'required' must list names defined in 'properties'"
    return None


def _tools(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    names: set[str] = set()
    for t in req.tools:
        problem = _tool_problem(t, names)
        if problem is not None:
            return problem
        names.add(t.name)
    choice = req.tool_choice
    if choice is not None and not isinstance(choice, str) and choice.name not in names:
        return f"tool_choice names {choice.name!r}, which is not among the tools"
    if choice == "required" and not req.tools:
        return "tool_choice='required' needs at least one tool"
    return None


def _max_tokens(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    if req.max_tokens is None:
        return None
    if req.max_tokens < 1:
        return "max_tokens must be at least 1"
    if info is not None and info.max_output_tokens is not None and req.max_tokens > info.max_output_tokens:
        return f"max_tokens={req.max_tokens} is above {info.id}'s limit of {info.max_output_tokens} output tokens"
    return None


def _sampling(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    if req.temperature is not None and rules.temperature is not None:
        lo, hi = rules.temperature
        if not lo <= req.temperature <= hi:
            return f"temperature={req.temperature} is outside {provider}'s range [{lo:g}, {hi:g}]"
    if req.top_p is not None and not 0.0 <= req.top_p <= 1.0:
        return f"top_p={req.top_p} is outside [0, 1]"
    return None


def _response_format(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    if req.response_format is not None and req.response_format.type == "json_schema":
        s = req.response_format.schema
        if not isinstance(s, dict) or not s:
            return "response_format json_schema needs a schema (a JSON-Schema object)"
    return None


def _provider_options(req: ChatRequest, provider: str, rules: ProviderRules, info: ModelInfo | None) -> str | None:
    # The same refusal the dialects' merge makes, before the spending guard prices the call.
    refused = refused_option(req.provider_options) if req.provider_options else None
    return None if refused is None else f"provider_options[{refused[0]!r}] would change {refused[1]}"


_RULES: tuple[Rule, ...] = (
    _has_messages, _has_content, _messages, _tools, _max_tokens, _sampling, _response_format, _provider_options,
)
# The rules after the conversation's, in ``_RULES`` order; each finds nothing while the fields it
# reads are unset (``request_problem`` calls them in this order, only when those fields are set).
_FIELD_RULES: tuple[Rule, ...] = _RULES[3:]
