"""Where tokentrace keeps files for the user: its data folder (the ledger) and its cache folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import config, names

__all__ = ["user_cache_dir", "user_data_dir"]

_APP = "tokentrace"


def user_data_dir() -> Path:
    """The per-user data directory of tokentrace.

    ``%LOCALAPPDATA%\\tokentrace`` on Windows, ``~/Library/Application Support/tokentrace`` on macOS,
    else ``$XDG_DATA_HOME/tokentrace`` (``~/.local/share/tokentrace`` when unset or not absolute,
    as the XDG base directory specification says).
    """
    if sys.platform == "win32":
        local = config.environment_value(names.ENV_LOCALAPPDATA)
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = config.environment_value(names.ENV_XDG_DATA_HOME)
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / _APP


def user_cache_dir() -> Path:
    """The per-user cache directory of tokentrace (files it can always make again).

    ``%LOCALAPPDATA%\\tokentrace\\Cache`` on Windows, ``~/Library/Caches/tokentrace`` on macOS, else
    ``$XDG_CACHE_HOME/tokentrace`` (``~/.cache/tokentrace`` when unset or not absolute).
    """
    if sys.platform == "win32":
        local = config.environment_value(names.ENV_LOCALAPPDATA)
        return (Path(local) if local else Path.home() / "AppData" / "Local") / _APP / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / _APP
    xdg = config.environment_value(names.ENV_XDG_CACHE_HOME)
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / _APP
