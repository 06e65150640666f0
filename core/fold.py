"""Fold streamed :class:`ChatChunk` values into the :class:`ChatResponse` the non-stream call returns.

One small stateful object does it, shared by every dialect: :class:`StreamFold` takes each chunk
(``add``) and builds the response at the end (``response``). Dialects only promise that their chunks
carry cumulative ``usage`` and, somewhere, the id/model/created of the response. (It is a stateful
object on purpose, not a fold that mutates its argument and returns it: appending each piece to
lists is what keeps a long stream linear, and a method that returns ``None`` says so honestly.)

>>> from .schema import ChatChunk, FinishReason
>>> fold = StreamFold()
>>> for c in (ChatChunk(id="r1", model="m", created=1, text="Hel"), ChatChunk(text="lo"),
...           ChatChunk(finish_reason=FinishReason.STOP, raw_finish_reason="stop")):
...     fold.add(c)
>>> fold.response("openai").text
'Hello'
>>> fold_chunks([ChatChunk(text="Hi")], "openai").text
'Hi'
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

__all__ = ["StreamFold", "fold_chunks"]


class _Call(msgspec.Struct):
    id: str = ""
    name: str = ""
    arguments: list[str] = msgspec.field(default_factory=list)
    signature: str | None = None


class StreamFold(msgspec.Struct):
    """The chunks of one stream so far: ``add`` each, then ``response`` once, at the end."""

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

    def add(self, chunk: ChatChunk) -> None:
        """Take one chunk into the fold."""
        _add(self, chunk)

    def response(self, provider: str) -> ChatResponse:
        """The response the chunks so far make (the non-stream call's answer, for a whole stream)."""
        return _response(self, provider)


def _close_text(acc: StreamFold) -> None:
    if acc.text:
        acc.parts.append(TextPart("".join(acc.text)))
        acc.text = []


def _close_reasoning(acc: StreamFold) -> None:
    if acc.in_reasoning:
        acc.parts.append(ReasoningPart(text="".join(acc.reasoning), signature=acc.signature))
        acc.reasoning, acc.signature, acc.in_reasoning = [], None, False


def _add(acc: StreamFold, c: ChatChunk) -> None:
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


def _response(acc: StreamFold, provider: str) -> ChatResponse:
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
    """The response a whole stream's chunks make."""
    fold = StreamFold()
    for c in chunks:
        _add(fold, c)
    return _response(fold, provider)
