"""Cost: exact Decimal arithmetic over usage and catalog prices, and the client's running total."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import ModelInfo, Usage
from interlingua.core.catalog import default_catalog

PRICED = ModelInfo(id="m", provider="p", input_price=Decimal("3"), output_price=Decimal("15"),
                   cached_input_price=Decimal("0.30"), cache_write_price=Decimal("3.75"))


def test_each_token_class_at_its_price() -> None:
    """Uncached input, cache reads, cache writes and output (incl. reasoning) each at their own price."""
    u = Usage(prompt_tokens=10_000, cached_tokens=4_000, cache_write_tokens=1_000, completion_tokens=2_000, reasoning_tokens=1_500)
    expected = (5_000 * Decimal("3") + 4_000 * Decimal("0.30") + 1_000 * Decimal("3.75") + 2_000 * Decimal("15")) / 1_000_000
    assert u.calculate_cost(PRICED) == expected == Decimal("0.04995")


def test_missing_cache_prices_fall_back_to_input_and_unknown_is_none() -> None:
    """Without cache prices cached tokens cost the input price; without prices the cost is unknown."""
    plain = ModelInfo(id="m", provider="p", input_price=Decimal("1"), output_price=Decimal("2"))
    assert Usage(prompt_tokens=1_000_000, cached_tokens=500_000).calculate_cost(plain) == Decimal(1)
    assert Usage(prompt_tokens=10).calculate_cost(ModelInfo(id="x", provider="p")) is None
    assert Usage().calculate_cost(plain) == 0


def test_catalog_prices_give_published_figures() -> None:
    """1M input + 1M output tokens of gpt-4o-mini cost exactly $0.15 + $0.60."""
    info = default_catalog().lookup("openai", "gpt-4o-mini")
    assert info is not None
    assert Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000).calculate_cost(info) == Decimal("0.75")


_usage = st.builds(
    lambda p, c, cached, write: Usage(prompt_tokens=p + cached + write, cached_tokens=cached, cache_write_tokens=write, completion_tokens=c),
    st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**5), st.integers(0, 10**5),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_usage, max_size=50))
def test_cost_is_additive_and_exact(usages: list[Usage]) -> None:
    """The sum of per-call costs equals the cost of the summed usage, to the last digit."""
    total = sum((u.calculate_cost(PRICED) for u in usages), Decimal(0))
    summed = sum(usages, Usage())
    assert total == summed.calculate_cost(PRICED)


def test_no_drift_over_a_million_calls() -> None:
    """A million one-token calls at $0.075/1M sum to exactly $0.075 (floats would drift)."""
    info = ModelInfo(id="m", provider="p", input_price=Decimal("0.075"), output_price=Decimal("0"))
    one = Usage(prompt_tokens=1).calculate_cost(info)
    assert one is not None
    total = Decimal(0)
    for _ in range(1_000_000):
        total += one
    assert total == Decimal("0.075")


async def test_client_keeps_a_running_total(client: Any) -> None:
    """client.total_cost is the exact sum of each response's usage at catalog prices."""
    info = default_catalog().lookup("openai", "gpt-4o-mini")
    assert info is not None
    expected = Decimal(0)
    for prompt in ("one", "two please", "three little words"):
        r = (await client.chat("openai:gpt-4o-mini", prompt)).unwrap()
        expected += r.usage.calculate_cost(info)
    async for _ in client.stream("openai:gpt-4o-mini", "and a stream"):
        pass
    assert client.total_cost > expected > 0
