"""Where the ledger lives by default: the user's data directory, as each platform defines it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["LEDGER_FILENAME", "default_ledger_path", "user_data_dir"]

LEDGER_FILENAME = "ledger.sqlite3"
_APP = "tokentrace"


def user_data_dir() -> Path:
    """The per-user data directory of tokentrace.

    ``%LOCALAPPDATA%\\tokentrace`` on Windows, ``~/Library/Application Support/tokentrace`` on macOS,
    else ``$XDG_DATA_HOME/tokentrace`` (``~/.local/share/tokentrace`` when unset or not absolute,
    as the XDG base directory specification says).
    """
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / _APP


def default_ledger_path() -> Path:
    """``user_data_dir() / "ledger.sqlite3"``."""
    return user_data_dir() / LEDGER_FILENAME
