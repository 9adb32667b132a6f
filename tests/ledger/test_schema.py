"""Which files are ledgers: corrupt and foreign files are refused by name; schemas only move forward."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ledger._helpers import record
from tokentrace.ledger import SCHEMA_VERSION, LedgerError, LedgerSink, read_calls, read_figures, spent, totals
from tokentrace.ledger import schema as ledger_schema


def open_everywhere(path: Path) -> list[LedgerError]:
    """What a writer and each reader say about the file."""
    errors = []
    for attempt in (
        lambda: LedgerSink(path),
        lambda: list(read_calls(path)),
        lambda: totals(path),
        lambda: spent(path, 0),
    ):
        with pytest.raises(LedgerError) as caught:
            attempt()
        errors.append(caught.value)
    return errors


def test_a_file_that_is_not_sqlite_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is a text file, not a database\n" * 200)
    for error in open_everywhere(path):
        assert error.path == path
        assert str(path) in str(error)
        assert "not a tokentrace ledger" in str(error)
    assert path.read_bytes().startswith(b"this is a text file")  # left untouched


def test_a_corrupted_ledger_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(record())
    data = bytearray(path.read_bytes())
    data[:16] = b"garbage garbage!"  # the SQLite header is gone
    path.write_bytes(bytes(data))
    for error in open_everywhere(path):
        assert str(path) in str(error)


def test_someone_elses_sqlite_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    for error in open_everywhere(path):
        assert str(path) in str(error)
        assert "not a tokentrace ledger (tables: users)" in str(error)
    with sqlite3.connect(path) as conn:  # and not altered
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == [
            "users"
        ]


def test_another_applications_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 1234")
    with pytest.raises(LedgerError, match="application_id 0x4d2"):
        LedgerSink(path)


def test_a_ledger_from_a_newer_tokentrace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    LedgerSink(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for error in open_everywhere(path):
        assert "newer tokentrace" in str(error)
        assert str(path) in str(error)


def test_an_empty_file_becomes_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.touch()
    assert list(read_calls(path)) == []  # a reader sees no calls and leaves it be
    assert spent(path, 0) == Decimal(0)
    with LedgerSink(path) as sink:
        sink(record())
    assert len(list(read_calls(path))) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == ledger_schema.APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _v2_adds_a_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE calls ADD COLUMN region TEXT")
    conn.execute("UPDATE calls SET region = 'eu'")


def test_a_migration_moves_an_old_ledger_forward_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:  # a ledger of this release with one call
        sink(record())
    migrations = (*ledger_schema.MIGRATIONS, _v2_adds_a_column)
    with LedgerSink(path, migrations=migrations) as sink:  # a later tokentrace opens it
        sink(record())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT region FROM calls ORDER BY id").fetchall() == [("eu",), (None,)]
    with LedgerSink(path, migrations=migrations) as sink:  # already v2: nothing runs again
        sink(record())
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(region) FROM calls").fetchone() == (3, 1)
    with pytest.raises(LedgerError, match="newer tokentrace"):
        LedgerSink(path)  # and this release no longer writes to it


def test_a_failing_migration_leaves_the_ledger_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(record())

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE calls ADD COLUMN region TEXT")
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        ledger_schema.migrate(ledger_schema.connect(path), path, (*ledger_schema.MIGRATIONS, broken))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in conn.execute("PRAGMA table_info(calls)")]
    assert "region" not in columns


def test_indexes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    LedgerSink(path).close()
    with sqlite3.connect(path) as conn:
        indexes = {
            row[0]: [c[2] for c in conn.execute(f"PRAGMA index_info({row[0]})")]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls'"
            )
        }
    assert indexes == {
        "calls_ts": ["ts"],
        "calls_tracking_id_ts": ["tracking_id", "ts"],
        "calls_response_model_ts": ["response_model", "ts"],
        "calls_request_model_ts": ["request_model", "ts"],
    }


def test_a_ledger_of_the_first_release_stays_readable(tmp_path: Path) -> None:
    """Schema 1 had no ``fallback_from``: its rows read with None, and new rows keep their model."""
    path = tmp_path / "ledger.sqlite3"
    ledger_schema.create_ledger(path)
    conn = ledger_schema.connect(path)
    try:  # what release 1 wrote: its one migration, and a row of its 23 columns
        ledger_schema.migrate(conn, path, ledger_schema.MIGRATIONS[:1])
        row = ledger_schema.record_to_row(record())[:23]
        columns = ledger_schema.INSERT_SQL.split("(", 1)[1].split(")", 1)[0].rsplit(",", 1)[0]
        conn.execute(f"INSERT INTO calls ({columns}) VALUES ({', '.join('?' * 23)})", row)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()
    (old,) = read_calls(path)  # the reader brings the file forward first
    assert old.fallback_from is None and old.cost == Decimal("0.0028")
    with LedgerSink(path) as sink:
        sink(record(request_model="gemini-2.5-flash", fallback_from="deepseek-v3.2"))
    assert [row.fallback_from for row in read_calls(path)] == [None, "deepseek-v3.2"]
    assert [row.fallback_from for row in read_figures(path)] == [None, "deepseek-v3.2"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
