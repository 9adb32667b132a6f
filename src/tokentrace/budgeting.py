"""Budgets at the call site: checked before a request leaves the process, charged after it.

The book of budgets is process-wide (``instrument(budgets=...)`` or ``tokentrace.add_budget``), so
every patch — SDK or plain HTTP — gates its calls through ``gate`` and the recorder charges the
finished call. Budget state is visible as two observable gauges per unit and as span events when a
budget warns, downgrades or refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from . import names
from ._guard import logger
from .budgets import (
    Budget,
    BudgetBook,
    BudgetExceededError,
    BudgetState,
    Decision,
    estimate_prompt_tokens,
    worst_case_cost,
)
from .costing import price_book

__all__ = ["BudgetGate", "add_budget", "budget_book", "budget_states", "register_budget_metrics"]

_book = BudgetBook()


def budget_book() -> BudgetBook:
    """The process-wide book of budgets."""
    return _book


def add_budget(budget: Budget) -> Budget:
    """Add a budget now; it applies to the next call. Returns it (for ``remove``)."""
    _book.add(budget)
    return budget


def budget_states() -> list[BudgetState]:
    """Spend and what remains of every budget, in its current window."""
    return _book.states()


def set_budgets(budgets: Iterable[Budget]) -> None:
    for budget in _book.budgets:
        _book.remove(budget)
    for budget in budgets:
        _book.add(budget)


_PROMPT_KEYS = ("messages", "input", "prompt")
_MAX_OUTPUT_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def _worst_case(provider: str, body: Mapping[str, Any]) -> Any:
    """Worst case of a call for ``precheck`` budgets, per model (a downgrade is priced as such)."""
    max_output = next((body[k] for k in _MAX_OUTPUT_KEYS if type(body.get(k)) is int), None)
    if max_output is None:
        return None  # no output bound, no worst case: the call reserves nothing
    prompt = next((body[k] for k in _PROMPT_KEYS if body.get(k) is not None), "")
    estimate = estimate_prompt_tokens(prompt)

    def for_model(model: str | None) -> Decimal | None:
        rates = price_book().rates(provider, model) if model else None
        return worst_case_cost(rates, estimate, max_output) if rates is not None else None

    return for_model


class BudgetGate:
    """The outcome of checking one call's budgets."""

    __slots__ = ("decision", "model", "refusal")

    def __init__(
        self, decision: Decision | None, model: str | None, refusal: BudgetExceededError | None
    ) -> None:
        self.decision = decision
        self.model = model
        self.refusal = refusal

    @property
    def downgraded_from(self) -> str | None:
        return self.decision.downgraded_from if self.decision is not None else None


def gate(
    provider: str, model: str | None, tracking_path: tuple[str, ...], body: Mapping[str, Any]
) -> BudgetGate | None:
    """Check the budgets covering a call; None when there are none (the common, free case)."""
    if _book.empty:
        return None
    budgets = _book.budgets
    worst = _worst_case(provider, body) if any(b.precheck for b in budgets) else None
    try:
        decision = _book.check(model=model, tracking_path=tracking_path, worst_case_usd=worst)
    except BudgetExceededError as refusal:
        return BudgetGate(None, model, refusal)
    for state in decision.warnings:
        _warn_once(state)
    return BudgetGate(decision, decision.model, None)


_warned: set[tuple[str, float]] = set()


def _warn_once(state: BudgetState) -> None:
    key = (state.budget.name or "", state.window_start)
    if key in _warned:
        return
    if len(_warned) > 10_000:
        _warned.clear()
    _warned.add(key)
    logger.warning(
        "tokentrace: budget %r is over its limit (%s of %s spent this window); calls continue (action=warn)",
        state.budget.name,
        state.spent,
        state.limit,
    )


def event_attributes(state: BudgetState, outcome: str) -> dict[str, Any]:
    """Span event attributes describing one budget's state."""
    return {
        names.BUDGET_NAME: state.budget.name or "",
        names.BUDGET_OUTCOME: outcome,
        names.BUDGET_UNIT: state.budget.unit,
        names.BUDGET_SPENT: float(state.spent),
        names.BUDGET_LIMIT: float(state.limit),
        names.BUDGET_REMAINING: float(state.remaining),
    }


def refusal_attributes(error: BudgetExceededError) -> dict[str, Any]:
    return {
        names.BUDGET_NAME: error.budget.name or "",
        names.BUDGET_OUTCOME: "refused",
        names.BUDGET_UNIT: error.budget.unit,
        names.BUDGET_SPENT: float(error.spent),
        names.BUDGET_LIMIT: float(error.limit),
        names.BUDGET_REMAINING: float(max(error.limit - error.spent, Decimal(0))),
    }


def register_budget_metrics(meter: Meter) -> None:
    """Observable gauges of spent and remaining per budget, read when metrics are collected."""

    def observe(unit: str, field: str) -> Any:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            for state in _book.states():
                if state.budget.unit == unit:
                    yield Observation(
                        float(getattr(state, field)), {names.BUDGET_NAME: state.budget.name or ""}
                    )

        return callback

    for unit, suffix, metric_unit in (("USD", "", names.UNIT_USD), ("tokens", "_tokens", names.UNIT_TOKEN)):
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


__all__ += ["Budget", "BudgetExceededError", "gate", "set_budgets"]
