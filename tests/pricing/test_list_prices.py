"""What a user sees for public models: list prices from genai-prices, cache and reasoning, tiers."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import pytest

from tokentrace.calls.records import Usage
from tokentrace.pricing import PriceBook, Rates

from ._helpers import OFF_PEAK, PEAK, clock_at

D = Decimal


@pytest.fixture
def book() -> PriceBook:
    return PriceBook(clock=clock_at(PEAK))


@pytest.mark.parametrize(
    ("provider", "model", "entry", "input", "output", "cache_read", "cache_write"),
    [
        ("openai", "gpt-4.1", "openai/gpt-4.1", "2", "8", "0.5", None),
        ("openai", "gpt-4o-mini", "openai/gpt-4o-mini", "0.15", "0.6", "0.075", None),
        ("openai", "o3", "openai/o3", "2", "8", "0.5", None),
        ("openai", "o4-mini", "openai/o4-mini", "1.1", "4.4", "0.275", None),
        ("anthropic", "claude-sonnet-4.5", "anthropic/claude-sonnet-4-5", "3", "15", "0.3", "3.75"),
        ("gcp.gemini", "gemini-2.5-flash", "google/gemini-2.5-flash", "0.3", "2.5", "0.03", None),
        ("gcp.gemini", "gemini-2.5-pro", "google/gemini-2.5-pro", "1.25", "10", "0.125", None),
        ("deepseek", "deepseek-chat", "deepseek/deepseek-chat", "0.27", "1.1", "0.07", None),
    ],
)
def test_list_prices_per_million_tokens(
    book: PriceBook,
    provider: str,
    model: str,
    entry: str,
    input: str,
    output: str,
    cache_read: str,
    cache_write: str | None,
) -> None:
    rates = book.rates(provider, model)
    assert rates is not None
    assert (rates.input, rates.output, rates.cache_read) == (D(input), D(output), D(cache_read))
    assert rates.cache_write == (D(cache_write) if cache_write else None)
    assert rates.source == "genai-prices"
    assert rates.entry == entry


def test_gpt_4_1_costs_two_dollars_in_and_eight_out_per_million(book: PriceBook) -> None:
    cost = book.cost("openai", Usage(input_tokens=1_000_000, output_tokens=1_000_000), "gpt-4.1", None)
    assert cost is not None
    assert (cost.amount, cost.input, cost.output) == (D(10), D(2), D(8))
    assert (cost.source, cost.entry) == ("local", "openai/gpt-4.1")


def test_dated_response_model_is_priced_like_its_family(book: PriceBook) -> None:
    usage = Usage(input_tokens=1000, output_tokens=500)
    cost = book.cost("openai", usage, "gpt-4.1-2025-04-14", "gpt-4.1")
    assert cost is not None
    assert cost.amount == D("0.006")


def test_cached_input_is_billed_at_the_cache_read_rate(book: PriceBook) -> None:
    usage = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=400)
    cost = book.cost("openai", usage, "gpt-4.1", None)
    assert cost is not None
    assert cost.input == D("0.0012")  # 600 uncached at $2/M
    assert cost.cache_read == D("0.0002")  # 400 cached at $0.50/M
    assert cost.output == D("0.004")
    assert cost.amount == D("0.0054")


def test_anthropic_cache_reads_and_writes(book: PriceBook) -> None:
    usage = Usage(input_tokens=10_000, output_tokens=1000, cache_read_tokens=6000, cache_write_tokens=2000)
    cost = book.cost("anthropic", usage, "claude-sonnet-4-5-20250929", "claude-sonnet-4.5")
    assert cost is not None
    assert cost.input == D("0.006")  # 2,000 uncached at $3/M
    assert cost.cache_read == D("0.0018")  # 6,000 at $0.30/M
    assert cost.cache_write == D("0.0075")  # 2,000 at $3.75/M
    assert cost.output == D("0.015")
    assert cost.amount == D("0.0303")


def test_reasoning_tokens_are_part_of_output_and_shown_apart(book: PriceBook) -> None:
    usage = Usage(input_tokens=100, output_tokens=1000, reasoning_tokens=800)
    cost = book.cost("openai", usage, "o4-mini", None)
    assert cost is not None
    assert cost.output == D("0.00088")  # 200 visible tokens at $4.40/M
    assert cost.reasoning == D("0.00352")  # 800 reasoning tokens, billed as output
    assert cost.output + cost.reasoning == D("0.0044")
    assert cost.amount == D("0.00011") + D("0.0044")


def test_o3_price_cut_applies_from_its_date() -> None:
    before = PriceBook(clock=clock_at("2025-05-01T12:00:00+00:00")).rates("openai", "o3")
    after = PriceBook(clock=clock_at(PEAK)).rates("openai", "o3")
    assert before is not None
    assert after is not None
    assert (before.input, before.output, before.date) == (D(10), D(40), None)
    assert (after.input, after.output, after.date) == (D(2), D(8), "2025-06-10")


@pytest.mark.parametrize(
    ("input_tokens", "expected"),
    [
        (200_000, D("0.26")),  # 200,000 x $1.25/M + 1,000 x $10/M
        (200_001, D("0.5150025")),  # over the threshold every token moves: $2.50/M and $15/M
    ],
)
def test_gemini_pro_long_prompts_reprice_the_whole_call(
    book: PriceBook, input_tokens: int, expected: Decimal
) -> None:
    cost = book.cost(
        "gcp.gemini", Usage(input_tokens=input_tokens, output_tokens=1000), "gemini-2.5-pro", None
    )
    assert cost is not None
    assert cost.amount == expected


def test_claude_tier_covers_cache_rates(book: PriceBook) -> None:
    rates = book.rates("anthropic", "claude-sonnet-4.5")
    assert rates is not None
    (tier,) = rates.tiers
    assert (tier.above, tier.input, tier.output, tier.cache_read, tier.cache_write) == (
        200_000,
        D(6),
        D("22.5"),
        D("0.6"),
        D("7.5"),
    )


def test_deepseek_off_peak_hours_change_the_price_of_the_same_book() -> None:
    now = [datetime.fromisoformat(PEAK).timestamp()]
    book = PriceBook(clock=lambda: now[0])
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    peak = book.cost("deepseek", usage, "deepseek-chat", None)
    now[0] = datetime.fromisoformat(OFF_PEAK).timestamp()
    off_peak = book.cost("deepseek", usage, "deepseek-chat", None)
    assert peak is not None
    assert off_peak is not None
    assert peak.amount == D("1.37")  # $0.27 + $1.10
    assert off_peak.amount == D("0.685")  # $0.135 + $0.55


def test_flat_per_call_fee_is_added(book: PriceBook) -> None:
    cost = book.cost("perplexity", Usage(input_tokens=1000, output_tokens=1000), "sonar", None)
    assert cost is not None
    assert cost.request == D("0.012")  # $12 per 1,000 requests
    assert cost.amount == D("0.014")


def test_service_tier_selects_priority_prices(book: PriceBook) -> None:
    rates = book.rates("openai", "gpt-4.1", service_tier="priority")
    assert rates is not None
    assert (rates.input, rates.output) == (D("3.5"), D(14))


@pytest.mark.parametrize(
    ("provider", "model", "entry"),
    [
        ("azure.ai.openai", "gpt-4.1", "openai/gpt-4.1"),  # Azure resells OpenAI at OpenAI's list price
        ("my-gateway.example.com", "gpt-4.1", "openai/gpt-4.1"),  # guessed from the model name
        ("127.0.0.1", "claude-sonnet-4.5", "anthropic/claude-sonnet-4-5"),
        ("localhost", "openai/gpt-4.1", "openai/gpt-4.1"),  # LiteLLM-style vendor prefix
        ("openrouter", "openai/gpt-4.1", "openrouter/openai/gpt-4.1"),
        ("api.cerebras.ai", "llama3.1-8b", "cerebras/llama3.1-8b"),  # host matched to a provider
        ("x_ai", "grok-4", "x-ai/grok-4-0709"),
        ("mistral_ai", "mistral-large-latest", "mistral/mistral-large"),
    ],
)
def test_provider_names_map_to_price_tables(book: PriceBook, provider: str, model: str, entry: str) -> None:
    rates = book.rates(provider, model)
    assert rates is not None
    assert rates.entry == entry


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "no-such-model"),
        ("groq", "gpt-4.1"),  # a known provider that does not serve it: no guessing
        ("my-gateway.example.com", "house-llm-7b"),
        ("openrouter", "gpt-4.1"),  # OpenRouter names carry a vendor prefix
    ],
)
def test_unknown_models_have_no_cost(book: PriceBook, provider: str, model: str) -> None:
    assert book.rates(provider, model) is None
    assert book.cost(provider, Usage(input_tokens=10, output_tokens=10), model, model) is None


def test_request_model_is_tried_when_the_response_model_is_unknown(book: PriceBook) -> None:
    cost = book.cost("openai", Usage(input_tokens=1000, output_tokens=0), "gpt-4.1-custom-build", "gpt-4.1")
    assert cost is not None
    assert cost.entry == "openai/gpt-4.1"


def test_rates_are_cached_per_model(book: PriceBook) -> None:
    first = book.rates("openai", "gpt-4.1")
    assert isinstance(first, Rates)
    assert book.rates("openai", "gpt-4.1") is first


def test_importing_pricing_does_not_import_genai_prices() -> None:
    code = (
        "import sys\n"
        "from tokentrace.pricing import PriceBook, PriceOverride\n"
        "from tokentrace.calls.records import Usage\n"
        "book = PriceBook([PriceOverride('m', input=1, output=1)], genai_prices=False)\n"
        "assert book.cost('x', Usage(input_tokens=1), 'm', None) is not None\n"
        "assert book.cost('x', Usage(input_tokens=1), 'other', None) is None\n"
        "assert 'genai_prices' not in sys.modules, 'imported for an override-only book'\n"
        "book = PriceBook([PriceOverride('gpt-4.1', input=1, output=1)])\n"
        "assert book.cost('openai', Usage(input_tokens=1), 'gpt-4.1', None) is not None\n"
        "assert 'genai_prices' not in sys.modules, 'imported although an override decided'\n"
        "assert book.rates('openai', 'gpt-4o') is not None\n"
        "assert 'genai_prices' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
