"""The seed article's reseller price table, as examples/prices-seed.toml, prices calls as the article does."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tokentrace.calls.records import Usage
from tokentrace.pricing import PriceBook, load_price_file

SEED = Path(__file__).resolve().parents[2] / "examples" / "prices-seed.toml"
RESELLER = "gateway.example.com"

# The batch analyzer's price table from the article, USD per 1M tokens, as written there.
ARTICLE_PRICING = {
    "gpt-4.1": {"input": 2.50, "output": 8.00},
    "claude-sonnet-4.5": {"input": 3.00, "output": 15.00},
    "gemini-2.5-flash": {"input": 0.30, "output": 2.50},
    "deepseek-v3.2": {"input": 0.10, "output": 0.42},
}


def article_cost(model: str, input_tokens: int, output_tokens: int) -> float:
    """The article's BatchTokenAnalyzer.add_usage formula, verbatim in substance."""
    pricing = ARTICLE_PRICING.get(model, {"input": 0, "output": 0})
    return input_tokens / 1_000_000 * pricing["input"] + output_tokens / 1_000_000 * pricing["output"]


def exact_article_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """The same formula in exact decimals (the article's floats carry binary rounding noise)."""
    pricing = ARTICLE_PRICING[model]
    million = Decimal(1_000_000)
    return input_tokens / million * Decimal(repr(pricing["input"])) + output_tokens / million * Decimal(
        repr(pricing["output"])
    )


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook(load_price_file(SEED))


@pytest.mark.parametrize("model", ["deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1"])
def test_demo_batch_costs_what_the_article_computes(book: PriceBook, model: str) -> None:
    # The article's demo: 1,000 input + 500 output tokens on each of these three models.
    cost = book.cost(RESELLER, Usage(input_tokens=1000, output_tokens=500), model, model)
    assert cost is not None
    assert cost.amount == exact_article_cost(model, 1000, 500)
    assert float(cost.amount) == pytest.approx(article_cost(model, 1000, 500), rel=1e-12, abs=0)
    assert cost.source == "local"
    assert cost.entry == f"{RESELLER}/{model}"


def test_demo_batch_literal_amounts(book: PriceBook) -> None:
    usage = Usage(input_tokens=1000, output_tokens=500)
    amounts = {
        model: book.cost(RESELLER, usage, model, model)
        for model in ("deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1")
    }
    assert {model: cost.amount for model, cost in amounts.items() if cost} == {
        "deepseek-v3.2": Decimal("0.00031"),
        "gemini-2.5-flash": Decimal("0.00155"),
        "gpt-4.1": Decimal("0.0065"),
    }


def test_seed_file_states_the_article_table(book: PriceBook) -> None:
    for model, prices in ARTICLE_PRICING.items():
        rates = book.rates(RESELLER, model)
        assert rates is not None
        assert (rates.input, rates.output) == (
            Decimal(repr(prices["input"])),
            Decimal(repr(prices["output"])),
        )
        assert rates.source == f"override:{SEED}"


def test_reseller_prices_do_not_leak_to_direct_calls(book: PriceBook) -> None:
    direct = book.rates("openai", "gpt-4.1")
    assert direct is not None
    assert (direct.input, direct.source) == (Decimal(2), "genai-prices")
