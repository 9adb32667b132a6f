"""Budgets that survive a restart: each starts from what the ledger says its window already spent.

Only read at ``instrument()``; the ledger is imported when a budget and a ledger file both exist.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from .. import _money, names
from .._guard import logger
from .book import BudgetBook
from .budget import Budget

__all__ = ["preload_from_ledger"]


def _spent_in(path: Path) -> Callable[[Budget, float, float], Decimal | int]:
    from ..ledger import read_calls

    def spent(budget: Budget, start: float, end: float) -> Decimal | int:
        usd = budget.unit == names.UNIT_USD
        total: Decimal | int = Decimal(0) if usd else 0
        for row in read_calls(path, since=start, until=end):
            if not budget.covers((row.request_model, row.response_model), row.tracking_path):
                continue
            if usd:
                total = _money.add(total, row.cost or _money.ZERO)
            else:
                total += (row.input_tokens or 0) + (row.output_tokens or 0)
        return total

    return spent


def preload_from_ledger(book: BudgetBook, path: Path | None) -> None:
    """Start each budget from what the ledger says was spent in its current window, so a restart
    does not reset a monthly budget. With a shared store, the ledger seeds the store instead,
    when it finds the store without a budget's figures (new, or restarted empty)."""
    if path is None or not book.budgets or not path.exists():
        return
    if book.shared is not None:
        # The fleet's figures are in the store; the ledger only seeds a store that lacks them.
        book.shared.seeder = _spent_in(path)
        return
    try:
        book.preload(_spent_in(path))
    except Exception as exc:  # a ledger we cannot read must not stop the app from starting
        logger.warning("tokentrace: could not read spent amounts from the ledger %s (%s)", path, exc)
