"""Budgets as telemetry: span events when a budget warns, downgrades or refuses, and two gauges.

The gauges (spent and remaining per budget, per unit) are observed from the process's budget book
when metrics are collected, so no call pays for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import _money, names
from ..budgets import BudgetBook, BudgetError, BudgetExceededError, BudgetState
from ..budgets.gate import BudgetGate

__all__ = ["add_budget_events", "register_budget_metrics"]


def _event_attributes(state: BudgetState, outcome: str) -> dict[str, Any]:
    return {
        names.BUDGET_NAME: state.budget.name or "",
        names.BUDGET_OUTCOME: outcome,
        names.BUDGET_UNIT: state.budget.unit,
        names.BUDGET_SPENT: float(state.spent),
        names.BUDGET_LIMIT: float(state.limit),
        names.BUDGET_REMAINING: float(state.remaining),
    }


def _refusal_attributes(error: BudgetError) -> dict[str, Any]:
    if not isinstance(error, BudgetExceededError):  # the budgets could not be checked (fail closed)
        return {names.BUDGET_OUTCOME: names.BUDGET_UNAVAILABLE}
    return {
        names.BUDGET_NAME: error.budget.name or "",
        names.BUDGET_OUTCOME: names.BUDGET_REFUSED,
        names.BUDGET_UNIT: error.budget.unit,
        names.BUDGET_SPENT: float(error.spent),
        names.BUDGET_LIMIT: float(error.limit),
        names.BUDGET_REMAINING: float(max(_money.subtract(error.limit, error.spent), _money.ZERO)),
    }


def add_budget_events(span: Any, gate: BudgetGate) -> None:
    """One span event per budget that refused, downgraded or warned about the call."""
    if gate.refusal is not None:
        span.add_event(names.BUDGET_EVENT, _refusal_attributes(gate.refusal))
        return
    decision = gate.decision
    if decision is None:
        return
    if decision.downgraded_by is not None:
        span.add_event(names.BUDGET_EVENT, _event_attributes(decision.downgraded_by, names.BUDGET_DOWNGRADED))
    for state in decision.warnings:
        span.add_event(names.BUDGET_EVENT, _event_attributes(state, names.BUDGET_WARNED))


def register_budget_metrics(meter: Meter, book: BudgetBook) -> None:
    """Observable gauges of spent and remaining per budget, read when metrics are collected."""

    def observe(unit: str, field: str) -> Any:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            for state in book.states():
                if state.budget.unit == unit:
                    yield Observation(
                        float(getattr(state, field)), {names.BUDGET_NAME: state.budget.name or ""}
                    )

        return callback

    for unit, suffix, metric_unit in (
        (names.UNIT_USD, "", names.UNIT_USD),
        (names.BUDGET_UNIT_TOKENS, "_tokens", names.UNIT_TOKEN),
    ):
        meter.create_observable_gauge(
            names.BUDGET_REMAINING_METRIC + suffix,
            callbacks=[observe(unit, "remaining")],
            unit=metric_unit,
            description="What remains of each budget in its current window.",
        )
        meter.create_observable_gauge(
            names.BUDGET_SPENT_METRIC + suffix,
            callbacks=[observe(unit, "spent")],
            unit=metric_unit,
            description="What each budget has spent in its current window.",
        )
