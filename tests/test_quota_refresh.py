"""``Limits.quota_refresh``: a 2xx reply that comes within the refresh interval of the last quota
reading is not read again while that reading (and the record after this client's own sends since) is
roomy; every other reply is read. The limiter then behaves exactly as one that reads every reply and
simply never saw the skipped ones (the property below), and the replies that matter are never skipped:
a 429, a nearly used-up window, a caller waiting for a turn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Success

from interlingua.core import Headers
from interlingua.core.budget import Limits
from interlingua.core.ratelimit import Granted, Wait, read_quota, roomy
from interlingua.effects import Client
from interlingua.effects import ratelimit as effects_ratelimit
from interlingua.effects.ratelimit import Limiter
from interlingua.fakes import FakeServer

from .helpers import config_for
from .test_ratelimit import FakeClock

P, M = "openai", "gpt-4o-mini"


def _quota(rem_r: int | None, rem_t: int | None = None, *, limit: int | None = 100, reset: str = "30s") -> Headers:
    """OpenAI's rate-limit headers for a requests window (and a tokens window), each of ``limit``."""
    h = {"content-type": "application/json"}
    for kind, rem in (("requests", rem_r), ("tokens", rem_t)):
        if rem is not None:
            h[f"x-ratelimit-remaining-{kind}"] = str(rem)
            h[f"x-ratelimit-reset-{kind}"] = reset
            if limit is not None:
                h[f"x-ratelimit-limit-{kind}"] = str(limit)
    return Headers(h)


def _left(lim: Limiter) -> float | None:
    """What the requests window of (P, M) has left, as the limiter holds it."""
    seen = lim.state.observed.get((P, M))
    return None if seen is None or seen.requests is None else seen.requests.remaining


def test_a_roomy_report_is_not_read_again_within_the_refresh() -> None:
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, _quota(90))
    lim.observe(P, M, _quota(1))  # 10 ms later another client spent nearly all of it: not read yet
    assert _left(lim) == 90
    clock.now += 0.06  # past the refresh: read
    lim.observe(P, M, _quota(1))
    assert _left(lim) == 1
    lim.observe(P, M, _quota(90))  # a nearly used-up window: the next reply is read at once
    assert _left(lim) == 90


def test_a_reply_that_is_not_2xx_is_always_read() -> None:
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, _quota(90))
    lim.observe(P, M, _quota(0), status=429)
    assert _left(lim) == 0
    assert isinstance(lim.decide(P, M, 1), Wait)


def test_own_sends_that_leave_a_window_nearly_used_up_end_the_quiet() -> None:
    """The record is spent in place by ``decide``: once this client's own sends take a window to a fifth
    of its limit, the next reply is read, however soon it comes."""
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, _quota(25))
    lim.observe(P, M, _quota(24))
    assert _left(lim) == 25  # roomy (25 > 20): not read
    for _ in range(5):
        assert isinstance(lim.decide(P, M, 1), Granted)
    assert _left(lim) == 20
    lim.observe(P, M, _quota(19))
    assert _left(lim) == 19


def test_a_window_without_a_limit_is_read_on_every_reply() -> None:
    """No limit, no fraction to judge the room by: such a report is never taken as roomy."""
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, _quota(90, limit=None))
    lim.observe(P, M, _quota(80, limit=None))
    assert _left(lim) == 80


def test_a_reply_without_quota_is_not_looked_at_again_within_the_refresh() -> None:
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, Headers({"content-type": "application/json"}))
    lim.observe(P, M, _quota(90))
    assert _left(lim) is None
    clock.now += 0.06
    lim.observe(P, M, _quota(90))
    assert _left(lim) == 90


def test_callers_waiting_for_a_turn_make_every_reply_count() -> None:
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, _quota(90))
    event = asyncio.Event()
    lim._news = (None, event)  # type: ignore[assignment]  # what a waiter's ``_nap`` leaves for ``observe``
    lim.observe(P, M, _quota(70))
    assert _left(lim) == 70 and event.is_set() and lim._news is None


@pytest.mark.parametrize("refresh", [0.0, -1.0, float("nan")])
def test_no_refresh_reads_every_reply(refresh: float) -> None:
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=refresh)
    for left in (90, 80, 70):
        lim.observe(P, M, _quota(left))
        assert _left(lim) == left
    assert lim.quota_refresh == 0.0


def test_a_wall_clock_stepped_back_ends_the_quiet() -> None:
    """The interval is measured from the reading on the wall clock: stepped back, it does not stretch."""
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=0.05)
    lim.observe(P, M, _quota(90))
    clock.now -= 3600.0
    lim.observe(P, M, _quota(80))
    assert _left(lim) == 80


def test_a_reply_that_is_not_2xx_is_read_whatever_its_status() -> None:
    for status in (101, 304, 400, 404, 429, 500, 529):
        clock = FakeClock()
        lim = Limiter(clock=clock, quota_refresh=0.05)
        lim.observe(P, M, _quota(90))
        lim.observe(P, M, _quota(80), status=status)
        assert _left(lim) == 80, status


def test_the_refresh_is_capped_at_a_second() -> None:
    assert Limiter(quota_refresh=float("inf")).quota_refresh == Limiter(quota_refresh=30).quota_refresh == 1.0


# -- the property: skipping is exactly the documented rule, and nothing else changes ---------------------

_RESETS = st.sampled_from(["1ms", "20ms", "1s", "30s"])
_LEFT = st.sampled_from([None, 0, 5, 20, 21, 60, 100])


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 30))):
        what = draw(st.sampled_from(["time", "reply", "reply", "send"]))
        if what == "time":
            steps.append(("time", draw(st.sampled_from([0.001, 0.01, 0.03, 0.05, 0.2, 2.0, -0.02, -5.0]))))
        elif what == "reply":
            headers = _quota(draw(_LEFT), draw(_LEFT), limit=draw(st.sampled_from([100, 100, None])), reset=draw(_RESETS))
            steps.append(("reply", headers, draw(st.sampled_from([200, 200, 200, 204, 304, 429, 500])), draw(st.booleans())))
        else:
            steps.append(("send", draw(st.sampled_from([1, 10, 30]))))
    return steps


@settings(max_examples=400, deadline=None)
@given(steps=_steps(), refresh=st.sampled_from([0.0, 0.05, 1.0]))
def test_a_refreshing_limiter_is_an_every_reply_limiter_that_missed_the_skipped_replies(
    steps: list[tuple[Any, ...]], refresh: float
) -> None:
    """Fed the same steps, a limiter with ``quota_refresh`` holds the same windows and makes the same
    decisions as one that reads every reply but is shown only the replies the documented rule reads:
    a 2xx reply, with no caller waiting, within the refresh of the last reading that found every window
    roomy (or none), while the record is still roomy after this client's own sends."""
    clock = FakeClock()
    lim = Limiter(clock=clock, quota_refresh=refresh)
    every = Limiter(clock=clock, quota_refresh=0.0)
    last_read: float | None = None
    quiet = False  # the last reading found every window roomy, or no quota
    for step in steps:
        now = clock.now
        if step[0] == "time":
            clock.now += step[1]
        elif step[0] == "send":
            assert lim.decide(P, M, step[1]) == every.decide(P, M, step[1])
        else:
            _, headers, status, waiting = step
            rec = every._observed.get((P, M))
            skip = (refresh > 0 and 200 <= status < 300 and not waiting and quiet and last_read is not None
                    and 0.0 <= now - last_read < refresh and (rec is None or roomy(rec, now)))
            if waiting:
                lim._news = (None, asyncio.Event())  # type: ignore[assignment]
            lim.observe(P, M, headers, status)
            lim._news = None
            if not skip:
                every.observe(P, M, headers, status)
                read = read_quota(headers, now)
                last_read, quiet = now, read is None or roomy(read[0], now)
        assert lim.state == every.state


# -- through the client, against the fake ----------------------------------------------------------------


async def test_quick_replies_through_the_client_are_read_once_per_refresh(fake: FakeServer, monkeypatch: Any) -> None:
    """Back-to-back calls to the fake (its quota is roomy) read its headers once per refresh interval; a
    429 among them is read at once, and so is the reply after its nearly used-up report."""
    reads: list[int] = []
    real = effects_ratelimit.read_quota

    def spy(headers: Any, now: float) -> Any:
        reads.append(1)
        return real(headers, now)

    monkeypatch.setattr(effects_ratelimit, "read_quota", spy)
    cfg = config_for(fake, retry_enabled=False, limits=Limits(quota_refresh=1.0))
    async with Client(cfg) as client:
        for _ in range(10):
            assert isinstance(await client.chat(f"{P}:{M}", "hi"), Success)
        assert len(reads) == 1  # ten replies well within a second of the first, every one roomy
        fake.fail_next(P, "429")
        r = await client.chat(f"{P}:{M}", "hi", deadline=0.5)
        assert r.failure().status == 429 and len(reads) == 2
        # the 429 reported no requests left: the reply after it is read too (the window is nearly used up)
        seen = client._guard.limiter.state.observed[(P, M)].requests
        assert seen is not None and seen.remaining == 0
        assert isinstance(await client.chat(f"{P}:{M}", "hi"), Success)
        assert len(reads) == 3
