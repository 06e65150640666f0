"""The stream loop's fast paths (issue 19) hand out exactly what the plain code would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from returns.result import Success

from interlingua.core import ChatChunk
from interlingua.core.fold import fold_chunks
from interlingua.effects import Client
from interlingua.effects.observe import CallInfo, CallTrace
from interlingua.fakes import FakeServer

from .helpers import config_for
from .resilience_support import MODELS as SAMPLES
from .resilience_support import warm_fake

MODELS = sorted(SAMPLES.values())


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async for server in warm_fake():
        yield server


class _Chunks(CallTrace):
    __slots__ = ("seen",)

    def __init__(self, seen: list[ChatChunk]) -> None:
        self.seen = seen

    def chunk(self, chunk: ChatChunk) -> None:
        self.seen.append(chunk)


class _Observer:
    def __init__(self) -> None:
        self.seen: list[ChatChunk] = []

    def call_started(self, info: CallInfo) -> CallTrace:
        return _Chunks(self.seen)


@pytest.mark.parametrize("model", MODELS)
async def test_an_observer_sees_every_chunk_the_caller_gets(fake: FakeServer, model: str) -> None:
    """Skipping the no-op chunk hook never skips an observer that overrides it: same chunks, same order."""
    obs = _Observer()
    async with Client(config_for(fake), observer=obs) as client:
        items = [i async for i in client.stream(model, "Tell me a story about a lighthouse keeper")]
    chunks = [i.unwrap() for i in items]
    assert len(chunks) > 3 and obs.seen == chunks
    assert all(a is b for a, b in zip(obs.seen, chunks, strict=True))


@pytest.mark.parametrize("model", MODELS)
async def test_stream_items_are_ordinary_successes(fake: FakeServer, model: str) -> None:
    """Items built without Success.__init__ are real Success values: type, equality, repr, map, fold."""
    async with Client(config_for(fake)) as client:
        items = [i async for i in client.stream(model, "Tell me a story")]
        whole = await client.chat(model, "Tell me a story")
    assert items and all(type(i) is Success for i in items)
    for i in items:
        c = i.unwrap()
        assert i == Success(c) and repr(i) == repr(Success(c))
        assert i.map(lambda ch: ch.text) == Success(c.text)
    folded = fold_chunks([i.unwrap() for i in items], model.split(":")[0])
    assert folded.text == whole.unwrap().text
