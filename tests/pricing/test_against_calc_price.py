"""Our cached-rate arithmetic gives exactly what genai-prices' own `calc_price` gives."""

from __future__ import annotations

from datetime import datetime

import genai_prices
import pytest

from tokentrace.calls.records import Usage
from tokentrace.pricing import PriceBook

from ._helpers import OFF_PEAK, PEAK, clock_at

CASES = [
    # (our provider id, genai-prices provider id, model, input, output, cache read, cache write, reasoning)
    ("openai", "openai", "gpt-4.1", 12_345, 678, 0, 0, 0),
    ("openai", "openai", "gpt-4.1", 12_345, 678, 10_000, 0, 0),
    ("openai", "openai", "gpt-4o-mini", 3000, 200, 1024, 0, 0),
    ("openai", "openai", "o3", 5000, 9000, 2048, 0, 7000),
    ("openai", "openai", "o4-mini", 800, 4000, 0, 0, 3500),
    ("anthropic", "anthropic", "claude-sonnet-4.5", 40_000, 900, 30_000, 8000, 0),
    ("anthropic", "anthropic", "claude-sonnet-4.5", 250_000, 900, 100_000, 20_000, 0),
    ("gcp.gemini", "google", "gemini-2.5-flash", 7000, 1500, 3000, 0, 600),
    ("gcp.gemini", "google", "gemini-2.5-pro", 150_000, 2000, 50_000, 0, 1200),
    ("gcp.gemini", "google", "gemini-2.5-pro", 350_000, 2000, 50_000, 0, 1200),
    ("deepseek", "deepseek", "deepseek-chat", 9000, 1000, 4000, 0, 0),
    ("deepseek", "deepseek", "deepseek-reasoner", 9000, 6000, 4000, 0, 5000),
    ("perplexity", "perplexity", "sonar", 1000, 2000, 0, 0, 0),
    ("perplexity", "perplexity", "sonar-deep-research", 1000, 9000, 0, 0, 6000),
]


@pytest.mark.parametrize("moment", [PEAK, OFF_PEAK])
@pytest.mark.parametrize(
    ("provider", "gp_provider", "model", "inp", "out", "read", "write", "reasoning"), CASES
)
def test_same_total_as_calc_price(
    moment: str,
    provider: str,
    gp_provider: str,
    model: str,
    inp: int,
    out: int,
    read: int,
    write: int,
    reasoning: int,
) -> None:
    usage = Usage(
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    )
    ours = PriceBook(clock=clock_at(moment)).cost(provider, usage, model, None)
    theirs = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=inp,
            output_tokens=out,
            cache_read_tokens=read,
            cache_write_tokens=write,
            output_reasoning_tokens=reasoning,
        ),
        model,
        provider_id=gp_provider,
        genai_request_timestamp=datetime.fromisoformat(moment),
    )
    assert ours is not None
    assert ours.amount == theirs.total_price
    assert ours.input + ours.cache_read + ours.cache_write == theirs.input_price
    assert ours.output + ours.reasoning + ours.request == theirs.output_price + (
        theirs.total_price - theirs.input_price - theirs.output_price
    )
