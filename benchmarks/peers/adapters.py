"""Switching each peer on, the way its documentation says, against the same SDK providers.

Every peer gets one ``TracerProvider`` whose spans go through a ``SimpleSpanProcessor`` to an
exporter that counts and drops them, and one ``MeterProvider`` with an ``InMemoryMetricReader``
(aggregation only, collected once at the end). Both are also set as the global providers, for
peers that look there. Content capture is off for every peer (environment variables set by the
orchestrator, and the peer's own switch here).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from .payloads import CHAT_MODEL, EMBEDDING_MODEL

__all__ = ["Providers", "Skipped", "instrument", "providers_for"]


class Skipped(Exception):
    """This peer cannot run here (yet); the message says why."""


class CountingExporter(SpanExporter):
    """Drops spans, counting them and keeping the attribute count of the last one."""

    def __init__(self) -> None:
        self.spans = 0
        self.last_attributes = 0
        self.last_name = ""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        last = spans[-1]
        self.last_attributes = len(last.attributes or {})
        self.last_name = last.name
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Providers:
    def __init__(self, set_global: bool = True) -> None:
        self.exporter = CountingExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        if set_global:
            trace.set_tracer_provider(self.tracer_provider)
            metrics.set_meter_provider(self.meter_provider)

    def metric_summary(self) -> dict[str, int]:
        """Metric name -> number of data points (attribute sets) collected so far."""
        data = self.reader.get_metrics_data()
        out: dict[str, int] = {}
        if data is None:
            return out
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    out[metric.name] = out.get(metric.name, 0) + len(list(metric.data.data_points))
        return out


def providers_for(key: str) -> Providers:
    """The providers of peer ``key``: set globally too, but for a ``-no-global`` row.

    The anthropic SDK records a span of its own through the global tracer provider; the
    provider-SDK benchmark measures the rows without one apart (``peers.provider_catalog``).
    """
    return Providers(set_global=not key.endswith("-no-global"))


TRACKING_ID = "bench-feature"


def _tokentrace(providers: Providers, **extra: Any) -> Any:
    """tokentrace on, with every call made for a tracking id.

    The id is entered once for the worker's whole context (as a process or task serving one
    feature would), so each call pays for carrying it (a span attribute, a metric attribute on
    every point, the summary's key) but not for a ``with track(...)`` of its own: that is a
    context-variable set and reset, well under a microsecond. asyncio tasks copy the context, so
    async calls carry it too.
    """
    import tokentrace

    instrumentor = tokentrace.instrument(
        tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider, **extra
    )
    tokentrace.track(TRACKING_ID).__enter__()
    return instrumentor


def _ledger_and_budgets(workdir: str) -> dict[str, Any]:
    """The settings that switch on the ledger and a budget (TODO: keep in step with those APIs).

    A SQLite ledger in a scratch directory, and a USD budget far above anything the benchmark
    spends, so it is checked before and charged after every call but never stops one. Skipped
    with a note while ``tokentrace.ledger`` or ``tokentrace.Budget`` is missing, or while
    ``instrument()`` does not take ``ledger`` and ``budgets``.
    """
    import tokentrace
    from tokentrace.config import Settings

    missing = [
        name
        for name, present in (
            ("tokentrace.ledger", importlib.util.find_spec("tokentrace.ledger") is not None),
            ("tokentrace.Budget", hasattr(tokentrace, "Budget")),
            ("instrument(ledger=...)", "ledger" in Settings.__dataclass_fields__),
            ("instrument(budgets=...)", "budgets" in Settings.__dataclass_fields__),
        )
        if not present
    ]
    if missing:
        raise Skipped(f"not importable yet: {', '.join(missing)} (TODO hook in benchmarks/peers/adapters.py)")
    try:
        budget = tokentrace.Budget(limit_usd=1_000_000, window="day")
    except (TypeError, ValueError) as exc:
        raise Skipped(f"tokentrace.Budget's signature differs from the hook's: {exc}") from None
    return {"ledger": os.path.join(workdir, "ledger.sqlite3"), "budgets": [budget]}


def _openlit_prices(workdir: str) -> str:
    # OpenLIT downloads a price list at init unless given a file; this machine has no such network.
    path = os.path.join(workdir, "openlit-prices.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "chat": {CHAT_MODEL: {"promptPrice": 0.002, "completionPrice": 0.008}},
                "embeddings": {EMBEDDING_MODEL: 0.00002},
            },
            handle,
        )
    return path


def _genai_official(providers: Providers) -> None:
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

    # Content capture is off by default (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT unset).
    GoogleGenAiSdkInstrumentor().instrument(
        tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
    )


def _genai_openinference(providers: Providers) -> None:
    from openinference.instrumentation import TraceConfig
    from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor

    GoogleGenAIInstrumentor().instrument(
        tracer_provider=providers.tracer_provider, config=TraceConfig(hide_inputs=True, hide_outputs=True)
    )


def _genai_openllmetry(providers: Providers) -> None:
    from opentelemetry.instrumentation.google_generativeai import GoogleGenerativeAiInstrumentor

    # Content off through TRACELOOP_TRACE_CONTENT=false (catalog.WORKER_ENV).
    GoogleGenerativeAiInstrumentor().instrument(
        tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
    )


def _anthropic_openinference(providers: Providers) -> None:
    from openinference.instrumentation import TraceConfig
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(
        tracer_provider=providers.tracer_provider, config=TraceConfig(hide_inputs=True, hide_outputs=True)
    )


def _anthropic_openllmetry(providers: Providers) -> None:
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(
        tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
    )


_PROVIDER_PEERS = {
    "genai-official": _genai_official,
    "genai-openinference": _genai_openinference,
    "genai-openllmetry": _genai_openllmetry,
    "anthropic-openinference": _anthropic_openinference,
    "anthropic-openllmetry": _anthropic_openllmetry,
}
"""The provider-SDK benchmark's peers (``peers.provider_catalog``), each on its own SDK."""


def instrument(key: str, providers: Providers, workdir: str) -> Any:
    """Switch peer ``key`` on, with ``workdir`` for any file it needs. Returns the floor object
    for ``floor`` (the scenarios call through it), else None."""
    tp, mp = providers.tracer_provider, providers.meter_provider
    if key in ("baseline", "baseline-openai2", "sdk-baseline", "sdk-baseline-no-global", "genai2-baseline"):
        return None
    if key in _PROVIDER_PEERS:
        _PROVIDER_PEERS[key](providers)
        return None
    if key == "floor":
        from .floor import Floor

        return Floor(tp.get_tracer("floor"), mp.get_meter("floor"), "api.openai.com", 443)
    if key in ("tokentrace", "sdk-tokentrace", "sdk-tokentrace-no-global"):
        _tokentrace(providers)
        return None
    if key == "tokentrace-ledger":
        _tokentrace(providers, **_ledger_and_budgets(workdir))
        return None
    if key == "official":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
        return None
    if key == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
        return None
    if key == "openinference":
        from openinference.instrumentation import TraceConfig
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(
            tracer_provider=tp, config=TraceConfig(hide_inputs=True, hide_outputs=True)
        )
        return None
    if key == "openlit":
        import openlit
        from openlit._instrumentors import MODULE_NAME_MAP

        # It reuses the global SDK providers set above; only its openai instrumentation is wanted
        # (it would otherwise also instrument requests, httpx, urllib...).
        openlit.init(
            capture_message_content=False,
            disabled_instrumentors=[name for name in MODULE_NAME_MAP if name != "openai"],
            disable_events=True,
            pricing_json=_openlit_prices(workdir),
            collect_gpu_stats=False,
        )
        return None
    raise KeyError(key)
