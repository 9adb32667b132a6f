"""Plain-text answer to "what does this model cost, and says who?" for the ``tokentrace prices`` command."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal

from tokentrace._money import MONEY, usd_digits
from tokentrace.pricing import _genai
from tokentrace.pricing.book import PriceBook
from tokentrace.pricing.overrides import best_override
from tokentrace.pricing.rates import RateTier

__all__ = ["describe"]


def describe(
    provider: str | None,
    model: str,
    book: PriceBook | None = None,
    *,
    service_tier: str | None = None,
) -> str:
    """Rates, price entry, source and date for ``model`` at ``provider`` (``None``: guess from the model).

    ``book`` defaults to a fresh `PriceBook` with genai-prices data and no overrides.
    """
    book = book if book is not None else PriceBook()
    where = f" at {provider}" if provider else ""
    lines = [f"{model}{where}"]
    lines.extend(_aliases(book, provider, model))
    rates, _, valid_until = book._resolve((provider, model, None, service_tier), book._clock())
    if rates is None:
        lines.append("  no price known: no override matches it and genai-prices has no entry for it.")
        lines.append("  Give it one in a price file, e.g.:")
        lines.append(f'    [[price]]\n    model = "{model}"')
        if provider:
            lines.append(f'    provider = "{provider}"')
        lines.append("    input = 1.00    # USD per 1M tokens\n    output = 2.00")
        return "\n".join(lines)

    source = rates.source
    if source == _genai.SOURCE:
        source = f"genai-prices {_genai.version()} data"
        if provider is None or provider.lower() not in _genai.GENAI_PROVIDERS:
            source += ", provider guessed from the host or model name"
    lines.append(f"  price entry   {rates.entry} ({source})")
    lines.append(f"  valid from    {rates.date or 'not stated'}")
    if service_tier:
        lines.append(f"  service tier  {service_tier}")
    lines.append("  USD per 1M tokens:")
    lines.extend(_rate_lines(rates.input, rates.output, rates.cache_read, rates.cache_write, rates.reasoning))
    for tier in rates.tiers:
        lines.append(f"  above {tier.above:,} prompt tokens (all tokens of the call):")
        lines.extend(_tier_lines(tier))
    if rates.request:
        lines.append(f"  plus {_money(rates.request)} USD per call")
    if not math.isinf(valid_until):
        until = datetime.fromtimestamp(valid_until, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"  this price depends on the time of the call; it applies until {until}")
    return "\n".join(lines)


def _aliases(book: PriceBook, provider: str | None, model: str) -> list[str]:
    """One line per deployment alias followed from ``model`` to the model that is priced."""
    lines: list[str] = []
    lowered = provider.lower() if provider else None
    seen: set[str] = set()
    current = model
    while current.lower() not in seen:
        seen.add(current.lower())
        override = best_override(book.overrides, lowered, current.lower())
        if override is None or override.deployment_of is None:
            break
        lines.append(f"  {current} is a deployment of {override.deployment_of} ({override.source})")
        current = override.deployment_of
    return lines


def _rate_lines(
    input: Decimal,
    output: Decimal,
    cache_read: Decimal | None,
    cache_write: Decimal | None,
    reasoning: Decimal | None,
) -> list[str]:
    def derived(value: Decimal | None, fallback: Decimal, name: str) -> str:
        return _money(value) if value is not None else f"{_money(fallback)} (as {name})"

    return [
        f"    input         {_money(input)}",
        f"    output        {_money(output)}",
        f"    cache read    {derived(cache_read, input, 'input')}",
        f"    cache write   {derived(cache_write, input, 'input')}",
        f"    reasoning     {derived(reasoning, output, 'output')}",
    ]


def _tier_lines(tier: RateTier) -> list[str]:
    return [
        "  " + line
        for line in _rate_lines(tier.input, tier.output, tier.cache_read, tier.cache_write, tier.reasoning)
    ]


def _money(value: Decimal) -> str:
    """Every significant digit and no more: ``2``, ``0.075``."""
    return usd_digits(value.normalize(MONEY))
