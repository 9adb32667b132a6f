"""The price book: overrides first, genai-prices second, resolved once and then read from a dict.

The per-call path (`PriceBook.cost`) is one clock read, one dict lookup and a handful of Decimal
operations. Resolution (override matching, the genai-prices lookup) happens on the first call for a
(provider, response model, request model, service tier) and again only when that price's validity
window ends (DeepSeek's off-peak hours, a dated price change) or the overrides change.

A cost the response carries itself (OpenRouter's ``usage.cost``) is used only when it is plausible
(`PriceBook.plausible_provider_cost`): at most ``PROVIDER_COST_MULTIPLE`` times what the call's
tokens would cost at the highest rate the book knows, plus the highest per-call fee, and never
held to less than ``PROVIDER_COST_FLOOR``. A gateway that reports 1e300 USD must not spend a budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Optional

from tokentrace import names
from tokentrace._money import MONEY, ZERO
from tokentrace.pricing import _genai
from tokentrace.pricing.overrides import PriceOverride, best_override
from tokentrace.pricing.rates import Cost, Rates, _cost

if TYPE_CHECKING:
    from tokentrace.calls.records import Usage

__all__ = ["PROVIDER_COST_FLOOR", "PROVIDER_COST_MULTIPLE", "PriceBook"]

PROVIDER_COST_FLOOR = Decimal(1)
"""USD: a provider's cost up to this is plausible for any call (search fees, images, a model
priced nowhere), so the bound never refuses an honest small cost."""
PROVIDER_COST_MULTIPLE = 10
"""How far above the call's tokens at the highest known rate a provider's cost may go."""

_Key = tuple[Optional[str], Optional[str], Optional[str], Optional[str]]
_UNPRICED: _genai.Lookup = (None, -math.inf, math.inf)
# A deployment alias may point at another alias; a longer chain is a loop in the user's config.
_MAX_ALIAS_DEPTH = 8


class PriceBook:
    """Prices LLM calls from overrides and, unless disabled, the genai-prices data.

    Thread-safe without a lock: the cache is a dict whose fills are idempotent, and changing the
    overrides swaps in a new dict, so a fill computed from the old overrides lands in the old one.
    The cache holds at most ``max_entries`` keys and starts over when full (model names come from
    responses, so their number is not ours to bound).
    """

    def __init__(
        self,
        overrides: Iterable[PriceOverride] = (),
        *,
        genai_prices: bool = True,
        clock: Callable[[], float] = time.time,
        max_entries: int = 4096,
    ) -> None:
        self._overrides: tuple[PriceOverride, ...] = tuple(overrides)
        self._use_genai = genai_prices
        self._clock = clock
        self._max_entries = max_entries
        self._cache: dict[_Key, _genai.Lookup] = {}
        # (per-token rate, per-call fee): the highest of the overrides (kept with the overrides
        # they were found in, so a change of overrides meanwhile cannot leave a stale pair), and of
        # genai-prices' data; found when a provider's cost first needs them.
        self._highest_overrides: tuple[tuple[PriceOverride, ...], tuple[Decimal, Decimal]] | None = None
        self._highest_data: tuple[Decimal, Decimal] | None = None

    @property
    def overrides(self) -> tuple[PriceOverride, ...]:
        """The overrides in the order they were added (later ones win ties)."""
        return self._overrides

    @property
    def uses_genai_prices(self) -> bool:
        return self._use_genai

    def add(self, overrides: Iterable[PriceOverride]) -> None:
        """Add overrides after the existing ones and forget every resolved price."""
        self._overrides = (*self._overrides, *overrides)
        self._cache = {}

    def set_overrides(self, overrides: Iterable[PriceOverride]) -> None:
        """Replace all overrides and forget every resolved price."""
        self._overrides = tuple(overrides)
        self._cache = {}

    def clear_cache(self) -> None:
        """Forget resolved prices (after genai-prices data was updated at run time, say)."""
        self._cache = {}
        self._highest_data = None

    def plausible_provider_cost(self, usage: Usage) -> bool:
        """Whether ``usage.provider_cost`` is a cost the call could have had (True when absent).

        Plausible: at most `PROVIDER_COST_FLOOR`, or at most `PROVIDER_COST_MULTIPLE` times the
        call's tokens (input plus output) at the highest per-token rate known (any override, any
        genai-prices entry), plus the highest per-call fee. Costs above the floor are rare, and
        only they look the rates up; genai-prices' data is scanned once, and only when the
        overrides alone do not already allow the cost.
        """
        amount = usage.provider_cost
        if amount is None or amount <= PROVIDER_COST_FLOOR:
            return True
        tokens = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        overrides = self._overrides
        found = self._highest_overrides
        if found is None or found[0] is not overrides:
            found = self._highest_overrides = (overrides, _highest_of(overrides))
        highest = found[1]
        if amount <= _ceiling(tokens, *highest):
            return True
        if not self._use_genai:
            return False
        data = self._highest_data
        if data is None:
            data = self._highest_data = _genai.highest_rates()
        return amount <= _ceiling(tokens, max(highest[0], data[0]), max(highest[1], data[1]))

    def rates(self, provider: str | None, model: str, *, service_tier: str | None = None) -> Rates | None:
        """The rates that price ``model`` at ``provider`` now, or ``None`` if it has no known price."""
        return self._resolve((provider, model, None, service_tier), self._clock())[0]

    def cost(
        self,
        provider: str | None,
        usage: Usage,
        response_model: str | None,
        request_model: str | None,
        *,
        service_tier: str | None = None,
    ) -> Cost | None:
        """What one call cost, or ``None`` when unknown (unpriced model and no provider cost).

        Overrides are tried for the response model, then the request model; then genai-prices in
        the same order. So a reseller's price for the name the caller asked for wins over a list
        price for the dated name the response carries. A call without any token counts and without
        a provider cost is unknown too: pricing it as zero would hide spend.
        """
        now = self._clock()
        key = (provider, response_model, request_model, service_tier)
        found = self._cache.get(key)
        if found is None or not found[1] <= now < found[2]:
            found = self._resolve(key, now)
        rates = found[0]
        provider_cost = usage.provider_cost
        if rates is None:
            return (
                None
                if provider_cost is None
                else Cost(amount=provider_cost, source=names.COST_SOURCE_PROVIDER)
            )
        if provider_cost is None:
            if usage.input_tokens is None and usage.output_tokens is None:
                return None
            return rates.cost(usage)
        local = rates.cost(usage)
        return _cost(
            provider_cost,
            local.input,
            local.output,
            local.cache_read,
            local.cache_write,
            local.reasoning,
            local.request,
            names.COST_SOURCE_PROVIDER,
            local.entry,
            local.date,
        )

    def _resolve(self, key: _Key, now: float) -> _genai.Lookup:
        # Take the dict before reading the overrides: if they change meanwhile, this fill lands in
        # the discarded dict instead of leaving a stale price in the new one.
        cache = self._cache
        found = cache.get(key)
        if found is not None and found[1] <= now < found[2]:
            return found
        provider, response_model, request_model, service_tier = key
        lowered = provider.lower() if provider else None
        models = [m for m in dict.fromkeys((response_model, request_model)) if m]
        start, end = -math.inf, math.inf
        result = _UNPRICED
        for looked_up in self._candidates(lowered, models, service_tier, now):
            # Until any lookup tried so far changes its answer, the result stays the same.
            start, end = max(start, looked_up[1]), min(end, looked_up[2])
            if looked_up[0] is not None:
                result = looked_up
                break
        result = (result[0], start, end)
        if len(cache) >= self._max_entries:
            cache.clear()
        cache[key] = result
        return result

    def _candidates(
        self, provider: str | None, models: list[str], service_tier: str | None, now: float
    ) -> Iterator[_genai.Lookup]:
        for model in models:
            decided = self._from_overrides(provider, model, service_tier, now, 0)
            if decided is not None:
                yield decided
        if self._use_genai:
            for model in models:
                yield _genai.lookup(provider, model, service_tier, now)

    def _from_overrides(
        self, provider: str | None, model: str, service_tier: str | None, now: float, depth: int
    ) -> _genai.Lookup | None:
        """Rates an override decides for ``model``; ``None`` when no override mentions it."""
        override = best_override(self._overrides, provider, model.lower())
        if override is None:
            return None
        if override.rates is not None:
            return (override.rates, -math.inf, math.inf)
        target = override.deployment_of
        if target is None or depth >= _MAX_ALIAS_DEPTH:
            return _UNPRICED
        aliased = self._from_overrides(provider, target, service_tier, now, depth + 1)
        if aliased is not None:
            return aliased
        if self._use_genai:
            return _genai.lookup(provider, target, service_tier, now)
        return _UNPRICED


def _highest_of(overrides: Iterable[PriceOverride]) -> tuple[Decimal, Decimal]:
    """The highest per-token rate and per-call fee (USD) among the overrides' rates."""
    per_million = fee = ZERO
    for override in overrides:
        rates = override.rates
        if rates is None:
            continue
        bands = [(rates.input, rates.output, rates.cache_read, rates.cache_write, rates.reasoning)]
        bands.extend((t.input, t.output, t.cache_read, t.cache_write, t.reasoning) for t in rates.tiers)
        for band in bands:
            per_million = max(per_million, *(rate for rate in band if rate is not None))
        fee = max(fee, rates.request)
    return per_million.scaleb(-6, MONEY), fee


def _ceiling(tokens: int, rate: Decimal, fee: Decimal) -> Decimal:
    return max(PROVIDER_COST_FLOOR, MONEY.multiply(PROVIDER_COST_MULTIPLE, MONEY.fma(tokens, rate, fee)))
