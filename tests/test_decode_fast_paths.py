"""The decoders' text-only fast paths build exactly the normal form the general path builds."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import DIALECTS
from interlingua.core.http import HttpResponse
from interlingua.core.schema import TextPart, assistant_message

BODIES = {
    "openai": lambda t: {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": t},
                                      "finish_reason": "stop"}]},
    "anthropic": lambda t: {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                            "content": [{"type": "text", "text": t}], "stop_reason": "end_turn",
                            "usage": {"input_tokens": 1, "output_tokens": 1}},
    "ollama": lambda t: {"model": "llama3.2", "created_at": "2024-07-22T20:33:28.123648Z",
                         "message": {"role": "assistant", "content": t}, "done": True, "done_reason": "stop"},
    "gemini": lambda t: {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]},
                                         "finishReason": "STOP"}], "modelVersion": "gemini-2.5-flash"},
}


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40))
def test_text_only_answer_is_the_normal_form(text: str) -> None:
    """Any text, the empty string included, decodes to assistant_message([TextPart(text)])."""
    expected = assistant_message([TextPart(text)])
    for provider, body in BODIES.items():
        resp = DIALECTS[provider].decode_response(HttpResponse(200, body=json.dumps(body(text)).encode()))
        assert resp.unwrap().message == expected, provider
