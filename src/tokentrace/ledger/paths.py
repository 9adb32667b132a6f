"""Where the ledger lives: the user's data directory by default, as each platform defines it.

The ledger is on when asked for (``instrument(ledger=...)``, ``TOKENTRACE_LEDGER``), and by
default when the app has nowhere else to send its data: no OTLP endpoint configured and no
OpenTelemetry providers of its own.
"""

from __future__ import annotations

from pathlib import Path

from .. import config
from .._dirs import user_data_dir

__all__ = ["LEDGER_FILENAME", "default_ledger_path", "ledger_path", "user_data_dir"]

LEDGER_FILENAME = "ledger.sqlite3"


def default_ledger_path() -> Path:
    """``user_data_dir() / "ledger.sqlite3"``."""
    return user_data_dir() / LEDGER_FILENAME


def ledger_path(setting: str | bool | None, app_telemetry: bool = False) -> Path | None:
    """Where the ledger goes for this setting, or None when it is off.

    Unset, the ledger is the embedded default for an app that has nowhere else to send its data:
    it is off when an OTLP endpoint is configured or when the app set up OpenTelemetry providers
    of its own (``app_telemetry``), whose pipeline then has the data.
    """
    if setting is False:
        return None
    if setting is None and (app_telemetry or config.otlp_endpoint_configured()):
        return None  # the data goes to the app's own pipeline; the ledger is on only when asked for
    if setting is None or setting is True:
        return default_ledger_path()
    return Path(setting).expanduser()
