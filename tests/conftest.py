"""Shared fixtures: real OpenTelemetry SDK exporters and readers, and an instrumented tokentrace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrace
from tokentrace.demo.server import DevServer


class Telemetry:
    """What an instrumented test run exported."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> data points."""
        found: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def metric(self, name: str) -> Any:
        """The metric object (with unit, data) of one name."""
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        return metric
        raise AssertionError(f"no metric {name}")


@pytest.fixture(autouse=True)
def _no_default_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write the user's own ledger; ledger tests name a file of their own."""
    monkeypatch.setenv("TOKENTRACE_LEDGER", "off")
    # Nor the user's saved price lookups (tests/pricing/test_saved_lookups.py names a folder).
    monkeypatch.setenv("TOKENTRACE_PRICE_CACHE", "off")


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    """The local server (OpenAI-compatible, Gemini and Anthropic APIs) on a free port of 127.0.0.1, one per test module, stopped
    after it (tests reset it between calls where they count requests)."""
    with DevServer() as running:
        yield running


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def instrument(telemetry: Telemetry) -> Iterator[Any]:
    """Call ``instrument(**settings)`` once in a test; always uninstrumented afterwards."""

    def _instrument(**settings: Any) -> tokentrace.Instrumentation:
        return tokentrace.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, **settings
        )

    yield _instrument
    tokentrace.uninstrument()


@pytest.fixture
def instrumented(instrument: Any, telemetry: Telemetry) -> Telemetry:
    """tokentrace with default settings, exporting into ``telemetry``."""
    instrument()
    return telemetry
