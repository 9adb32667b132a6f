"""The local ledger: one SQLite row per LLM call, written off the hot path, read back for reports.

``LedgerSink(path)`` is a recorder sink; ``read_calls``, ``read_figures``, ``totals`` and ``spent``
read a ledger back. Several processes may write and read one file at once.
"""

from __future__ import annotations

from .paths import default_ledger_path, user_data_dir
from .reader import CallFigures, LedgerRow, count_calls, read_calls, read_figures
from .schema import SCHEMA_VERSION, LedgerError
from .sink import LedgerSink
from .totals import GROUPINGS, LedgerTotals, spent, totals

__all__ = [
    "GROUPINGS",
    "SCHEMA_VERSION",
    "CallFigures",
    "LedgerError",
    "LedgerRow",
    "LedgerSink",
    "LedgerTotals",
    "count_calls",
    "default_ledger_path",
    "read_calls",
    "read_figures",
    "spent",
    "totals",
    "user_data_dir",
]
