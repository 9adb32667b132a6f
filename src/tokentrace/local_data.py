"""The data tokentrace keeps in the process and on the host: summaries and the SQLite ledger.

Summaries are always on (bounded memory, a few µs per call). The ledger is on when asked for
(``instrument(ledger=...)``, ``TOKENTRACE_LEDGER``), and by default when the app has nowhere else
to send its data: no OTLP endpoint configured and no OpenTelemetry providers of its own. Budgets
read what was already spent in their windows from the ledger at start, so a restart does not reset
a monthly budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from ._guard import logger
from .budgets import Budget, BudgetBook

__all__ = ["ledger_path", "preload_budgets"]

_OTLP_ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


def ledger_path(setting: str | bool | None, app_telemetry: bool = False) -> Path | None:
    """Where the ledger goes for this setting, or None when it is off.

    Unset, the ledger is the embedded default for an app that has nowhere else to send its data:
    it is off when an OTLP endpoint is configured or when the app set up OpenTelemetry providers
    of its own (``app_telemetry``), whose pipeline then has the data.
    """
    if setting is False:
        return None
    if setting is None and (app_telemetry or any(os.environ.get(name) for name in _OTLP_ENDPOINT_VARIABLES)):
        return None  # the data goes to the app's own pipeline; the ledger is on only when asked for
    from .ledger import default_ledger_path

    if setting is None or setting is True:
        return Path(default_ledger_path())
    return Path(setting).expanduser()


def _spent_in(path: Path) -> Callable[[Budget, float, float], Decimal | int]:
    from .ledger import read_calls

    def spent(budget: Budget, start: float, end: float) -> Decimal | int:
        usd = budget.unit == "USD"
        total: Decimal | int = Decimal(0) if usd else 0
        for row in read_calls(path, since=start, until=end):
            if not budget.covers((row.request_model, row.response_model), row.tracking_path):
                continue
            if usd:
                total += row.cost or Decimal(0)
            else:
                total += (row.input_tokens or 0) + (row.output_tokens or 0)
        return total

    return spent


def preload_budgets(book: BudgetBook, path: Path | None) -> None:
    """Start each budget from what the ledger says was spent in its current window."""
    if path is None or not book.budgets or not path.exists():
        return
    try:
        book.preload(_spent_in(path))
    except Exception as exc:  # a ledger we cannot read must not stop the app from starting
        logger.warning("tokentrace: could not read spent amounts from the ledger %s (%s)", path, exc)
