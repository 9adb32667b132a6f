"""Money: the one Decimal context every core computes USD in, USD rounding, and dollar amounts as text.

Costs are ``Decimal`` from the price table to the sinks, and become floats only at the
attribute/metric boundary. Every addition, product and rounding of money goes through ``MONEY``,
never through the thread's decimal context: an application that lowers its precision or changes
its rounding (``decimal.getcontext().prec = 6``) must not change a cost, a budget or a report.

Why 50 digits. A sum is exact while it needs at most ``MONEY.prec`` significant digits. Ledger
totals resolve 1e-12 USD; a total of 1e15 USD (a trillion calls at a thousand dollars each, far
beyond any real ledger) at that resolution needs 28 digits. The parts are shorter than that: a
per-token rate is a per-million price with a few significant digits shifted by six places, times
a whole token count; a provider's own cost read from a JSON float has at most 17 significant
digits. 50 digits leave 22 below the 1e-12 USD line for such parts, so sums of billions of calls
stay exact in practice; past that a sum rounds half-even at the 50th digit (an error below 1e-34
USD on a 1e15 USD total); it never fails. A bounded precision also keeps a division meaningful: in a
context of unbounded precision ``1 / 3`` tries to hold infinitely many digits and fails.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "MONEY",
    "ZERO",
    "add",
    "format_amount_safely",
    "format_usd",
    "multiply",
    "round_usd",
    "subtract",
    "usd_digits",
]

MONEY = decimal.Context(
    prec=50,
    rounding=ROUND_HALF_EVEN,
    Emin=decimal.MIN_EMIN,
    Emax=decimal.MAX_EMAX,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Every field given, none copied from ``decimal.DefaultContext``, which an application may change."""

ZERO = Decimal(0)

# Bound once: a hot path (the summary, pricing a call) calls them without looking the method up.
add = MONEY.add
subtract = MONEY.subtract
multiply = MONEY.multiply

_STEPS = {places: Decimal(1).scaleb(-places) for places in range(13)}

_SHOWN_DIGITS = MONEY.prec
"""Amounts are written digit by digit from 1e-50 up to 1e50, in exponent form beyond: a whole
part longer than the money context's 50 digits is zeros no sum ever computed, and every digit of
a corrupt 1e300 is a 400-character figure (of a 1e999999999 parsed from text, a gigabyte)."""


def round_usd(amount: Decimal, places: int) -> Decimal:
    """``amount`` rounded half-even to ``places`` decimals (0 to 12).

    An amount with more digits than ``MONEY`` holds at that many places (over 1e38 USD at 12)
    is returned as it is rather than failing, as are infinities and NaN.
    """
    try:
        return amount.quantize(_STEPS[places], context=MONEY)
    except decimal.InvalidOperation:
        return amount


def usd_digits(amount: Decimal) -> str:
    """Every digit, not in exponent form (``0.00000042``, not ``4.2E-7``): for files and programs.

    Only an amount no call can cost (from 1e50, below 1e-50, or not finite) keeps its exponent
    (``1E+300``), which every Decimal and float parser still reads.
    """
    if amount.is_finite() and (not amount or -_SHOWN_DIGITS <= amount.adjusted() < _SHOWN_DIGITS):
        return format(amount, "f")
    return str(amount)


def format_amount_safely(amount: Decimal, unit: str = "") -> str | None:
    """``1.000E+300`` (with ``unit`` before it) for an amount too large to show digit by digit
    (from 1e50), or not finite; None for any other amount, which the caller formats as usual (a
    tiny one rounds to zero)."""
    if amount.is_finite() and (not amount or amount.adjusted() < _SHOWN_DIGITS):
        return None
    magnitude = amount.copy_abs()
    text = f"{magnitude:.3E}" if magnitude.is_finite() else str(magnitude)
    return f"{'-' if amount.is_signed() else ''}{unit}{text}"


def format_usd(amount: Decimal, places: int = 6, *, symbol: str = "$", trim: bool = False) -> str:
    """A dollar amount for people: rounded half-even to ``places`` decimals, thousands grouped.

    ``$1,234.500000``; with ``trim``, trailing zeros go down to cents (``$12.50``, ``$0.000125``).
    A negative amount reads ``-$1.50``; ``symbol=""`` leaves the currency to the caller. From
    1e50 USD on, or not finite, the amount is shown in exponent form (``$1.000E+300``).
    """
    huge = format_amount_safely(amount, symbol)
    if huge is not None:
        return huge
    shown = round_usd(amount, places)
    text = f"{shown.copy_abs():,f}"
    if trim and "." in text:
        whole, _, fraction = text.partition(".")
        text = f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"
    sign = "-" if shown.is_signed() and shown else ""
    return f"{sign}{symbol}{text}"
