"""Overrides, Azure deployment names, provider-reported cost and the price cache."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from tokentrace.calls.records import Usage
from tokentrace.pricing import Cost, PriceBook, PriceOverride, RateTier

from ._helpers import PEAK, clock_at

D = Decimal
USAGE = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


def amount(book: PriceBook, provider: str, model: str, request_model: str | None = None) -> Decimal | None:
    cost = book.cost(provider, USAGE, model, request_model)
    return None if cost is None else cost.amount


def flat(model: str, price: str, provider: str | None = None) -> PriceOverride:
    """An override whose input and output both cost ``price`` per 1M tokens."""
    return PriceOverride(model, provider=provider, input=D(price), output=D(price))


def test_override_wins_over_genai_prices() -> None:
    book = PriceBook([flat("gpt-4.1", "1")], clock=clock_at(PEAK))
    assert amount(book, "openai", "gpt-4.1") == D(2)
    rates = book.rates("openai", "gpt-4.1")
    assert rates is not None
    assert (rates.source, rates.entry) == ("override:code", "gpt-4.1")


def test_exact_name_beats_pattern_whatever_the_order() -> None:
    book = PriceBook([flat("gpt-4.1", "1"), flat("gpt-4.1*", "5")], genai_prices=False)
    assert amount(book, "gw", "gpt-4.1") == D(2)
    assert amount(book, "gw", "gpt-4.1-mini") == D(10)
    book = PriceBook([flat("gpt-4.1*", "5"), flat("gpt-4.1", "1")], genai_prices=False)
    assert amount(book, "gw", "gpt-4.1") == D(2)


def test_provider_specific_beats_any_provider() -> None:
    book = PriceBook(
        [flat("gpt-4.1", "3", provider="gw.example.com"), flat("gpt-4.1", "1")], genai_prices=False
    )
    assert amount(book, "gw.example.com", "gpt-4.1") == D(6)
    assert amount(book, "GW.example.com", "GPT-4.1") == D(6)  # names compare case-insensitively
    assert amount(book, "openai", "gpt-4.1") == D(2)


def test_provider_pattern_sits_between_named_and_any_provider() -> None:
    overrides = [
        flat("m", "1"),
        flat("m", "3", provider="gw.example.com"),
        flat("m", "2", provider="*.example.com"),
    ]
    book = PriceBook(overrides, genai_prices=False)
    assert amount(book, "gw.example.com", "m") == D(6)
    assert amount(book, "other.example.com", "m") == D(4)
    assert amount(book, "elsewhere.org", "m") == D(2)


def test_exact_model_for_any_provider_beats_pattern_for_this_provider() -> None:
    book = PriceBook([flat("m", "1"), flat("m*", "3", provider="gw")], genai_prices=False)
    assert amount(book, "gw", "m") == D(2)


def test_later_override_wins_a_tie() -> None:
    book = PriceBook([flat("m", "1"), flat("m", "2")], genai_prices=False)
    assert amount(book, "gw", "m") == D(4)
    book.add([flat("m", "3")])
    assert amount(book, "gw", "m") == D(6)


def test_override_for_a_name_also_prices_its_dated_snapshots() -> None:
    book = PriceBook([flat("gpt-4.1", "5"), flat("claude-sonnet-4-5", "5")], clock=clock_at(PEAK))
    assert amount(book, "openai", "gpt-4.1-2025-04-14") == D(10)
    assert amount(book, "anthropic", "claude-sonnet-4-5-20250929") == D(10)
    assert amount(book, "gcp.vertex_ai", "claude-sonnet-4-5@20250929") == D(10)
    assert amount(book, "openai", "gpt-4.1-mini") == D(2)  # another model: its list price, $0.40 + $1.60


def test_override_for_the_requested_name_beats_list_price_of_the_returned_name() -> None:
    # A reseller prices "claude-sonnet-4.5"; its responses name Anthropic's dated model.
    book = PriceBook([flat("claude-sonnet-4.5", "1", provider="reseller.example")], clock=clock_at(PEAK))
    cost = book.cost("reseller.example", USAGE, "claude-sonnet-4-5-20250929", "claude-sonnet-4.5")
    assert cost is not None
    assert (cost.amount, cost.entry) == (D(2), "reseller.example/claude-sonnet-4.5")


def test_set_overrides_replaces_and_forgets_resolved_prices() -> None:
    book = PriceBook([flat("m", "1")], genai_prices=False)
    assert amount(book, "gw", "m") == D(2)
    book.set_overrides([flat("m", "7")])
    assert amount(book, "gw", "m") == D(14)
    book.set_overrides([])
    assert amount(book, "gw", "m") is None


def test_without_genai_prices_only_overrides_price() -> None:
    book = PriceBook([flat("m", "1")], genai_prices=False)
    assert amount(book, "openai", "gpt-4.1") is None


def test_override_tiers_and_cache_rates() -> None:
    override = PriceOverride(
        "big",
        input=D(1),
        output=D(2),
        cache_read=D("0.1"),
        tiers=(RateTier(above=1000, input=D(3), output=D(4), cache_read=D("0.3")),),
    )
    book = PriceBook([override], genai_prices=False)
    small = book.cost("gw", Usage(input_tokens=1000, output_tokens=10, cache_read_tokens=500), "big", None)
    large = book.cost("gw", Usage(input_tokens=1001, output_tokens=10, cache_read_tokens=500), "big", None)
    assert small is not None
    assert large is not None
    assert small.amount == D("0.0005") + D("0.00005") + D("0.00002")
    assert large.amount == D("0.001503") + D("0.00015") + D("0.00004")


def test_azure_deployment_is_priced_as_its_model() -> None:
    deployment = PriceOverride("prod-chat", provider="azure.ai.openai", deployment_of="gpt-4.1")
    book = PriceBook([deployment], clock=clock_at(PEAK))
    rates = book.rates("azure.ai.openai", "prod-chat")
    assert rates is not None
    assert (rates.input, rates.output, rates.entry) == (D(2), D(8), "openai/gpt-4.1")
    assert book.rates("openai", "prod-chat") is None  # the alias belongs to the Azure resource only


def test_deployment_uses_the_override_of_its_model() -> None:
    overrides = [flat("gpt-4.1", "1.5"), PriceOverride("prod-chat", deployment_of="gpt-4.1")]
    book = PriceBook(overrides, clock=clock_at(PEAK))
    assert amount(book, "azure.ai.openai", "prod-chat", "prod-chat") == D(3)


def test_deployment_loop_is_unpriced_not_a_hang() -> None:
    loop = [PriceOverride("a", deployment_of="b"), PriceOverride("b", deployment_of="a")]
    book = PriceBook(loop, genai_prices=False)
    assert book.rates("azure.ai.openai", "a") is None


def test_provider_reported_cost_wins_and_keeps_local_breakdown() -> None:
    book = PriceBook(clock=clock_at(PEAK))
    usage = Usage(input_tokens=1000, output_tokens=500, provider_cost=D("0.00612"))
    cost = book.cost("openrouter", usage, "openai/gpt-4.1", "openai/gpt-4.1")
    assert cost == Cost(
        amount=D("0.00612"),
        input=D("0.002"),
        output=D("0.004"),
        source="provider",
        entry="openrouter/openai/gpt-4.1",
    )


def test_provider_reported_cost_of_an_unpriced_model() -> None:
    usage = Usage(input_tokens=1000, output_tokens=500, provider_cost=D("0.01"))
    cost = PriceBook(genai_prices=False).cost("openrouter", usage, "house/model", None)
    assert cost == Cost(amount=D("0.01"), source="provider")


def test_call_without_token_counts_has_unknown_cost() -> None:
    book = PriceBook([flat("m", "1")], genai_prices=False)
    assert book.cost("gw", Usage(), "m", None) is None
    assert book.cost("gw", Usage(), None, None) is None


def test_cache_is_bounded() -> None:
    book = PriceBook([flat("m*", "1")], genai_prices=False, max_entries=3)
    for number in range(10):
        assert amount(book, "gw", f"m{number}") == D(2)
    assert len(book._cache) <= 3


def test_concurrent_pricing_while_overrides_change() -> None:
    book = PriceBook([flat("m", "1")], genai_prices=False)
    errors: list[BaseException] = []

    def price() -> None:
        try:
            for _ in range(2000):
                result = amount(book, "gw", "m")
                assert result in (D(2), D(4))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=price) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(50):
        book.set_overrides([flat("m", "2")])
        book.set_overrides([flat("m", "1")])
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"input": D(1)}, "needs both an input and an output"),
        ({"input": D(-1), "output": D(1)}, "cannot be negative"),
        ({"input": "cheap", "output": D(1)}, "expected a number"),
        ({"input": D(1), "output": D(1), "deployment_of": "x"}, "give prices on that model"),
        ({"input": D(1), "output": D(1), "date": "someday"}, "YYYY-MM-DD"),
    ],
)
def test_invalid_override_in_code_says_why(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PriceOverride("m", **kwargs)  # type: ignore[arg-type]


def test_override_accepts_plain_numbers_exactly() -> None:
    override = PriceOverride("m", input=0.1, output="0.42", cache_read=2)  # type: ignore[arg-type]
    assert (override.input, override.output, override.cache_read) == (D("0.1"), D("0.42"), D(2))


def test_unknown_host_prices_a_first_party_model_its_maker_lists() -> None:
    """genai-prices cannot guess a provider for ``text-embedding-3-small``; its maker's list price applies."""
    from decimal import Decimal

    from tokentrace.calls.records import Usage
    from tokentrace.pricing import PriceBook

    cost = PriceBook().cost(
        "llm-gateway.internal", Usage(input_tokens=1_000_000), "text-embedding-3-small", None
    )
    assert cost is not None
    assert cost.amount == Decimal("0.02")
    assert cost.entry == "openai/text-embedding-3-small"
