"""What an LLM call costs: rates from genai-prices or the user's overrides, applied with exact Decimals.

Nothing here imports OpenTelemetry, and genai-prices is imported only when a price is first looked up.

    book = PriceBook(load_price_file("prices.toml"))
    cost = book.cost("openai", usage, response_model="gpt-4.1-2025-04-14", request_model="gpt-4.1")
"""

from __future__ import annotations

from tokentrace.pricing._schema import Problem as PriceFileProblem
from tokentrace.pricing.book import PriceBook
from tokentrace.pricing.describe import describe
from tokentrace.pricing.files import PriceFileError, load_price_file
from tokentrace.pricing.overrides import PriceOverride
from tokentrace.pricing.rates import Cost, Rates, RateTier

__all__ = [
    "Cost",
    "PriceBook",
    "PriceFileError",
    "PriceFileProblem",
    "PriceOverride",
    "RateTier",
    "Rates",
    "describe",
    "load_price_file",
]
