"""Budgets at the call site: what a call's budgets decide before its request leaves the process.

Every patch gates its calls through ``gate`` (via the call skeleton); the recorder charges the
finished call to the same book. Pure: no OpenTelemetry here (the budget gauges and span events are
in ``telemetry.budget_metrics``).

A budget that cannot decide still decides: when checking fails (a bug, a corrupt amount, later an
unreachable shared store), the book's ``failure_mode`` says what the call gets. ``open`` sends it
as if it had no budget (recorded and charged like any call; logged once), ``closed`` refuses it
with `BudgetUnavailableError`, recorded like any refusal. Either way the call keeps its span and
its ledger row: a failed check never lets a call through unrecorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import config, names
from .._guard import logger
from ..calls.apis.request import MAX_TOKEN_PARAMS
from .book import BudgetBook, Decision
from .budget import BudgetError, BudgetExceededError, BudgetState, BudgetUnavailableError
from .estimate import estimate_prompt_tokens, worst_case_cost

if TYPE_CHECKING:
    from ..pricing import PriceBook

__all__ = ["BudgetGate", "gate"]

_PROMPT_KEYS = ("messages", "input", "prompt", "contents")  # ``contents``: the Gemini API


def _max_output(body: Mapping[str, Any]) -> int | None:
    """The request's bound on its output: a top-level key, or the Gemini API's ``generationConfig``."""
    found = next((body[k] for k in MAX_TOKEN_PARAMS if type(body.get(k)) is int), None)
    if found is None:
        config = body.get("generationConfig")
        if isinstance(config, Mapping) and type(config.get("maxOutputTokens")) is int:
            found = config["maxOutputTokens"]
    return found


def _worst_case(prices: PriceBook, provider: str, body: Mapping[str, Any]) -> Any:
    """Worst case of a call for ``precheck`` budgets, per model (a downgrade is priced as such)."""
    max_output = _max_output(body)
    if max_output is None:
        return None  # no output bound, no worst case: the call reserves nothing
    prompt = next((body[k] for k in _PROMPT_KEYS if body.get(k) is not None), "")
    estimate = estimate_prompt_tokens(prompt)

    def for_model(model: str | None) -> Decimal | None:
        rates = prices.rates(provider, model) if model else None
        return worst_case_cost(rates, estimate, max_output) if rates is not None else None

    return for_model


class BudgetGate:
    """The outcome of checking one call's budgets."""

    __slots__ = ("decision", "model", "refusal")

    def __init__(self, decision: Decision | None, model: str | None, refusal: BudgetError | None) -> None:
        self.decision = decision
        self.model = model
        self.refusal = refusal

    @property
    def downgraded_from(self) -> str | None:
        return self.decision.downgraded_from if self.decision is not None else None


def gate(
    book: BudgetBook,
    prices: PriceBook,
    provider: str,
    model: str | None,
    tracking_path: tuple[str, ...],
    body: Mapping[str, Any],
) -> BudgetGate | None:
    """Check the budgets covering a call; None when there are none (the common, free case)."""
    if book.empty:
        return None
    try:
        budgets = book.budgets
        worst = _worst_case(prices, provider, body) if any(b.precheck for b in budgets) else None
        decision = book.check(model=model, tracking_path=tracking_path, worst_case_usd=worst)
    except (BudgetExceededError, BudgetUnavailableError) as refusal:  # spent, or a store down (closed)
        return BudgetGate(None, model, refusal)
    except Exception as exc:
        return _undecided(book.failure_mode, model, exc)
    for state in decision.warnings:
        _warn_once(state)
    return BudgetGate(decision, decision.model, None)


_failures_reported: set[tuple[str, str]] = set()


def _undecided(mode: str, model: str | None, exc: Exception) -> BudgetGate | None:
    """What a call gets when its budgets could not be checked: a refusal (``closed``), or no gate
    at all (``open``: sent, recorded and charged like a call no budget covers)."""
    what = type(exc).__name__
    if mode == names.BUDGET_FAILURE_CLOSED:
        refusal = BudgetUnavailableError(what)
        refusal.__cause__ = exc
        _report_once(mode, what, "refused", exc)
        return BudgetGate(None, model, refusal)
    if config.raise_internal_errors():
        raise exc  # under the test suite a failing check is a bug to see, not a call to wave on
    _report_once(mode, what, "sent unchecked", exc)
    return None


def _report_once(mode: str, what: str, outcome: str, exc: Exception) -> None:
    key = (mode, what)
    if key not in _failures_reported and len(_failures_reported) < 100:
        _failures_reported.add(key)
        logger.warning(
            "tokentrace: the budgets could not be checked (%s: %s); calls are %s while this lasts "
            "(budget_failure_mode=%s). Said once per kind of failure.",
            what,
            exc,
            outcome,
            mode,
        )
    logger.debug("tokentrace: budget check failed", exc_info=exc)


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
