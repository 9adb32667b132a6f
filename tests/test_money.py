"""The money context: sums, rounding and dollar text that the application's decimal context cannot change."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from tokentrace import _money
from tokentrace.budgets.budget import Budget, BudgetExceededError, format_amount
from tokentrace.report.formatting import usd
from tokentrace.summary import GroupSummary, format_summary

LOW = decimal.Context(prec=3, rounding=decimal.ROUND_DOWN)
"""An application's context that would round every cost if it were used."""


def test_sums_of_a_trillion_picodollar_steps_stay_exact_under_a_low_thread_precision() -> None:
    big = Decimal("999999999999999.999999999999")  # just under 1e15 USD, to the picodollar
    with decimal.localcontext(LOW):
        total = _money.add(big, Decimal("0.000000000001"))
        assert total == Decimal("1000000000000000.000000000000")
        assert _money.add(Decimal("1E-20"), Decimal("123456789.123456789")) == Decimal(
            "123456789.12345678900000000001"
        )


def test_a_division_rounds_instead_of_failing() -> None:
    assert _money.MONEY.divide(Decimal(1), Decimal(3)) == Decimal("0." + "3" * 50)


@pytest.mark.parametrize(
    ("amount", "places", "expected"),
    [
        (Decimal("1234.5"), 6, "$1,234.500000"),
        (Decimal("0.0000125"), 6, "$0.000012"),  # half-even
        (Decimal("0.0000135"), 6, "$0.000014"),
        (Decimal("-1.5"), 2, "-$1.50"),
        (Decimal("-0.0000001"), 4, "$0.0000"),  # rounds to zero: no sign
        (Decimal("4.2E-7"), 8, "$0.00000042"),
    ],
)
def test_format_usd(amount: Decimal, places: int, expected: str) -> None:
    with decimal.localcontext(LOW):
        assert _money.format_usd(amount, places) == expected


def test_format_usd_trims_to_cents_and_can_leave_the_symbol_out() -> None:
    assert _money.format_usd(Decimal("12.5"), 6, trim=True) == "$12.50"
    assert _money.format_usd(Decimal("0.000125"), 6, trim=True) == "$0.000125"
    assert _money.format_usd(Decimal("1000"), 6, symbol="") == "1,000.000000"


def test_amounts_beyond_the_context_are_shown_unrounded_rather_than_failing() -> None:
    huge = Decimal("1E+45")
    assert _money.round_usd(huge, 6) == huge
    assert _money.format_usd(huge, 6).startswith("$1,000,000")
    assert _money.format_usd(Decimal("Infinity"), 2) == "$Infinity"


def test_usd_digits_never_uses_an_exponent() -> None:
    assert _money.usd_digits(Decimal("4.2E-7")) == "0.00000042"
    assert _money.usd_digits(Decimal("1E+3")) == "1000"


def test_every_core_formats_dollars_the_same_whatever_the_thread_context() -> None:
    amount = Decimal("1234.56789")
    row = GroupSummary(
        key=("m",),
        requests=1,
        errors=0,
        timeouts=0,
        input_tokens=0,
        output_tokens=0,
        cache_read_tokens=0,
        reasoning_tokens=0,
        cost=amount,
        unknown_cost_calls=0,
        avg_latency=0.0,
        p95_latency=0.0,
        p50_latency=0.0,
    )
    with decimal.localcontext(LOW):
        assert format_amount(amount, "USD") == "$1,234.56789"
        assert usd(amount) == "$1,234.5679"
        assert usd(amount.copy_negate()) == "-$1,234.5679"
        assert "Total cost:     $1,234.567890" in format_summary([row], ("model",))
        assert row.as_dict()["cost"] == "1234.56789"


@pytest.mark.parametrize(
    ("amount", "person", "program"),
    [
        ("1E+300", "$1.000E+300", "1E+300"),  # a gateway's 1e300: 402 characters before
        ("-2.5E+5000", "-$2.500E+5000", "-2.5E+5000"),  # a cost parsed from text: any exponent
        ("Infinity", "$Infinity", "Infinity"),
    ],
)
def test_an_absurd_amount_is_written_in_exponent_form_wherever_it_goes(
    amount: str, person: str, program: str
) -> None:
    huge = Decimal(amount)
    assert _money.format_usd(huge, 6) == person
    assert _money.usd_digits(huge) == program
    assert usd(huge) == person  # the report's table
    assert format_amount(huge, "USD") == person  # budget messages
    assert format_amount(huge, "tokens") == person.replace("$", "") + " tokens"
    error = BudgetExceededError(Budget(limit_usd="5"), huge, Decimal(5), huge)
    assert len(str(error)) < 300


def test_usd_digits_keeps_every_digit_of_any_amount_a_call_can_cost() -> None:
    assert _money.usd_digits(Decimal("1E+45")) == "1" + "0" * 45
    assert _money.usd_digits(Decimal("1.5E-40")) == "0." + "0" * 39 + "15"
    assert _money.usd_digits(Decimal("1E-999999")) == "1E-999999"
