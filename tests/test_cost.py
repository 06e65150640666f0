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


_price = st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-10**6, 10**6), st.integers(-9, 3))
_maybe_price = st.none() | _price


@settings(max_examples=300, deadline=None)
@given(_price, _price, _maybe_price, _maybe_price, _maybe_price,
       st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**8), st.integers(0, 10**8), st.integers(0, 10**8))
def test_integer_pricing_is_the_decimal_arithmetic(
    inp: Decimal, out: Decimal, cached: Decimal | None, write: Decimal | None, write_1h: Decimal | None,
    prompt: int, completion: int, cached_n: int, write_n: int, long_n: int,
) -> None:
    """The per-reply cost and the worst case, worked out over integers (issue 19), are the very Decimal
    the Decimal products give: the same value and the same exponent (so the same ``str``, but for the
    sign of a zero), for any finite prices, negative and integral ones included."""
    from interlingua.core.budget import _decimal_worst_case, worst_case_cost
    from interlingua.core.schema import _decimal_cost

    info = ModelInfo(id="m", provider="p", input_price=inp, output_price=out, cached_input_price=cached,
                     cache_write_price=write, cache_write_1h_price=write_1h)
    u = Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached_n,
              cache_write_tokens=write_n, cache_write_1h_tokens=long_n)
    fast, slow = u.calculate_cost(info), _decimal_cost(u, info)
    assert fast is not None and slow is not None
    assert fast == slow and fast.as_tuple().exponent == slow.as_tuple().exponent
    worst, reference = worst_case_cost(info, prompt, completion), _decimal_worst_case(info, prompt, completion)
    assert worst is not None and reference is not None
    assert worst == reference and worst.as_tuple().exponent == reference.as_tuple().exponent  # a zero's sign aside


def test_a_price_that_is_not_a_number_is_left_to_decimal_arithmetic() -> None:
    """A custom catalog's infinite price takes the Decimal route, as before the integer tables: a
    finite product is infinite, and infinity times no tokens is Decimal's own InvalidOperation."""
    import decimal

    import pytest

    info = ModelInfo(id="m", provider="p", input_price=Decimal(1), output_price=Decimal("Infinity"))
    assert Usage(prompt_tokens=1, completion_tokens=1).calculate_cost(info) == Decimal("Infinity")
    with pytest.raises(decimal.InvalidOperation):
        Usage(prompt_tokens=1).calculate_cost(info)  # 0 completion tokens x infinity
    assert Usage(prompt_tokens=1).calculate_cost(ModelInfo(id="m", provider="p", output_price=Decimal(1))) is None
