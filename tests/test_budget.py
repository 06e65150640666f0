"""Budgets: caps and context windows enforced before sending; reservations never overspend."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import ErrorKind, ModelInfo, Usage
from interlingua.core import budget as B
from interlingua.core.catalog import default_catalog
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer

from .helpers import config_for

INFO = ModelInfo(id="m", provider="p", context_window=10_000, max_output_tokens=1_000,
                 input_price=Decimal("1"), output_price=Decimal("4"))


def _client(fake: FakeServer, **limits: object) -> Client:
    return Client(config_for(fake, retry_enabled=False, limits=B.Limits(**limits)))  # type: ignore[arg-type]


def test_reserve_then_settle_to_actual() -> None:
    """A reservation holds the worst case; settling replaces it with the real cost."""
    limits = B.Limits(max_cost=Decimal("1"))
    p = B.plan(INFO, prompt_tokens=100, exact=True, max_tokens=50)
    assert p.cost == Decimal("0.000300")
    state, r = B.reserve(B.BudgetState(), limits, p).unwrap()
    assert (state.reserved, state.spent) == (p.cost, 0)
    state = B.settle(state, r, Usage(prompt_tokens=100, completion_tokens=5, total_tokens=105), INFO)
    assert (state.reserved, state.spent, state.tokens_used) == (0, Decimal("0.000120"), 105)
    assert B.release(B.reserve(B.BudgetState(), limits, p).unwrap()[0], r) == B.BudgetState()


def test_refusals_are_typed() -> None:
    """Per-call caps, totals, token limits and unboundable costs refuse with budget_exceeded."""
    p = B.plan(INFO, prompt_tokens=100, exact=True, max_tokens=50)
    cases = [
        B.Limits(max_cost_per_call=Decimal("0.0001")),
        B.Limits(max_cost=Decimal("0.0002")),
        B.Limits(max_tokens_per_call=149),
        B.Limits(max_tokens=100),
    ]
    for limits in cases:
        err = B.reserve(B.BudgetState(), limits, p).failure()
        assert err.kind is ErrorKind.BUDGET_EXCEEDED and not err.is_retryable()
    unpriced = B.plan(ModelInfo(id="x", provider="p"), prompt_tokens=1, exact=True, max_tokens=1)
    assert B.reserve(B.BudgetState(), B.Limits(max_cost=Decimal(1)), unpriced).failure().kind is ErrorKind.BUDGET_EXCEEDED
    assert isinstance(B.reserve(B.BudgetState(), B.Limits(), unpriced), Success)  # no cap: unknown price is fine


def test_estimates_get_a_margin() -> None:
    """An inexact prompt count is reserved with the estimate margin; an exact one is not."""
    assert B.plan(INFO, prompt_tokens=100, exact=False, max_tokens=0).prompt_tokens == 125
    assert B.plan(INFO, prompt_tokens=100, exact=True, max_tokens=None).max_output_tokens == 1_000


_op = st.tuples(st.sampled_from(["reserve", "settle", "release"]), st.integers(0, 5_000), st.integers(0, 2_000), st.integers(0, 2_000))


@settings(max_examples=150, deadline=None)
@given(st.lists(_op, max_size=60))
def test_spent_plus_reserved_never_exceeds_the_cap(ops: list[tuple[str, int, int, int]]) -> None:
    """Whatever the interleaving of reserves, settles and releases, the cap is never crossed."""
    cap = Decimal("0.02")
    limits = B.Limits(max_cost=cap)
    state, open_ = B.BudgetState(), []
    for op, prompt, out, actual_out in ops:
        if op == "reserve":
            r = B.reserve(state, limits, B.plan(INFO, prompt_tokens=prompt, exact=True, max_tokens=out))
            if isinstance(r, Success):
                state, res = r.unwrap()
                open_.append((res, prompt, min(out, actual_out)))
        elif open_:
            res, prompt_used, out_used = open_.pop(0)
            usage = Usage(prompt_tokens=prompt_used, completion_tokens=out_used)
            state = B.settle(state, res, usage, INFO) if op == "settle" else B.release(state, res)
        assert state.spent + state.reserved <= cap and state.reserved >= 0


async def test_prompt_over_the_context_window_is_never_sent(fake: FakeServer) -> None:
    """A prompt longer than the window fails with context_length_exceeded and no request reaches the fake."""
    window = default_catalog().lookup("openai", "gpt-3.5-turbo").context_window  # type: ignore[union-attr]
    async with _client(fake) as client:
        r = await client.chat("openai:gpt-3.5-turbo", "word " * (window + 10))
        chunks = [c async for c in client.stream("openai:gpt-3.5-turbo", "word " * (window + 10))]
    assert isinstance(r, Failure) and r.failure().kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED
    assert r.failure().provider == "openai"
    assert len(chunks) == 1 and chunks[0].failure().kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED
    assert fake.attempts("openai") == 0


async def test_per_call_cap_refuses_before_sending(fake: FakeServer) -> None:
    """A call whose worst case exceeds the per-call cap is refused with no network call."""
    async with _client(fake, max_cost_per_call=Decimal("0.0001")) as client:
        refused = await client.chat("openai:gpt-4o", "hello", max_tokens=1_000)  # 1000 * $10/1M = $0.01
        allowed = await client.chat("openai:gpt-4o", "hello", max_tokens=5)
    assert refused.failure().kind is ErrorKind.BUDGET_EXCEEDED
    assert isinstance(allowed, Success) and fake.attempts("openai") == 1


async def test_concurrent_calls_never_overspend_the_cap(fake: FakeServer) -> None:
    """Many concurrent calls: exactly those whose worst case fits are sent, and spend stays under the cap."""
    info = default_catalog().lookup("openai", "gpt-4o-mini")
    assert info is not None
    worst = B.plan(info, prompt_tokens=9, exact=True, max_tokens=2_000).cost  # "hi" = 9 prompt tokens
    assert worst is not None
    cap = worst * 7 + worst / 2  # room for 7 worst cases, not 8
    async with _client(fake, max_cost=cap) as client:
        results = await asyncio.gather(*(client.chat("openai:gpt-4o-mini", "hi", max_tokens=2_000) for _ in range(30)))
        ok = [r for r in results if isinstance(r, Success)]
        refused = [r for r in results if isinstance(r, Failure)]
        assert len(ok) == 7 and fake.attempts("openai") == 7
        assert all(r.failure().kind is ErrorKind.BUDGET_EXCEEDED for r in refused)
        assert client.total_cost == sum((r.unwrap().usage.calculate_cost(info) for r in ok), Decimal(0)) <= cap
        # Settled calls cost far less than their worst case, so the freed budget admits more calls.
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hi", max_tokens=2_000), Success)


async def test_token_limit_across_calls(fake: FakeServer) -> None:
    """A lifetime token limit refuses the call that could cross it."""
    async with _client(fake, max_tokens=60) as client:
        first = await client.chat("openai:gpt-4o-mini", "hi", max_tokens=20)
        second = await client.chat("openai:gpt-4o-mini", "hi", max_tokens=50)
    assert isinstance(first, Success) and second.failure().kind is ErrorKind.BUDGET_EXCEEDED


async def test_unknown_model_is_sent_and_costs_nothing_known(fake: FakeServer) -> None:
    """Without caps an uncatalogued model is sent; its cost is unknown, so the total stays 0."""
    fake.models("openai", unknown=["gpt-99"])
    async with _client(fake) as client:
        r = await client.chat("openai:gpt-99", "hi")  # not in the fake either: 404, released
        assert r.failure().kind is ErrorKind.NOT_FOUND and client.total_cost == 0
        assert client._guard.state.reserved == 0


def _spy_on_counting(monkeypatch: object) -> list[str]:
    """The models whose prompts the guard tokenizes from now on (in call order)."""
    import interlingua.effects.budget as guard_module

    counted: list[str] = []
    real = guard_module.count_tokens

    def spy(model: str, *args: object, **kwargs: object) -> object:
        counted.append(model)
        return real(model, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(guard_module, "count_tokens", spy)  # type: ignore[attr-defined]
    return counted


async def test_guard_with_every_check_off_counts_nothing(fake: FakeServer, monkeypatch: object) -> None:
    """With no caps, no rate limits, no context check and no header pacing, no prompt is tokenized,
    yet cost is still accounted from each reply's usage. With the context check on, a prompt whose
    byte size already fits the window is not tokenized either; one that might not fit is counted."""
    counted = _spy_on_counting(monkeypatch)
    async with _client(fake, enforce_context_window=False, adapt_to_headers=False) as client:
        r = await client.chat("openai:gpt-4o-mini", "hello there", max_tokens=5)
        assert isinstance(r, Success) and counted == []
        assert client.total_cost > 0
    async with _client(fake, adapt_to_headers=False) as client:  # the context-window check
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hello there", max_tokens=5), Success)
        assert counted == []  # 11 bytes cannot exceed a 128k-token window
        long = "word " * 30_000  # 150,000 bytes: more than the window in bytes, ~30,000 tokens
        assert isinstance(await client.chat("openai:gpt-4o-mini", long, max_tokens=5), Success)
        assert counted == ["openai:gpt-4o-mini"]


async def test_a_reported_token_window_with_room_needs_no_tokenizer(fake: FakeServer, monkeypatch: object) -> None:
    """After a reply carrying x-ratelimit-remaining-tokens, a prompt whose byte bound (with the output
    cap) fits what the window still holds is not tokenized; one that might not fit it is counted."""
    counted = _spy_on_counting(monkeypatch)
    # default limits (the context check and header pacing on), every reply read: the fake's token window
    # resets within a millisecond, so the last reply's report is the one in force
    async with _client(fake, quota_refresh=0) as client:
        for _ in range(3):
            assert isinstance(await client.chat("openai:gpt-4o-mini", "hello there", max_tokens=5), Success)
        limiter = client._guard.limiter
        room = limiter.token_headroom("openai", "gpt-4o-mini")
        assert room is not None and 0 < room < float("inf")  # the fake reported a token window
        assert counted == []
        # A window nearly spent (as a busy account reports it): a prompt whose bound exceeds the room
        # (but fits the 128k window in tokens) must be counted.
        limiter.observe("openai", "gpt-4o-mini", {"x-ratelimit-limit-tokens": "30000",
                                                  "x-ratelimit-remaining-tokens": "20000",
                                                  "x-ratelimit-reset-tokens": "20s"})
        room = limiter.token_headroom("openai", "gpt-4o-mini")
        assert room == 20000
        long = "word " * int(room // 5 + 1)
        assert isinstance(await client.chat("openai:gpt-4o-mini", long, max_tokens=5), Success)
        assert counted == ["openai:gpt-4o-mini"]


async def test_an_attempt_cut_after_sending_is_charged_its_reservation(fake: FakeServer) -> None:
    """A request that reached the server and got no answer may have been billed: it costs its worst case."""
    cfg = config_for(fake, retry_enabled=False, first_byte_timeout=0.3, limits=B.Limits(max_cost=Decimal("1")))
    async with Client(cfg) as client:
        fake.fail_next("openai", "hang")
        r = await client.chat("openai:gpt-4o-mini", "hi", max_tokens=100)
        assert r.failure().kind is ErrorKind.TIMEOUT
        info = default_catalog().lookup("openai", "gpt-4o-mini")
        worst = B.plan(info, prompt_tokens=8, exact=True, max_tokens=100).cost
        assert worst is not None and client.total_cost >= worst > 0
        assert client._guard.state.reserved == 0


async def test_a_request_that_never_connected_costs_nothing() -> None:
    """Connection refused: nothing reached a server, so the reservation is given back."""
    import socket

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = LlmConfig(retry_enabled=False, limits=B.Limits(max_cost=Decimal("1"))).with_provider(
        "openai", base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test"
    )
    async with Client(cfg) as client:
        r = await client.chat("openai:gpt-4o-mini", "hi", max_tokens=100)
        assert r.failure().kind is ErrorKind.NETWORK and "could not connect" in r.failure().message
        assert client.total_cost == 0 and client._guard.state.reserved == 0



async def test_an_encodings_first_load_runs_off_the_event_loop(fake: FakeServer, monkeypatch: object) -> None:
    """When a prompt must be counted, the encoding is built once, in a worker thread, not on the loop."""
    import threading

    import interlingua.effects.budget as guard_module

    threads: list[bool] = []
    real = guard_module.get_encoding

    def spy(name: str) -> object:
        threads.append(threading.current_thread() is threading.main_thread())
        return real(name)

    monkeypatch.setattr(guard_module, "get_encoding", spy)  # type: ignore[attr-defined]
    monkeypatch.setattr(guard_module, "_LOADED", set())  # type: ignore[attr-defined]
    monkeypatch.setattr(guard_module, "_LOADING", {})  # type: ignore[attr-defined]
    async with _client(fake, max_cost=Decimal("1")) as client:  # a cost cap: every prompt is counted
        for _ in range(3):
            assert isinstance(await client.chat("openai:gpt-4o-mini", "hello there", max_tokens=5), Success)
        # concurrent calls that all need the encoding before it is built share one load
        guard_module._LOADED.clear()  # type: ignore[attr-defined]
        results = await asyncio.gather(*(client.chat("openai:gpt-4o-mini", "hello there", max_tokens=5) for _ in range(8)))
        assert all(isinstance(r, Success) for r in results)
    assert threads == [False, False]  # one load per need, each in a worker thread
