"""Hypothesis strategies for the unified schema (shared by every dialect's property tests)."""

from __future__ import annotations

import json
import string

from hypothesis import strategies as st

from interlingua.core import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoiceFunction,
    ToolSpec,
)
from interlingua.core.shared import conversation_problem

# Text that exercises JSON escaping and multi-byte UTF-8 without being absurd.
text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)
nonempty_text = text.filter(lambda s: s.strip() != "")
ident = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=20).filter(
    lambda s: s[0].isalpha()
)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), text)
json_object = st.dictionaries(ident, json_scalar, max_size=4)
json_args = json_object.map(lambda d: json.dumps(d, ensure_ascii=False))

param_schema = st.dictionaries(
    ident, st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}]),
    max_size=3,
).map(lambda props: {"type": "object", "properties": props, "required": sorted(props)})

tool_spec = st.builds(
    lambda name, desc, params: ToolSpec(name=name, description=desc, parameters=params),
    ident,
    st.one_of(st.none(), text),
    param_schema,
)

image_part = st.one_of(
    st.builds(lambda u, d: ImagePart(url=u, detail=d), st.just("https://example.com/cat.png"),
              st.sampled_from([None, "low", "high", "auto"])),
    st.builds(lambda b: ImagePart(data=b, media_type="image/png"), st.sampled_from(["iVBORw0KGgo=", "AAAA"])),
)
user_message = st.one_of(
    text.map(Message.user),
    st.lists(st.one_of(text.map(TextPart), image_part), min_size=1, max_size=3).map(Message.user),
)


@st.composite
def conversation(draw: st.DrawFn, *, with_tools: bool = True) -> tuple[Message, ...]:
    """A well-formed conversation: optional system, user turns, assistant tool calls each answered by
    tool results before the next user turn, ending on a user or tool turn."""
    msgs: list[Message] = []
    if draw(st.booleans()):
        msgs.append(Message.system(draw(text)))
    turns = draw(st.integers(1, 3))
    n = 0
    for t in range(turns):
        msg = draw(user_message)
        if t == 0 and conversation_problem(ChatRequest(model="m", messages=(msg,))) is not None:
            msg = Message.user(draw(nonempty_text))  # a conversation with nothing in it is refused
        msgs.append(msg)
        if with_tools and t < turns - 1 and draw(st.booleans()):
            k = draw(st.integers(1, 2))
            calls = []
            for _ in range(k):
                n += 1
                calls.append(ToolCall(id=f"call_{n}", name=draw(ident), arguments=draw(json_args)))
            msgs.append(Message.assistant(draw(text), calls))
            for c in calls:
                msgs.append(Message.tool(c.id, draw(text), name=c.name, is_error=draw(st.booleans())))
        elif t < turns - 1:
            msgs.append(Message.assistant(draw(nonempty_text)))
    return tuple(msgs)


@st.composite
def chat_request(draw: st.DrawFn, model: str = "gpt-4o-mini") -> ChatRequest:
    tools = tuple(draw(st.lists(tool_spec, max_size=3, unique_by=lambda t: t.name)))
    choice = None
    if tools:
        choice = draw(st.one_of(st.none(), st.sampled_from(["auto", "none", "required"]),
                                st.sampled_from([t.name for t in tools]).map(ToolChoiceFunction)))
    return ChatRequest(
        model=model,
        messages=draw(conversation()),
        tools=tools,
        tool_choice=choice,
        temperature=draw(st.one_of(st.none(), st.floats(0, 2, allow_nan=False))),
        top_p=draw(st.one_of(st.none(), st.floats(0, 1, allow_nan=False))),
        max_tokens=draw(st.one_of(st.none(), st.integers(1, 4096))),
        stop=tuple(draw(st.lists(nonempty_text, max_size=2))),
        seed=draw(st.one_of(st.none(), st.integers(0, 2**31))),
        response_format=draw(st.one_of(st.none(), st.builds(
            lambda s: ResponseFormat(type="json_schema", name="out", schema=s, strict=True), param_schema),
            st.just(ResponseFormat(type="json_object")))),
        user=draw(st.one_of(st.none(), ident)),
    )
