"""Where the ledger lives by default: the user's data directory, as each platform defines it."""

from __future__ import annotations

from pathlib import Path

from .._dirs import user_data_dir

__all__ = ["LEDGER_FILENAME", "default_ledger_path", "user_data_dir"]

LEDGER_FILENAME = "ledger.sqlite3"


def default_ledger_path() -> Path:
    """``user_data_dir() / "ledger.sqlite3"``."""
    return user_data_dir() / LEDGER_FILENAME
