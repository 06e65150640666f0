"""One tool-using conversation, built once in the unified schema, encoded for OpenAI and for Anthropic."""

from __future__ import annotations

import json
from typing import Any

from interlingua.core import ChatRequest, Message, ProviderConfig, Secret, ToolCall, ToolSpec
from interlingua.core.anthropic import ANTHROPIC
from interlingua.core.openai import OPENAI
from interlingua.effects import Client
from interlingua.fakes.anthropic import validate_messages_body

CFG = ProviderConfig(api_key=Secret("k"))
TOOLS = (
    ToolSpec(name="get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}}),
    ToolSpec(name="get_time", parameters={"type": "object", "properties": {"tz": {"type": "string"}}}),
)
CONVERSATION = (
    Message.system("You are terse."),
    Message.user("Weather in Paris and the time in Tokyo?"),
    Message.assistant("", [ToolCall("call_w", "get_weather", '{"city":"Paris"}'),
                           ToolCall("call_t", "get_time", '{"tz":"Asia/Tokyo"}')]),
    # results arrive in the opposite order of the calls: each must stay attached to its own id
    Message.tool("call_t", "09:00"),
    Message.tool("call_w", "sunny, 21C"),
    Message.user("And tomorrow?"),
)


def _body(dialect: Any, model: str) -> dict[str, Any]:
    req = ChatRequest(model=model, messages=CONVERSATION, tools=TOOLS, max_tokens=100)
    return json.loads(dialect.encode_request(req, CFG).unwrap().body)


def test_openai_encoding() -> None:
    """OpenAI: calls on the assistant message in order, one tool message per result with its call id."""
    msgs = _body(OPENAI, "gpt-4o-mini")["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "tool", "user"]
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in msgs[2]["tool_calls"]] == [
        ("call_w", "get_weather", {"city": "Paris"}), ("call_t", "get_time", {"tz": "Asia/Tokyo"})]
    assert [(m["tool_call_id"], m["content"]) for m in msgs[3:5]] == [("call_t", "09:00"), ("call_w", "sunny, 21C")]
    assert msgs[5] == {"role": "user", "content": "And tomorrow?"}


def test_anthropic_encoding() -> None:
    """Anthropic: system lifted, tool_use blocks in order, both results first in ONE user turn, then the text."""
    body = _body(ANTHROPIC, "claude-haiku-4-5")
    assert body["system"] == "You are terse."
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == [
        {"type": "tool_use", "id": "call_w", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_t", "name": "get_time", "input": {"tz": "Asia/Tokyo"}},
    ]
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_t", "content": "09:00"},
        {"type": "tool_result", "tool_use_id": "call_w", "content": "sunny, 21C"},
        {"type": "text", "text": "And tomorrow?"},
    ]
    assert validate_messages_body(body) is None


async def test_both_fakes_accept_the_same_conversation(client: Client) -> None:
    """Sent through the Client, both providers' fakes accept it and answer the last user turn."""
    for model in ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"):
        r = await client.chat(model, list(CONVERSATION), tools=list(TOOLS), max_tokens=100)
        assert r.unwrap().text == "Fake reply: And tomorrow?", model
