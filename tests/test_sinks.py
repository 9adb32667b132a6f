"""Sinks (summaries, ledger, budgets) get one CallRecord per finished call, sampled or not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client
from tokentrace.calls.records import CallRecord

MESSAGES = [{"role": "user", "content": "hi"}]


def test_record_fields(instrument: Any, telemetry: Telemetry) -> None:
    instrumentor = instrument()
    records: list[CallRecord] = []
    instrumentor.recorder.sinks.append(records.append)
    client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat(prompt=1000, completion=100))))
    with tokentrace.track("reports"), tokentrace.track("weekly"):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    (record,) = records
    assert record.tracking_id == "weekly"
    assert record.tracking_path == ("reports", "weekly")
    assert record.model == "gpt-4.1-2025-04-14"
    assert record.request_model == "gpt-4.1"
    assert (record.input_tokens, record.output_tokens) == (1000, 100)
    assert record.cost == Decimal("0.0028")  # 1000 x $2 + 100 x $8 per 1M tokens, exact
    assert record.cost_source == "local"
    assert record.status == "ok"
    assert record.duration > 0
    assert record.trace_id is not None
    assert len(record.trace_id) == 32
    assert record.trace_id == format(telemetry.span().context.trace_id, "032x")


def test_records_do_not_depend_on_sampling(instrument: Any, telemetry: Telemetry) -> None:
    unsampled = TracerProvider(sampler=ALWAYS_OFF)
    instrumentor = tokentrace.instrument(tracer_provider=unsampled, meter_provider=telemetry.meter_provider)
    try:
        assert instrumentor.recorder is not None
        records: list[CallRecord] = []
        instrumentor.recorder.sinks.append(records.append)
        client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        assert len(records) == 1
        assert records[0].cost is not None
        assert records[0].trace_id is None
    finally:
        tokentrace.uninstrument()


def test_failing_sink_never_reaches_the_caller(instrument: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TOKENTRACE_RAISE_INTERNAL_ERRORS", "0")
    instrumentor = instrument()

    def broken(record: CallRecord) -> None:
        raise OSError("disk full")

    seen: list[CallRecord] = []
    instrumentor.recorder.sinks.extend([broken, seen.append])
    client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
    assert client.chat.completions.create(model="gpt-4.1", messages=MESSAGES).id
    assert len(seen) == 1  # the next sink still got it


def test_timeout_status(instrument: Any) -> None:
    import openai

    from tests.sdk.mock_transport import http

    instrumentor = instrument()
    records: list[CallRecord] = []
    instrumentor.recorder.sinks.append(records.append)

    def slow(body: Any, request: Any) -> Any:
        raise http.ReadTimeout("simulated", request=request)

    with pytest.raises(openai.APITimeoutError):
        make_client(Recorder(slow)).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert records[0].status == "timeout"
    assert records[0].cost_unknown_reason == "error"
