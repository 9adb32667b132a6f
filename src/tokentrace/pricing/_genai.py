"""Rates from the genai-prices package, resolved once per (provider, model) and cached by the book.

genai-prices is imported inside `lookup` only: importing it costs far more than anything else at
start-up, which an app that never makes an LLM call (or only uses overrides) should not pay.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Union

from tokentrace._money import MONEY
from tokentrace.pricing._saved import bundled_data_in_use, saved_lookups
from tokentrace.pricing.rates import Rates, RateTier

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice, Provider

__all__ = ["GENAI_PROVIDERS", "SOURCE", "Lookup", "highest_rates", "lookup", "version"]

SOURCE = "genai-prices"

# gen_ai.provider.name values (and the short ids our base-URL table uses) -> genai-prices ids.
GENAI_PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
    "groq": "groq",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "anthropic": "anthropic",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
    "perplexity": "perplexity",
    "together": "together",
    "fireworks": "fireworks",
    "aws.bedrock": "aws",
    "cohere": "cohere",
    "moonshot": "moonshotai",
    "cerebras": "cerebras",
}

_ALWAYS = (-math.inf, math.inf)

# (rates or None, valid from, valid until) as POSIX timestamps: time-of-day and dated prices mean
# a resolved rate is only right for a while.
Lookup = tuple[Union[Rates, None], float, float]


def version() -> str:
    """The installed genai-prices version (imports it)."""
    import genai_prices

    return str(genai_prices.__version__)


def lookup(provider: str | None, model: str, service_tier: str | None, now: float) -> Lookup:
    """Rates for ``model`` at ``provider`` (a gen_ai.provider.name value, a host, or ``None``).

    Answered from the lookups saved on disk by an earlier process when one is valid now
    (``_saved``), else from genai-prices' data, and then saved.
    """
    store = saved_lookups() if bundled_data_in_use() else None
    if store is None:
        return _lookup(provider, model, service_tier, now)
    key = f"{provider or ''}\n{model.lower()}\n{service_tier or ''}"
    found = store.get(key, now)
    if found is None:
        found = _lookup(provider, model, service_tier, now)
        if bundled_data_in_use():
            store.put(key, found)
    return found


def _lookup(provider: str | None, model: str, service_tier: str | None, now: float) -> Lookup:
    """``lookup`` from genai-prices' data.

    A known provider is looked up under its genai-prices id. Any other provider is a host: if it
    matches a genai-prices API pattern that provider is used, else the provider is guessed from the
    model name (``vendor/model`` refs as LiteLLM and gateways use them, then genai-prices' own
    model patterns). So a self-hosted gateway serving ``gpt-4.1`` is priced at OpenAI's list price
    unless an override says otherwise: when we must guess, the public price of the model is a
    better estimate than no cost at all, and the span says which entry priced it.
    """
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    found = _find(snapshot, provider, model.lower())
    if found is None:
        return (None, *_ALWAYS)
    gp_provider, info = found
    at = datetime.fromtimestamp(now, tz=timezone.utc)
    context = {"service_tier": service_tier} if service_tier else None
    if context and not any(info is listed for listed in gp_provider.models):
        # genai-prices ignores service tiers for models reached through a fallback provider.
        context = None
    model_price = info.get_prices(at, context)
    owner = _owner(snapshot, gp_provider, info)
    rates = _to_rates(model_price, entry=f"{owner}/{info.id}", valid_from=_active_start(info, at))
    if rates is not None and rates.date is None and snapshot.from_auto_update:
        rates = _with_date(rates, snapshot.timestamp.date().isoformat())
    return (rates, *_window(info, at))


def highest_rates() -> tuple[Decimal, Decimal]:
    """The highest per-token rate and the highest per-call fee (USD) anywhere in genai-prices' data.

    Every provider, model, dated price, price variant and tier counts, whatever the unit of its
    ``*_mtok`` key (text, audio, image tokens): the bound a provider's own cost is checked against
    (``PriceBook.plausible_provider_cost``) must hold for any call the data could price.
    """
    from genai_prices.data_snapshot import get_snapshot
    from genai_prices.types import TieredPrices

    per_million = per_thousand_calls = Decimal(0)
    for provider in get_snapshot().providers:
        for info in provider.models:
            listed = info.prices if isinstance(info.prices, list) else [info.prices]
            prices = [getattr(price, "prices", price) for price in listed]
            prices.extend(variant.prices for variant in getattr(info, "price_variants", None) or ())
            for model_price in prices:
                for key, price in vars(model_price).items():
                    top = (
                        max([price.base, *(t.price for t in price.tiers)])
                        if isinstance(price, TieredPrices)
                        else price
                    )
                    if not isinstance(top, Decimal):
                        continue
                    if key.endswith("_mtok"):
                        per_million = max(per_million, top)
                    elif key == "requests_kcount":
                        per_thousand_calls = max(per_thousand_calls, top)
    return per_million.scaleb(-6, MONEY), per_thousand_calls.scaleb(-3, MONEY)


def _find(snapshot: DataSnapshot, provider: str | None, model: str) -> tuple[Provider, ModelInfo] | None:
    from genai_prices.data_snapshot import find_provider_by_id

    gp_id = GENAI_PROVIDERS.get(provider) if provider else None
    if gp_id is None and provider:
        host_provider = _provider_for_host(snapshot, provider)
        gp_id = host_provider.id if host_provider is not None else None
    if gp_id is None:
        vendor, _, rest = model.partition("/")
        if rest and find_provider_by_id(snapshot.providers, vendor) is not None:
            gp_id, model = vendor, rest
    try:
        return snapshot.find_provider_model(model, None, gp_id, None)
    except LookupError:
        pass
    if gp_id is not None:
        return None
    # genai-prices guesses a provider from model-name patterns, which misses some first-party names
    # (``text-embedding-3-small``). A gateway serving such a model is priced like the model's maker.
    for maker in _MAKERS:
        try:
            return snapshot.find_provider_model(model, None, maker, None)
        except LookupError:
            continue
    return None


# First-party model makers, tried in this order when a model's provider cannot be told.
_MAKERS = ("openai", "anthropic", "google", "deepseek", "mistral", "x-ai", "cohere", "voyageai", "meta")


def _provider_for_host(snapshot: DataSnapshot, host: str) -> Provider | None:
    try:
        return snapshot.find_provider(None, None, f"https://{host}")
    except LookupError:
        return None


def _owner(snapshot: DataSnapshot, provider: Provider, info: ModelInfo) -> str:
    """The provider whose table lists ``info`` (Azure prices OpenAI models from OpenAI's table)."""
    if any(info is listed for listed in provider.models):
        return provider.id
    for other in snapshot.providers:
        if any(info is listed for listed in other.models):
            return other.id
    return provider.id


def _price_at(value: Any, threshold: int) -> Decimal | None:
    """The rate of one price key for prompts above ``threshold`` (-1: the base rate)."""
    from genai_prices.types import TieredPrices

    if value is None:
        return None
    if isinstance(value, TieredPrices):
        price: Decimal = value.base
        for tier in value.tiers:  # sorted ascending by genai-prices
            if threshold >= tier.start:
                price = tier.price
        return price
    return Decimal(value)


def _to_rates(model_price: ModelPrice, *, entry: str, valid_from: str | None) -> Rates | None:
    from genai_prices.types import TieredPrices

    keys = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok")
    values = [getattr(model_price, key, None) for key in keys]
    if values[0] is None and values[1] is None:
        return None  # priced per image, second or request only: not something tokens can price
    thresholds = sorted({t.start for v in values if isinstance(v, TieredPrices) for t in v.tiers})

    def band(threshold: int) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, Decimal | None]:
        # A missing input or output rate is free in genai-prices; keep it so.
        prices = [_price_at(value, threshold) for value in values]
        return (prices[0] or Decimal(0), prices[1] or Decimal(0), prices[2], prices[3], prices[4])

    base = band(-1)
    tiers = tuple(RateTier(t, *band(t)) for t in thresholds)
    per_thousand = getattr(model_price, "requests_kcount", None)
    request = per_thousand.scaleb(-3, MONEY) if isinstance(per_thousand, Decimal) else Decimal(0)
    return Rates(*base, tiers=tiers, request=request, source=SOURCE, entry=entry, date=valid_from)


def _with_date(rates: Rates, day: str) -> Rates:
    return Rates(
        rates.input,
        rates.output,
        rates.cache_read,
        rates.cache_write,
        rates.reasoning,
        tiers=rates.tiers,
        request=rates.request,
        source=rates.source,
        entry=rates.entry,
        date=day,
    )


def _conditions(info: ModelInfo) -> list[Any]:
    prices = info.prices if isinstance(info.prices, list) else []
    constraints = [conditional.constraint for conditional in prices]
    constraints.extend(variant.constraint for variant in getattr(info, "price_variants", None) or ())
    return [constraint for constraint in constraints if constraint is not None]


def _active_start(info: ModelInfo, at: datetime) -> str | None:
    """The start date of the dated price genai-prices uses at ``at``, if it uses one."""
    from genai_prices.types import StartDateConstraint

    if not isinstance(info.prices, list):
        return None
    for conditional in reversed(info.prices):  # the last active price wins, as in genai-prices
        constraint = conditional.constraint
        if constraint is None or constraint.active(at):
            return constraint.start_date.isoformat() if isinstance(constraint, StartDateConstraint) else None
    return None


def _window(info: ModelInfo, at: datetime) -> tuple[float, float]:
    """The span of time around ``at`` in which the model's price conditions do not change."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    boundaries: list[float] = []
    today = at.date()
    for constraint in _conditions(info):
        if isinstance(constraint, StartDateConstraint):
            boundaries.append(_utc_midnight(constraint.start_date))
        elif isinstance(constraint, TimeOfDateConstraint):
            for moment in (constraint.start_time, constraint.end_time):
                utc_moment = _as_utc(moment)
                for offset in (-1, 0, 1):
                    day = today + timedelta(days=offset)
                    boundaries.append(datetime.combine(day, utc_moment).timestamp())
    now = at.timestamp()
    start = max((b for b in boundaries if b <= now), default=-math.inf)
    end = min((b for b in boundaries if b > now), default=math.inf)
    return start, end


def _utc_midnight(day: date) -> float:
    return datetime.combine(day, time(0, tzinfo=timezone.utc)).timestamp()


def _as_utc(moment: time) -> time:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    anchored = datetime.combine(date(2000, 1, 3), moment).astimezone(timezone.utc)
    return anchored.timetz()
