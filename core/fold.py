"""Fold streamed :class:`ChatChunk` values into the :class:`ChatResponse` the non-stream call returns.

The fold is a pure left fold (``accumulate`` over chunks, then ``to_response``), shared by every
dialect: dialects only promise that their chunks carry cumulative ``usage`` and, somewhere, the
id/model/created of the response.

>>> from .schema import ChatChunk, FinishReason
>>> acc = Accumulator()
>>> for c in (ChatChunk(id="r1", model="m", created=1, text="Hel"), ChatChunk(text="lo"),
...           ChatChunk(finish_reason=FinishReason.STOP, raw_finish_reason="stop")):
...     acc = accumulate(acc, c)
>>> to_response(acc, "openai").text
'Hello'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from .schema import (
    ChatChunk,
    ChatResponse,
    FinishReason,
    Part,
    ReasoningPart,
    TextPart,
    ToolCall,
    Usage,
    assistant_message,
)

__all__ = ["Accumulator", "accumulate", "fold_chunks", "to_response"]


class _Call(msgspec.Struct):
    id: str = ""
    name: str = ""
    arguments: list[str] = msgspec.field(default_factory=list)
    signature: str | None = None


class Accumulator(msgspec.Struct):
    """Mutable only inside :func:`accumulate`, which owns it; callers treat it as a value they thread."""

    id: str = ""
    model: str = ""
    created: int = 0
    parts: list[Part] = msgspec.field(default_factory=list)
    text: list[str] = msgspec.field(default_factory=list)
    calls: dict[int, _Call] = msgspec.field(default_factory=dict)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    refusal: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    reasoning: list[str] = msgspec.field(default_factory=list)
    signature: str | None = None
    in_reasoning: bool = False


def _close_text(acc: Accumulator) -> None:
    if acc.text:
        acc.parts.append(TextPart("".join(acc.text)))
        acc.text = []


def _close_reasoning(acc: Accumulator) -> None:
    if acc.in_reasoning:
        acc.parts.append(ReasoningPart(text="".join(acc.reasoning), signature=acc.signature))
        acc.reasoning, acc.signature, acc.in_reasoning = [], None, False


def accumulate(acc: Accumulator, c: ChatChunk) -> Accumulator:
    if c.id and not acc.id:
        acc.id = c.id
    if c.model and not acc.model:
        acc.model = c.model
    if c.created and not acc.created:
        acc.created = c.created
    if c.reasoning or c.reasoning_signature is not None:
        if not acc.in_reasoning or (acc.signature is not None and c.reasoning):
            # a new reasoning block starts after text, or after the previous block was signed
            _close_reasoning(acc)
            _close_text(acc)
            acc.in_reasoning = True
        if c.reasoning:
            acc.reasoning.append(c.reasoning)
        if c.reasoning_signature is not None:
            acc.signature = (acc.signature or "") + c.reasoning_signature
    if c.redacted_reasoning is not None:
        _close_reasoning(acc)
        _close_text(acc)
        acc.parts.append(ReasoningPart(redacted=c.redacted_reasoning))
    if c.text:
        _close_reasoning(acc)
        acc.text.append(c.text)
    for d in c.tool_calls:
        call = acc.calls.get(d.index)
        if call is None:
            call = acc.calls[d.index] = _Call()
        if d.id:
            call.id = d.id
        if d.name:
            call.name += d.name
        if d.arguments:
            call.arguments.append(d.arguments)
        if d.signature is not None:
            call.signature = d.signature
    if c.refusal:
        acc.refusal.append(c.refusal)
    if c.finish_reason is not None:
        acc.finish_reason = c.finish_reason
        acc.raw_finish_reason = c.raw_finish_reason
    if c.usage is not None:
        acc.usage = c.usage
    if c.provider_metadata:
        acc.metadata.update(c.provider_metadata)
    return acc


def to_response(acc: Accumulator, provider: str) -> ChatResponse:
    _close_reasoning(acc)
    _close_text(acc)
    calls = tuple(
        ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments), signature=c.signature)
        for _, c in sorted(acc.calls.items())
    )
    refusal = "".join(acc.refusal) or None
    finish, raw_finish = acc.finish_reason or FinishReason.OTHER, acc.raw_finish_reason
    if refusal:
        # the non-stream decoders report a refusal as a content-filter finish; so does the fold
        finish, raw_finish = FinishReason.CONTENT_FILTER, raw_finish or "refusal"
    return ChatResponse(
        id=acc.id,
        model=acc.model,
        created=acc.created,
        message=assistant_message(acc.parts, calls, refusal=refusal),
        finish_reason=finish,
        raw_finish_reason=raw_finish,
        usage=acc.usage or Usage(),
        provider=provider,
        provider_metadata=acc.metadata,
    )


def fold_chunks(chunks: Iterable[ChatChunk], provider: str) -> ChatResponse:
    acc = Accumulator()
    for c in chunks:
        acc = accumulate(acc, c)
    return to_response(acc, provider)
