"""What a sink writes is what a reader reads back: every field, and costs to the last digit."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ledger._helpers import T0, record
from tokentrace.calls.records import CallRecord
from tokentrace.ledger import CallFigures, LedgerSink, read_calls, read_figures

ODD_COSTS = [
    Decimal("0.0028"),
    Decimal("0.00000042"),
    Decimal("1E-20"),  # finer than the integer column: summed from the text
    Decimal("123456789.123456789123456789"),
    Decimal("0"),
    Decimal("0.10"),
]


def write(path: Path, records: list[CallRecord]) -> None:
    with LedgerSink(path) as sink:
        for one in records:
            sink(one)
        assert sink.flush()


@pytest.mark.parametrize("cost", ODD_COSTS)
def test_cost_comes_back_as_the_same_decimal(tmp_path: Path, cost: Decimal) -> None:
    path = tmp_path / "ledger.sqlite3"
    write(path, [record(cost=cost)])
    (row,) = read_calls(path)
    assert row.cost == cost
    assert str(row.cost) == str(cost)  # the same digits and exponent: no float on the way


def test_every_field_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    original = record(
        timestamp=T0 + 0.123456,
        duration=1.5,
        operation="embeddings",
        provider="azure.ai.openai",
        server_address="contoso.openai.azure.com",
        request_model="text-embedding-3-small",
        response_model=None,
        tracking_id="a/b",
        tracking_path=("tenant é", "a/b"),
        input_tokens=12,
        output_tokens=0,
        cache_read_tokens=3,
        cache_write_tokens=4,
        reasoning_tokens=5,
        cost=Decimal("0.00000024"),
        cost_source="provider",
        error_type="APITimeoutError",
        timed_out=True,
        stream=True,
    )
    write(path, [original])
    (row,) = read_calls(path)
    assert row.id == 1
    assert row.ts == original.timestamp
    assert row.duration == original.duration
    assert (row.operation, row.provider, row.server_address) == (
        "embeddings",
        "azure.ai.openai",
        "contoso.openai.azure.com",
    )
    assert (row.request_model, row.response_model, row.model) == (
        "text-embedding-3-small",
        None,
        "text-embedding-3-small",
    )
    assert (row.tracking_id, row.tracking_path) == ("a/b", ("tenant é", "a/b"))
    assert (row.input_tokens, row.output_tokens) == (12, 0)
    assert (row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens) == (3, 4, 5)
    assert (row.cost, row.cost_source, row.cost_unknown_reason) == (Decimal("0.00000024"), "provider", None)
    assert (row.status, row.error_type, row.stream) == ("timeout", "APITimeoutError", True)
    assert (row.trace_id, row.span_id) == (original.trace_id, original.span_id)


def test_unknown_values_stay_unknown(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write(
        path,
        [
            record(
                tracking_id=None,
                tracking_path=(),
                input_tokens=None,
                output_tokens=None,
                cost=None,
                cost_source=None,
                cost_unknown_reason="unpriced_model",
                trace_id=None,
                span_id=None,
                error_type="RateLimitError",
            )
        ],
    )
    (row,) = read_calls(path)
    assert (row.tracking_id, row.tracking_path, row.input_tokens, row.output_tokens) == (None, (), None, None)
    assert (row.cost, row.cost_unknown_reason, row.status) == (None, "unpriced_model", "error")
    assert (row.trace_id, row.span_id) == (None, None)


def test_cost_is_stored_as_text_plus_exact_integer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write(path, [record(cost=Decimal("0.0028")), record(cost=Decimal("1E-20"))])
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT cost_usd, cost_pico_usd FROM calls ORDER BY id").fetchall()
    assert stored == [("0.0028", 2_800_000_000), ("0.00000000000000000001", None)]


def test_period_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write(
        path,
        [
            record(timestamp=T0 + 2, tracking_id="b"),
            record(timestamp=T0, tracking_id="a"),
            record(timestamp=T0 + 1, tracking_id="a", request_model="deepseek-v3.2", response_model=None),
            record(timestamp=T0 + 3, tracking_id="a"),
        ],
    )
    assert [row.ts - T0 for row in read_calls(path)] == [0, 1, 2, 3]  # oldest first
    assert [row.ts - T0 for row in read_calls(path, T0 + 1, T0 + 3)] == [1, 2]  # since <= ts < until
    assert [row.ts - T0 for row in read_calls(path, tracking_id="a")] == [0, 1, 3]
    assert [row.ts - T0 for row in read_calls(path, model="deepseek-v3.2")] == [1]
    assert [row.ts - T0 for row in read_calls(path, model="gpt-4.1")] == [0, 2, 3]  # requested
    assert len(list(read_calls(path, model="gpt-4.1-2025-04-14"))) == 3  # or answering


def test_read_figures_is_the_same_calls_in_fewer_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write(path, [record(), record(timestamp=T0 + 1, cost=None, error_type="X")])
    full = list(read_calls(path))
    lean = list(read_figures(path))
    assert all(isinstance(one, CallFigures) for one in lean)
    for row, figures in zip(full, lean, strict=True):
        for name in CallFigures._fields:
            assert getattr(figures, name) == getattr(row, name), name
        assert figures.model == row.model


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no ledger"):
        read_calls(tmp_path / "nope.sqlite3")
    assert not (tmp_path / "nope.sqlite3").exists()  # readers never create a ledger


def _stored(
    path: Path, rows: list[tuple[object, ...]], single_statement: bool, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[object, ...]]:
    from tokentrace.ledger import schema

    monkeypatch.setattr(schema, "SINGLE_STATEMENT_INSERT", single_statement)
    schema.create_ledger(path)
    conn = schema.connect(path)
    schema.migrate(conn, path, schema.MIGRATIONS)
    conn.execute("BEGIN IMMEDIATE")
    schema.insert_rows(conn, rows)
    conn.execute("COMMIT")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(calls)")]
    select = ", ".join(f"{c}, typeof({c})" for c in columns)
    stored = conn.execute(f"SELECT {select} FROM calls ORDER BY id").fetchall()
    conn.close()
    return stored


def test_one_statement_stores_exactly_what_bound_values_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch insert (one JSON value) keeps every value and its SQL type, odd ones included."""
    from tokentrace.ledger.schema import record_to_row

    odd = [
        record(timestamp=T0 + 0.1 + n / 7, duration=n * 0.3 + 1e-9, input_tokens=n, cost=cost)
        for n, cost in enumerate(ODD_COSTS)
    ]
    odd.append(
        record(
            tracking_id='it\'s "quoted" \\ back',
            tracking_path=("ünïcode 🚀", 'it\'s "quoted" \\ back'),
            request_model="m\nline\ttab\x01",
            response_model=None,
            cost=None,
            input_tokens=None,
        )
    )
    odd.append(record(cost=Decimal("9223372.036854775807"), output_tokens=2**31))
    batch = [record_to_row(r) for r in odd]
    one = _stored(tmp_path / "one.sqlite3", batch, True, monkeypatch)
    bound = _stored(tmp_path / "bound.sqlite3", batch, False, monkeypatch)
    assert one == bound
    assert len(one) == len(batch)


def test_a_call_with_a_non_finite_time_is_skipped_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.sqlite3"
    write(
        path,
        [record(timestamp=T0), record(timestamp=T0 + 1, duration=float("nan")), record(timestamp=T0 + 2)],
    )
    assert [row.ts for row in read_calls(path)] == [T0, T0 + 2]
    assert any("could not write" in r.getMessage() for r in caplog.records)
