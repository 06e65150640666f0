"""Per-model limiter and breaker state stays bounded (an LRU) and each call touches O(1) of it,
however many distinct model strings a client sees."""

from __future__ import annotations

import time

from returns.result import Success

from interlingua.core import ErrorKind, Headers, HttpRequest, HttpResponse, LlmError
from interlingua.core.breaker import BreakerPolicy, Phase, Signal
from interlingua.effects import Client, LlmConfig, Timeouts
from interlingua.effects.breakers import REJECTED, Breakers
from interlingua.effects.ratelimit import Limiter

BODY = (b'{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}')
# OpenAI's rate-limit headers, as every reply carries them
RATE = Headers({"x-ratelimit-remaining-requests": "99", "x-ratelimit-limit-requests": "100",
                "x-ratelimit-reset-requests": "1s"})


class _Canned:
    """A transport answering every request at once (no sockets: thousands of calls stay cheap)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status

    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Success[HttpResponse]:
        return Success(HttpResponse(self.status, RATE, BODY if self.status == 200 else b'{"error":{"message":"x"}}', time.time()))

    async def close(self) -> None:
        pass


def test_limiter_keeps_the_most_recent_keys() -> None:
    """Observed windows beyond max_keys evict the least recently used; a recent key survives."""
    lim = Limiter(max_keys=100)
    for i in range(1000):
        lim.observe("openai", f"m{i}", RATE)
        lim.observe("openai", "hot", RATE)
    assert len(lim.state.observed) == 100
    assert ("openai", "hot") in lim.state.observed and ("openai", "m0") not in lim.state.observed


def test_breakers_keep_the_most_recent_keys() -> None:
    """Breaker states beyond max_keys are forgotten oldest first; an open circuit still refuses."""
    b = Breakers(BreakerPolicy(threshold=1, cooldown=30), max_keys=50)
    changes: list[tuple[str, Phase, Phase]] = []
    on_change = lambda k, o, n: changes.append((k, o, n))  # noqa: E731
    for i in range(500):
        g = b.admit(f"openai:m{i}", 0.0, on_change)
        b.report(f"openai:m{i}", g, Signal.SUCCESS, 0.0, on_change)
    g = b.admit("openai:bad", 0.0, on_change)
    b.report("openai:bad", g, Signal.FAILURE, 0.0, on_change)
    assert len(b) <= 50 and b.get("openai:bad").phase is Phase.OPEN
    assert b.admit("openai:bad", 1.0, on_change) == REJECTED
    assert changes == [("openai:bad", Phase.CLOSED, Phase.OPEN)]


async def test_a_client_seeing_many_models_holds_bounded_state() -> None:
    """5,000 distinct models through one client: limiter and breaker state stop at their bound."""
    cfg = LlmConfig(circuit_breaker_per_model=True).with_provider("openai", api_key="sk-x")
    async with Client(cfg, transport=_Canned()) as client:  # type: ignore[arg-type]
        for i in range(5000):
            r = await client.chat(f"openai:gpt-4o-{i}", "hi")
            assert r.unwrap().text == "hi"
        assert len(client._guard.limiter.state.observed) == 4096
        assert len(client._guard.limiter._quiet) <= 4096  # when each key's quota is read next: bounded too
        assert len(client._breakers) <= 4096


async def test_count_tokens_failures_are_redacted_like_chat() -> None:
    """A count-tokens error echoing the key comes back with the key masked, as a chat error would."""
    key = "sk-ant-COUNT-SECRET-0123456789"

    class Echo:
        async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Success[HttpResponse]:
            body = b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key: ' + key.encode() + b'"}}'
            return Success(HttpResponse(401, Headers({"content-type": "application/json"}), body, time.time()))

        async def close(self) -> None:
            pass

    cfg = LlmConfig().with_provider("anthropic", api_key=key)
    async with Client(cfg, transport=Echo()) as client:  # type: ignore[arg-type]
        err: LlmError = (await client.count_tokens("anthropic:claude-haiku-4-5", "hi")).failure()
    assert err.kind is ErrorKind.AUTHENTICATION and err.status == 401 and err.provider == "anthropic"
    assert key not in err.message and key not in (err.raw or "") and key[-6:] not in repr(err)
