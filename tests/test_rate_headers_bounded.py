"""Rate-limit and Retry-After headers cannot stall the client: implausible values are ignored (issue 17)."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from returns.result import Success

from interlingua.core import DIALECTS, ErrorKind, HttpResponse
from interlingua.core.budget import Limits
from interlingua.core.errors import parse_retry_after
from interlingua.core.ratelimit import parse_rate_headers
from interlingua.effects import Client, LlmConfig
from interlingua.effects.budget import Guard
from interlingua.effects.ratelimit import Limiter

from .helpers import one_route
from .test_ratelimit import FakeClock

HOSTILE_DURATIONS = ["inf", "1e309", "100000h", "9" * 400 + "s", "25h", "nan"]
HOSTILE_DATES = ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "2100-01-01T00:00:00Z", "soon"]


@pytest.mark.parametrize("reset", HOSTILE_DURATIONS)
def test_openai_reset_not_believable_is_ignored(reset: str) -> None:
    """A reset duration that is unreadable, infinite or over a day gives no window, and is named."""
    seen = parse_rate_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": reset}, 0.0)
    assert seen is not None and seen.requests is None and seen.ignored == ("x-ratelimit-reset-requests",)


@pytest.mark.parametrize("reset", HOSTILE_DATES)
def test_anthropic_reset_not_believable_is_ignored(reset: str) -> None:
    """An RFC 3339 reset in the year 9999 (or unreadable, or over a day away) gives no window."""
    h = {"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": reset}
    seen = parse_rate_headers(h, 1_700_000_000.0)
    assert seen is not None and seen.tokens is None and seen.ignored == ("anthropic-ratelimit-tokens-reset",)


def test_a_day_is_still_believed() -> None:
    """The bound is a day: a reset 23 h away is kept."""
    seen = parse_rate_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "23h"}, 0.0)
    assert seen is not None and seen.requests is not None and seen.requests.reset_at == 23 * 3600


@pytest.mark.parametrize(
    "headers",
    [{"retry-after-ms": "inf"}, {"retry-after-ms": "1e309"}, {"retry-after-ms": "nan"}, {"retry-after": "inf"},
     {"retry-after": "-1"}, {"retry-after": "100000"},
     {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT", "date": "Wed, 21 Oct 2015 07:28:00 GMT"}],
)
def test_retry_after_not_believable_is_none(headers: dict[str, str]) -> None:
    """No error ever carries retry_after=inf (or more than a day, or negative)."""
    assert parse_retry_after(headers, received_at=0.0) is None
    err = DIALECTS["openai"].decode_error(HttpResponse(429, headers=headers, body=b"{}"))
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after is None


async def test_limiter_does_not_sleep_on_an_infinite_reset(caplog: pytest.LogCaptureFixture) -> None:
    """After 'remaining 0, reset inf' the next turn is granted at once; the refusal is logged once, at debug."""
    clock = FakeClock()
    lim = Limiter(clock=clock, sleep=clock.sleep)
    hostile = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "100000h"}
    with caplog.at_level(logging.DEBUG, logger="interlingua.ratelimit"):
        for _ in range(3):
            lim.observe("openai", "gpt-4o", hostile)
            assert await lim.wait_turn("openai", "gpt-4o", 1) is None
    assert clock.slept == []
    logged = [r for r in caplog.records if "x-ratelimit-reset-requests" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.DEBUG


async def test_client_after_a_hostile_429_is_not_stalled() -> None:
    """Over loopback: a 429 saying 0 left until year 9999 (and retry-after-ms inf) does not make the next call sleep."""
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.json_response(
                {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                status=429,
                headers={"retry-after-ms": "inf", "x-ratelimit-remaining-requests": "0",
                         "x-ratelimit-reset-requests": "100000h", "x-ratelimit-remaining-tokens": "0",
                         "x-ratelimit-reset-tokens": "1e309s"},
            )
        return web.json_response({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    clock = FakeClock()
    async with one_route("/v1/chat/completions", handler) as root:
        cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=root + "/v1", api_key="sk-test-000000000000")
        async with Client(cfg) as client:
            client._guard = Guard(Limits(), clock=clock, sleep=clock.sleep)
            first = await client.chat("openai:gpt-4o-mini", "hi")
            second = await client.chat("openai:gpt-4o-mini", "hi")
    err = first.failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after is None
    assert isinstance(second, Success) and clock.slept == []
