"""Prices the user supplies (a reseller's list, a self-hosted model, an Azure deployment name).

An override either carries rates or says that a deployment name is another model
(``deployment_of``). Matching is case-insensitive; ranking is: exact model name, then the same name
with a date suffix, then an fnmatch pattern; within that, a named provider beats a provider pattern
beats any provider; and among equals the later override wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase

from tokentrace.pricing.rates import Rates, RateTier

__all__ = ["PriceOverride", "as_date", "as_price", "best_override"]

# Providers publish dated snapshots (gpt-4.1-2025-04-14, claude-sonnet-4-5-20250929,
# claude-sonnet-4-5@20250929, gpt-4-0613) and responses name them; an override for the bare name
# should price them, or a negotiated price would silently fall back to the list price.
_DATE_SUFFIX = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|[-@]\d{8}|-\d{4})$")
_PATTERN_CHARS = frozenset("*?[")


def as_price(value: object) -> Decimal:
    """A USD price as an exact ``Decimal``; floats go through their shortest repr (0.1 stays 0.1)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    if number < 0:
        raise ValueError(f"a price cannot be negative, got {value!r}")
    return number


def as_date(value: object) -> str:
    """An ISO date (``YYYY-MM-DD``) from a date, a datetime or a string."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")


_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning", "request")


@dataclass(frozen=True)
class PriceOverride:
    """A user-supplied price (per 1M tokens, USD) or deployment alias for one model name or pattern.

    Prices may be given as ``Decimal``, ``int``, ``str`` or ``float``; they are stored as exact
    ``Decimal``. ``provider`` is a ``gen_ai.provider.name`` value or a host name (or an fnmatch
    pattern of one); ``None`` matches any provider. With ``deployment_of`` set, calls to ``model``
    are priced as calls to that model, with whatever rates it has (override or genai-prices).
    ``request`` is a flat USD fee per call.
    """

    model: str
    provider: str | None = None
    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    request: Decimal | None = None
    tiers: tuple[RateTier, ...] = ()
    deployment_of: str | None = None
    date: str | None = None
    source: str = "override:code"
    _rates: Rates | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("an override needs a model name")
        for name in _PRICE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_price(value))
        if self.date is not None:
            object.__setattr__(self, "date", as_date(self.date))
        object.__setattr__(self, "tiers", tuple(sorted(self.tiers, key=lambda tier: tier.above)))
        rates: Rates | None = None
        if self.deployment_of is not None:
            if any(getattr(self, name) is not None for name in _PRICE_FIELDS) or self.tiers:
                raise ValueError(
                    f"{self.model!r} is a deployment of {self.deployment_of!r}: give prices on that model"
                )
        elif self.input is None or self.output is None:
            raise ValueError(f"the price of {self.model!r} needs both an input and an output rate")
        else:
            rates = Rates(
                input=self.input,
                output=self.output,
                cache_read=self.cache_read,
                cache_write=self.cache_write,
                reasoning=self.reasoning,
                tiers=self.tiers,
                request=self.request if self.request is not None else Decimal(0),
                source=self.source,
                entry=self.entry,
                date=self.date,
            )
        object.__setattr__(self, "_rates", rates)

    @property
    def entry(self) -> str:
        """A stable id for this entry: ``provider/model`` or just ``model``."""
        return f"{self.provider}/{self.model}" if self.provider else self.model

    @property
    def rates(self) -> Rates | None:
        """The rates this override sets, or ``None`` for a deployment alias."""
        return self._rates

    def rank(self, provider: str | None, model: str) -> tuple[int, int] | None:
        """How well this override matches (higher is better), or ``None`` if it does not.

        ``provider`` and ``model`` must already be lower-case.
        """
        pattern = self.model.lower()
        if pattern == model:
            model_rank = 3
        elif _DATE_SUFFIX.sub("", model) == pattern:
            model_rank = 2
        elif not _PATTERN_CHARS.isdisjoint(pattern) and fnmatchcase(model, pattern):
            model_rank = 1
        else:
            return None
        if self.provider is None:
            return model_rank, 0
        wanted = self.provider.lower()
        if provider is None:
            return None
        if wanted == provider:
            return model_rank, 2
        if not _PATTERN_CHARS.isdisjoint(wanted) and fnmatchcase(provider, wanted):
            return model_rank, 1
        return None


def best_override(
    overrides: Iterable[PriceOverride], provider: str | None, model: str
) -> PriceOverride | None:
    """The override that decides the price of ``model`` at ``provider`` (lower-case), if any."""
    best: PriceOverride | None = None
    best_key: tuple[int, int, int] | None = None
    for index, override in enumerate(overrides):
        rank = override.rank(provider, model)
        if rank is None:
            continue
        key = (rank[0], rank[1], index)
        if best_key is None or key > best_key:
            best, best_key = override, key
    return best
