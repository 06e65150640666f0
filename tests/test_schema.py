"""The unified schema is plain data: every Struct survives JSON, helpers build what they say."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings

from interlingua.core import (
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
    Usage,
)
from interlingua.core.schema import assistant_message

from .strategies import chat_request


@settings(max_examples=100, deadline=None)
@given(chat_request())
def test_request_json_round_trip(req: ChatRequest) -> None:
    """Every generated request survives msgspec JSON unchanged."""
    assert msgspec.json.decode(msgspec.json.encode(req), type=ChatRequest) == req


def test_other_structs_round_trip() -> None:
    """Responses, chunks, usage and model info survive JSON unchanged."""
    resp = ChatResponse(
        id="r", model="m", created=1, provider="openai", finish_reason=FinishReason.TOOL_CALLS,
        message=assistant_message([ReasoningPart(text="hmm", signature="sig"), TextPart("hi")],
                                  [ToolCall("c1", "f", '{"a":1}')]),
        usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7, cached_tokens=1),
        raw_finish_reason="tool_calls",
    )
    info = ModelInfo(id="gpt-4o", provider="openai", input_price=Decimal("2.50"), supports_tools=True)
    chunk = ChatChunk(text="x", usage=Usage(total_tokens=1))
    for value, t in ((resp, ChatResponse), (info, ModelInfo), (chunk, ChatChunk)):
        assert msgspec.json.decode(msgspec.json.encode(value), type=t) == value


def test_message_helpers() -> None:
    """Message.system/user/assistant/tool build the roles and fields they name."""
    assert Message.system("s").role is Role.SYSTEM
    u = Message.user([TextPart("look"), ImagePart(url="https://x/y.png")])
    assert u.text == "look" and len(u.parts) == 2
    t = Message.tool("call_1", "42", name="f", is_error=True)
    assert (t.role, t.tool_call_id, t.name, t.is_error, t.text) == (Role.TOOL, "call_1", "f", True, "42")


def test_image_part_needs_exactly_one_source() -> None:
    """An image is a url or inline data with a media type, never both or neither."""
    with pytest.raises(ValueError):
        ImagePart()
    with pytest.raises(ValueError):
        ImagePart(url="https://x", data="AAAA", media_type="image/png")
    with pytest.raises(ValueError):
        ImagePart(data="AAAA")


def test_assistant_normal_form() -> None:
    """Adjacent text merges; text-only content is a plain string; reasoning stays apart."""
    m = assistant_message([TextPart("a"), TextPart("b"), TextPart("")])
    assert m.content == "ab"
    m2 = assistant_message([ReasoningPart(text="r"), TextPart("a"), TextPart("b")])
    assert m2.content == (ReasoningPart(text="r"), TextPart("ab"))
    assert m2.text == "ab" and m2.reasoning == "r"


def test_unknown_request_fields_are_rejected() -> None:
    """Our own input type refuses unknown fields instead of silently ignoring a typo."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"model": "m", "messages": [], "temprature": 1}, ChatRequest)
