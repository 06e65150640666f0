"""Pre-flight validation: invalid conversations are rejected before any request is sent."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlingua.core import (
    ChatRequest,
    ErrorKind,
    ImagePart,
    LlmError,
    Message,
    ModelInfo,
    ResponseFormat,
    Role,
    TextPart,
    ToolCall,
    ToolChoiceFunction,
    ToolSpec,
)
from interlingua.core import validate as V
from interlingua.core.registry import SPECS
from interlingua.core.validate import request_problem, validate_request
from interlingua.effects import Client
from interlingua.fakes import FakeServer

from .strategies import chat_request

OBJ = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
U = Message.user("hi")
CALL = Message.assistant("", [ToolCall("c1", "f", "{}")])


def req(*messages: Message, **kw: object) -> ChatRequest:
    return ChatRequest(model="m", messages=messages, **kw)  # type: ignore[arg-type]


INVALID: list[tuple[str, ChatRequest, str]] = [
    ("openai", req(), "must not be empty"),
    ("openai", req(Message.system("s")), "only system"),
    ("openai", req(U, Message.tool("nope", "x")), "answers no earlier tool call"),
    ("openai", req(U, CALL, Message.user("next")), "have no tool result"),
    ("anthropic", req(U, CALL, Message.user("next")), "have no tool result"),
    ("openai", req(U, Message.assistant("", [ToolCall("c1", "f"), ToolCall("c1", "g")])), "duplicate tool call id"),
    ("openai", req(Message.user([ImagePart(data="AAAA", media_type="image/tiff")])), "image/tiff"),
    ("gemini", req(Message.user([ImagePart(url="https://x/y.png")])), "cannot fetch image URLs"),
    ("ollama", req(Message.user([ImagePart(url="https://x/y.png")])), "cannot fetch image URLs"),
    ("bedrock", req(Message.user([ImagePart(url="https://x/y.png")])), "cannot fetch image URLs"),
    ("openai", req(Message.assistant([TextPart("x"), ImagePart(url="https://x")])), "only allowed in user"),
    ("openai", req(U, tools=(ToolSpec(name="f", parameters={"type": "string"}),)), "JSON-Schema object"),
    ("openai", req(U, tools=(ToolSpec(name="f", parameters={"type": "object", "properties": {}, "required": ["x"]}),)), "'required'"),
    ("openai", req(U, tools=(ToolSpec(name="bad name!", parameters=OBJ),)), "letters, digits"),
    ("openai", req(U, tools=(ToolSpec(name="f", parameters=OBJ), ToolSpec(name="f", parameters=OBJ))), "defined twice"),
    ("openai", req(U, tools=(ToolSpec(name="f", parameters=OBJ),), tool_choice=ToolChoiceFunction("g")), "not among the tools"),
    ("openai", req(U, tool_choice="required"), "needs at least one tool"),
    ("openai", req(U, max_tokens=0), "at least 1"),
    ("anthropic", req(U, temperature=1.5), "outside anthropic's range"),
    ("openai", req(U, top_p=1.5), "top_p"),
    ("openai", req(U, response_format=ResponseFormat(type="json_schema")), "needs a schema"),
]


@pytest.mark.parametrize(("provider", "request_", "fragment"), INVALID)
def test_invalid_requests_say_what_to_fix(provider: str, request_: ChatRequest, fragment: str) -> None:
    """Each invalid request is an invalid_request Failure whose message names the problem."""
    err = validate_request(request_, provider).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and fragment in err.message and err.provider == provider


def test_max_tokens_above_model_limit() -> None:
    """max_tokens above the catalog's output limit is refused with the limit named."""
    info = ModelInfo(id="small", provider="openai", max_output_tokens=100)
    assert "limit of 100" in validate_request(req(U, max_tokens=101), "openai", info).failure().message
    assert validate_request(req(U, max_tokens=100), "openai", info).unwrap().max_tokens == 100


def test_lenient_providers_allow_unanswered_calls() -> None:
    """Ollama does not require a result for every call; OpenAI does."""
    r = req(U, CALL, Message.user("next"))
    assert validate_request(r, "ollama").unwrap() is r


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_request())
def test_generated_valid_requests_pass(r: ChatRequest) -> None:
    """Well-formed generated conversations are accepted unchanged (no false alarms)."""
    assert validate_request(r, "openai").unwrap() is r


@st.composite
def broken(draw: st.DrawFn) -> ChatRequest:
    """A well-formed request with one defect injected."""
    base = draw(chat_request())
    defect = draw(st.sampled_from(["orphan", "unanswered", "empty", "schema", "temp"]))
    msgs = list(base.messages)
    if defect == "orphan":
        msgs.insert(draw(st.integers(0, len(msgs))), Message.tool("ghost", "x"))
    elif defect == "unanswered":
        msgs += [Message.assistant("", [ToolCall("dangling", "f")]), Message.user("and?")]
    elif defect == "empty":
        msgs = []
    elif defect == "schema":
        return ChatRequest(model=base.model, messages=base.messages, tools=(ToolSpec(name="t", parameters={"type": "array"}),))
    else:
        return ChatRequest(model=base.model, messages=base.messages, temperature=draw(st.floats(2.01, 100)))
    return ChatRequest(model=base.model, messages=tuple(msgs))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(broken())
async def test_invalid_conversations_never_reach_the_fake(client: Client, fake: FakeServer, r: ChatRequest) -> None:
    """Generated invalid conversations are all refused with no request reaching the fake."""
    result = await client.chat("gpt-4o-mini", r)
    assert result.failure().kind is ErrorKind.INVALID_REQUEST
    assert fake.attempts("openai") == 0


def _every_rule(r: ChatRequest, provider: str, info: ModelInfo | None) -> LlmError | None:
    """The rules run one by one, in order: what ``request_problem`` answered before its fast path."""
    spec = SPECS._by_name.get(provider)
    rules = spec.rules if spec is not None else V._DEFAULT
    for rule in V._RULES:
        problem = rule(r, provider, rules, info)
        if problem is not None:
            return V._fail(provider, problem)
    return None


_turn = st.builds(
    lambda role, content: Message(role=role, content=content),
    st.sampled_from([Role.SYSTEM, Role.USER, Role.ASSISTANT]),
    st.sampled_from(["", "  ", "hi", "\n"]),
)


@st.composite
def _text_request(draw: st.DrawFn) -> ChatRequest:
    """Text-only conversations (empty, blank, system-only, system after a user turn) with options."""
    return ChatRequest(
        model="m",
        messages=tuple(draw(st.lists(_turn, max_size=4))),
        # the values each rule turns on drawn often, so that two problems in one request (and which
        # one comes first) are common
        temperature=draw(st.one_of(st.sampled_from([None, -0.5, 0.7, 1.5, 2.5]), st.floats(-1, 3, allow_nan=False))),
        top_p=draw(st.one_of(st.sampled_from([None, -0.1, 0.5, 1.5]), st.floats(-1, 2, allow_nan=False))),
        max_tokens=draw(st.one_of(st.sampled_from([None, -1, 0, 1, 150, 10**6]), st.integers(-1, 10**6))),
        tool_choice=draw(st.sampled_from([None, "auto", "required"])),
        provider_options=draw(st.sampled_from([{}, {"x": 1}, {"model": "other"}])),
        response_format=draw(st.sampled_from([None, ResponseFormat(type="json_schema", name="o", schema={})])),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_text_request(), chat_request(), broken()), st.sampled_from(["openai", "anthropic", "gemini", "ollama", "bedrock"]),
       st.sampled_from([None, ModelInfo(id="m", provider="p", max_output_tokens=100)]))
def test_request_problem_answers_what_every_rule_answers(r: ChatRequest, provider: str, info: ModelInfo | None) -> None:
    """The text-only fast path of ``request_problem`` gives the same first problem (or none) as the full rule chain."""
    assert request_problem(r, provider, info) == _every_rule(r, provider, info)
