"""Cost arithmetic never raises, its parts add up, and more tokens never cost less."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrace.calls.records import Usage
from tokentrace.pricing import PriceBook, PriceOverride, Rates, RateTier

counts = st.one_of(st.none(), st.integers(min_value=-10, max_value=10**10))
prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)
optional_prices = st.one_of(st.none(), prices)
extra = st.integers(min_value=0, max_value=10**7)


@st.composite
def rising_rates(draw: st.DrawFn) -> Rates:
    """Rates whose tiers never get cheaper, as every real price table's tiers do."""
    base = [draw(prices) for _ in range(5)]
    tiers = []
    current = list(base)
    for above in sorted(draw(st.sets(st.integers(min_value=0, max_value=10**7), max_size=3))):
        current = [value + draw(prices) for value in current]
        tiers.append(RateTier(above, *current))
    input, output, cache_read, cache_write, reasoning = base
    return Rates(input, output, cache_read, cache_write, reasoning, tiers=tuple(tiers), request=draw(prices))


usages = st.builds(
    Usage,
    input_tokens=counts,
    output_tokens=counts,
    cache_read_tokens=counts,
    cache_write_tokens=counts,
    reasoning_tokens=counts,
)


@given(rising_rates(), usages)
def test_cost_never_raises_and_parts_add_up(rates: Rates, usage: Usage) -> None:
    cost = rates.cost(usage)
    parts = (cost.input, cost.output, cost.cache_read, cost.cache_write, cost.reasoning, cost.request)
    assert all(part >= 0 for part in parts)
    assert cost.amount == sum(parts, Decimal(0))


@st.composite
def consistent_usage(draw: st.DrawFn) -> Usage:
    cache_read = draw(st.integers(min_value=0, max_value=10**8))
    cache_write = draw(st.integers(min_value=0, max_value=10**8))
    reasoning = draw(st.integers(min_value=0, max_value=10**8))
    return Usage(
        input_tokens=cache_read + cache_write + draw(st.integers(min_value=0, max_value=10**8)),
        output_tokens=reasoning + draw(st.integers(min_value=0, max_value=10**8)),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


def grown(
    usage: Usage, *, input: int = 0, output: int = 0, read: int = 0, write: int = 0, reasoning: int = 0
) -> Usage:
    return Usage(
        input_tokens=(usage.input_tokens or 0) + input,
        output_tokens=(usage.output_tokens or 0) + output,
        cache_read_tokens=(usage.cache_read_tokens or 0) + read,
        cache_write_tokens=(usage.cache_write_tokens or 0) + write,
        reasoning_tokens=(usage.reasoning_tokens or 0) + reasoning,
    )


@given(rising_rates(), consistent_usage(), extra)
def test_more_tokens_never_cost_less(rates: Rates, usage: Usage, more: int) -> None:
    before = rates.cost(usage).amount
    assert rates.cost(grown(usage, input=more)).amount >= before
    assert rates.cost(grown(usage, output=more)).amount >= before
    # Cached and reasoning tokens are part of input and output: adding some adds to both counts.
    assert rates.cost(grown(usage, input=more, read=more)).amount >= before
    assert rates.cost(grown(usage, input=more, write=more)).amount >= before
    assert rates.cost(grown(usage, output=more, reasoning=more)).amount >= before


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=30)), st.text(max_size=40), st.text(max_size=40), usages)
def test_price_book_never_raises_for_odd_names(
    provider: str | None, response_model: str, request_model: str, usage: Usage
) -> None:
    book = PriceBook(
        [PriceOverride("m*", input=Decimal(1), output=Decimal(2)), PriceOverride("x", deployment_of="x")]
    )
    cost = book.cost(provider, usage, response_model, request_model)
    assert cost is None or cost.amount >= 0
