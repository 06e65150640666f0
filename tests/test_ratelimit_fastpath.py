"""The limiter's per-request fast path (plain numbers spent in place, issue 19) decides exactly as the
pure machine of :mod:`interlingua.core.ratelimit`, and the header parser reads what a lower-cased index
of the headers says."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import math
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy, istr

from interlingua.core import Headers
from interlingua.core.ratelimit import (
    MAX_RESET_SECONDS,
    LimiterState,
    Observed,
    Wait,
    Window,
    acquire,
    observe,
    parse_duration,
    parse_rate_headers,
)
from interlingua.effects.ratelimit import Limiter

from .test_ratelimit import FakeClock

_OPENAI = ("x-ratelimit-remaining-requests", "x-ratelimit-limit-requests", "x-ratelimit-reset-requests",
           "x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens", "x-ratelimit-reset-tokens")
_ANTHROPIC = tuple(f"anthropic-ratelimit-{w}-{f}" for w in ("requests", "tokens", "input-tokens")
                   for f in ("remaining", "limit", "reset"))
_NUMBERS = st.sampled_from(["0", "1", "3", "40", "500", "1000000", "2.5", "-1", "nan", "inf", "x", "", " 7 "])
_DURATIONS = st.sampled_from(["1s", "6m0s", "120ms", "0s", "2ms", "1h", "25h", "inf", "soon", "1e309s", ""])
_DATES = st.sampled_from(["1970-01-01T00:00:30Z", "1970-01-01T00:17:00Z", "1970-01-01T00:00:00Z",
                          "9999-12-31T23:59:59Z", "1970-01-01T00:16:40", "soon"])


def _spelled(name: str, how: int) -> str:
    return (name, name.upper(), name.title())[how]


@st.composite
def _headers(draw: st.DrawFn) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = [("content-type", "application/json"), ("Date", "Thu, 01 Jan 1970 00:00:00 GMT")]
    for name in draw(st.lists(st.sampled_from(_OPENAI + _ANTHROPIC), max_size=8)):
        value = (draw(_DURATIONS) if name.startswith("x-") else draw(_DATES)) if name.endswith("reset") or "-reset-" in name \
            else draw(_NUMBERS)
        pairs.append((_spelled(name, draw(st.integers(0, 2))), value))
    return pairs


def _reference(h: dict[str, str], now: float) -> Observed | None:
    """The parser as it was before the fast path: a lower-cased index, ``get`` and ``isfinite``."""
    def number(text: str | None) -> float | None:
        try:
            v = float(text) if text is not None else None
        except ValueError:
            return None
        return v if v is not None and v >= 0 and v == v and v != math.inf else None

    def rfc3339(text: str) -> float | None:
        try:
            when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            return when.timestamp() if when.tzinfo is not None else None
        except (ValueError, OverflowError):
            return None

    ignored: list[str] = []

    def window(prefixes: list[tuple[str, str, str, bool]]) -> Window | None:
        for remaining, limit, reset, absolute in prefixes:
            raw_left, raw = h.get(remaining), h.get(reset)
            if raw_left is None or raw is None or number(raw_left) is None:
                continue
            if absolute:
                at = rfc3339(raw)
            else:
                d = parse_duration(raw)
                at = None if d is None else now + d
            if at is None or not math.isfinite(at) or at - now > MAX_RESET_SECONDS:
                ignored.append(reset)
                continue
            left = number(raw_left)
            assert left is not None
            return Window(left, at, number(h.get(limit)), now)
        return None

    o, a = _OPENAI, _ANTHROPIC
    requests = window([(o[0], o[1], o[2], False), (a[0], a[1], a[2], True)])
    tokens = window([(o[3], o[4], o[5], False), (a[3], a[4], a[5], True), (a[6], a[7], a[8], True)])
    if requests is None and tokens is None and not ignored:
        return None
    return Observed(requests, tokens, tuple(ignored))


@settings(max_examples=300, deadline=None)
@given(pairs=_headers(), now=st.sampled_from([0.0, 10.0, 1000.0]))
def test_parse_rate_headers_reads_what_a_lowered_index_says(pairs: list[tuple[str, str]], now: float) -> None:
    """Whatever the spelling, repetition or value of the quota headers, the one-pass parser answers
    as the lower-cased-index parser did, for ``Headers`` and for a plain dict alike."""
    lowered = {k.lower(): v for k, v in pairs}
    expected = _reference(lowered, now)
    assert parse_rate_headers(Headers(tuple(pairs)), now) == expected
    plain = dict(pairs)  # a repeated spelling keeps its first place: index the dict's own order
    assert parse_rate_headers(plain, now) == _reference({k.lower(): v for k, v in plain.items()}, now)


def _received(pairs: list[tuple[str, str]]) -> Headers:
    """The headers as the transport hands them over: aiohttp's own multi-mapping, not copied."""
    return Headers.received(CIMultiDictProxy(CIMultiDict((istr(k), v) for k, v in pairs)))


@st.composite
def _any_case(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Reply headers in any ASCII case per letter (HTTP names are ASCII tokens), names repeated."""
    pairs = draw(_headers())
    flips = draw(st.lists(st.booleans(), min_size=64, max_size=64))
    return [("".join(c.swapcase() if flips[i % 64] else c for i, c in enumerate(k)), v) for k, v in pairs]


@settings(max_examples=300, deadline=None)
@given(pairs=_any_case(), now=st.sampled_from([0.0, 10.0, 1000.0]))
def test_received_headers_read_as_their_copy(pairs: list[tuple[str, str]], now: float) -> None:
    """Headers read in place over the transport's multi-mapping answer every question as a copy of
    its pairs does (the last of a repeated name wins), and the quota read from them is the same."""
    copy, received = Headers(tuple(pairs)), _received(pairs)
    assert parse_rate_headers(received, now) == parse_rate_headers(copy, now) == _reference(
        {k.lower(): v for k, v in pairs}, now)
    assert received.items_raw() == copy.items_raw() == Headers(list(pairs)).items_raw() == tuple(pairs)
    assert received == copy == Headers(list(pairs)) and hash(received) == hash(copy) and repr(received) == repr(copy)
    assert len(received) == len(copy) and list(received) == list(copy)
    for name in {k for k, _ in pairs} | {"X-Absent", _OPENAI[0].upper()}:
        for key in (name, name.lower(), name.upper()):
            assert received.get(key) == copy.get(key)
            assert (key in received) == (key in copy)
    assert received.merged({"Content-Type": "text/plain"}) == copy.merged({"Content-Type": "text/plain"})
    assert pickle.loads(pickle.dumps(received)) == copy


_MODELS = ("m1", "m2")


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[str, float, object]]:
    steps: list[tuple[str, float, object]] = []
    for _ in range(draw(st.integers(1, 25))):
        dt = draw(st.sampled_from([0.0, 0.0, 0.001, 0.5, 1.0, 7.0, 30.0, 90.0]))
        if draw(st.booleans()):
            rem_r = draw(st.sampled_from([None, 0.0, 1.0, 2.0, 50.0]))
            rem_t = draw(st.sampled_from([None, 0.0, 10.0, 100.0, 1234.5, 40_000.0]))
            windows = tuple(
                None if rem is None else (rem, draw(st.sampled_from([0.0, 0.12, 1.0, 6.0, 60.0])),
                                          draw(st.sampled_from([None, rem, rem + 1.0, 2 * rem + 10.0, 50_000.0, rem / 2])))
                for rem in (rem_r, rem_t)
            )
            steps.append(("observe", dt, (draw(st.sampled_from(_MODELS)), windows)))
        else:
            steps.append(("take", dt, (draw(st.sampled_from(_MODELS)), draw(st.sampled_from([0, 1, 5, 100, 999, 60_000])))))
    return steps


@settings(max_examples=300, deadline=None)
@given(steps=_steps())
def test_fast_path_decides_as_acquire(steps: list[tuple[str, float, object]]) -> None:
    """Over random sequences of reported windows and requests, the limiter without rules of the
    caller's grants and waits exactly as the pure ``acquire`` over the same state, and holds the same
    windows afterwards (spent in place, dropped past their reset)."""
    clock = FakeClock()
    lim = Limiter(clock=clock, sleep=clock.sleep)
    pure = LimiterState()
    for kind, dt, arg in steps:
        clock.now += dt
        if kind == "observe":
            model, (req, tok) = arg  # type: ignore[misc]
            headers: dict[str, str] = {}
            for prefix, w in (("requests", req), ("tokens", tok)):
                if w is not None:
                    headers[f"x-ratelimit-remaining-{prefix}"] = repr(w[0])
                    headers[f"x-ratelimit-reset-{prefix}"] = f"{w[1] * 1000:g}ms"
                    if w[2] is not None:
                        headers[f"x-ratelimit-limit-{prefix}"] = repr(w[2])
            pure = observe(pure, "openai", model, headers, clock.now)
            lim.observe("openai", model, headers)
        else:
            model, tokens = arg  # type: ignore[misc]
            pure, expected = acquire(pure, (), "openai", model, tokens=tokens, now=clock.now)
            got = lim.decide("openai", model, tokens)
            assert type(got) is type(expected)
            if isinstance(expected, Wait):
                assert got == expected
        assert lim.state.observed == {k: Observed(o.requests, o.tokens) for k, o in pure.observed.items()}


async def test_limiter_waits_from_a_spent_window() -> None:
    """Sends counted against a reported window make the next caller wait once it is used up."""
    clock = FakeClock()
    lim = Limiter(clock=clock, sleep=clock.sleep)
    lim.observe("openai", "m", {"x-ratelimit-remaining-requests": "2", "x-ratelimit-reset-requests": "60s"})
    assert await lim.wait_turn("openai", "m", 1) is None
    assert await lim.wait_turn("openai", "m", 1) is None
    assert clock.slept == []
    assert await asyncio.wait_for(lim.wait_turn("openai", "m", 1), 5) is None
    assert clock.slept == [60.0]


async def test_a_fresher_report_ends_a_wait_early() -> None:
    """A caller waiting out a reset a minute away decides again when a reply reports the quota anew:
    a report that still shows nothing left keeps it waiting, one that shows room lets it go at once
    (real clock and sleep: without the wake it would sleep 60 s and the test would time out)."""
    lim = Limiter()
    empty = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "60s",
             "x-ratelimit-limit-requests": "10000"}
    lim.observe("openai", "m", {**empty, "x-ratelimit-limit-requests": "1"})  # no refill to speak of: a 60 s wait
    waiter = asyncio.ensure_future(lim.wait_turn("openai", "m", 1))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    lim.observe("openai", "other-model", empty)  # another model's report wakes it; it finds no room and waits again
    await asyncio.sleep(0.05)
    assert not waiter.done()
    lim.observe("openai", "m", {"x-ratelimit-remaining-requests": "9", "x-ratelimit-reset-requests": "6ms"})
    assert await asyncio.wait_for(waiter, 5) is None
    assert 0.05 < lim.waited < 5  # what it really waited, not the 60 s first computed
    assert lim._news is None or not lim._news[1].is_set()


async def test_a_cancelled_wait_leaves_no_task_behind() -> None:
    """Cancelling a caller mid-wait cancels its sleep and its wake-up watch with it."""
    lim = Limiter()
    lim.observe("openai", "m", {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "60s",
                                "x-ratelimit-limit-requests": "1"})
    before = asyncio.all_tasks()
    waiter = asyncio.ensure_future(lim.wait_turn("openai", "m", 1))
    await asyncio.sleep(0.02)
    assert len(asyncio.all_tasks() - before) == 3  # the caller, its sleep and its watch
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_a_clock_that_stands_still_cannot_stretch_max_wait() -> None:
    """Waits count as slept when the sleep runs out, whatever the clock says: with a clock that does not
    move while sleeping, the turns still add up and the caller is refused once ``max_wait`` would pass
    (counting by the clock alone would sleep forever)."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    lim = Limiter(clock=lambda: 1_000.0, sleep=sleep)
    lim.observe("openai", "m", {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "40s"})
    refused = await asyncio.wait_for(lim.wait_turn("openai", "m", 1, max_wait=100), 5)
    assert refused is not None and refused.code == "client_rate_limit"
    assert slept == [40.0, 40.0] and lim.waited == 80.0
