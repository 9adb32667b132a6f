"""Where the ledger lives when nobody says: the platform's per-user data directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tokentrace.ledger import default_ledger_path


def test_linux_uses_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / "tokentrace" / "ledger.sqlite3"


@pytest.mark.parametrize("value", ["", "relative/dir"])
def test_linux_falls_back_to_local_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", value)  # unset or relative: ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / ".local" / "share" / "tokentrace" / "ledger.sqlite3"


def test_macos(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (
        default_ledger_path()
        == tmp_path / "Library" / "Application Support" / "tokentrace" / "ledger.sqlite3"
    )


def test_windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path))
    assert default_ledger_path() == tmp_path / "tokentrace" / "ledger.sqlite3"
