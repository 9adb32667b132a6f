"""How figures read for a person: dollars, token counts, seconds, and labels of the breakdown keys."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from .._money import format_usd, usd_digits

if TYPE_CHECKING:
    from .aggregate import Figures

__all__ = ["BY_TITLES", "cost_cell", "count", "exact_usd", "seconds", "usd"]

BY_TITLES = {"model": "model", "tracking_id": "tracking id", "provider": "provider", "day": "day"}

_CENT_HUNDREDTH = Decimal("0.0001")


def usd(amount: Decimal) -> str:
    """Dollars to a hundredth of a cent: ``$1,234.5678``; ``<$0.0001`` for a smaller non-zero sum."""
    if amount and abs(amount) < _CENT_HUNDREDTH:
        return "<$0.0001" if amount > 0 else ">-$0.0001"
    return format_usd(amount, 4)


def exact_usd(amount: Decimal) -> str:
    """Every digit, never in exponent form: ``0.00000042``."""
    return usd_digits(amount)


def count(number: int) -> str:
    return f"{number:,}"


def seconds(value: float | None) -> str:
    """``1.234``; ``-`` when there is no value."""
    return "-" if value is None else f"{value:.3f}"


def cost_cell(figures: Figures) -> str:
    """``usd(cost)``, or ``unknown`` when not one call of the group had a known cost."""
    if figures.requests and figures.unknown_cost_calls == figures.requests:
        return "unknown"
    return usd(figures.cost)
