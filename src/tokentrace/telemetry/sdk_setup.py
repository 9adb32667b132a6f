"""SDK providers for apps that configured none, from the standard ``OTEL_*`` variables.

``opentelemetry-instrument`` configures providers itself; this covers ``tokentrace.instrument()``
in an app that never set OpenTelemetry up. Exporters are found by name through the same entry
points the OpenTelemetry SDK uses (``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``otlp``,
``console``, ``none``). With no exporter named and no OTLP endpoint set, nothing is exported over
the network — no failing exports to a collector that is not there.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from opentelemetry import metrics, trace

from .. import config
from .._guard import logger

__all__ = ["app_configured_telemetry", "ensure_providers"]


def _exporter_names(kind: str) -> list[str]:
    configured = config.exporter_names(kind)
    if configured is None:
        return ["otlp"] if config.otlp_endpoint_configured(kind) else []
    return configured


def _load_exporter(group: str, name: str) -> Any | None:
    # ``otlp`` is registered by the gRPC meta-package; our own dependency is the HTTP exporter.
    candidates = [name, "otlp_proto_http"] if name == "otlp" else [name]
    for candidate in candidates:
        for entry in entry_points(group=group, name=candidate):
            return entry.load()()
    logger.warning("tokentrace: no OpenTelemetry exporter named %r is installed (%s)", name, group)
    return None


_ours: list[object] = []  # the providers ensure_providers installed


def app_configured_telemetry(tracer_provider: object = None, meter_provider: object = None) -> bool:
    """Whether the app set up OpenTelemetry itself: handed providers over, or installed global ones."""
    if tracer_provider is not None or meter_provider is not None:
        return True
    tracer_global = trace.get_tracer_provider()
    meter_global = metrics.get_meter_provider()
    return any(
        not (
            provider in _ours or isinstance(provider, trace.ProxyTracerProvider) or _is_proxy_meter(provider)
        )
        for provider in (tracer_global, meter_global)
    )


def _is_proxy_meter(provider: object) -> bool:
    return type(provider).__name__ == "_ProxyMeterProvider"


def ensure_providers(traces: bool = True, metrics_: bool = True) -> None:
    """Install SDK tracer and/or meter providers where the app has none."""
    if traces and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider = TracerProvider(resource=Resource.create())
        for name in _exporter_names("traces"):
            exporter = _load_exporter("opentelemetry_traces_exporter", name)
            if exporter is not None:
                tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        _ours.append(trace.get_tracer_provider())

    if metrics_ and _is_proxy_meter(metrics.get_meter_provider()):
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource

        readers = []
        for name in _exporter_names("metrics"):
            exporter = _load_exporter("opentelemetry_metrics_exporter", name)
            if exporter is not None:
                readers.append(PeriodicExportingMetricReader(exporter))
        metrics.set_meter_provider(MeterProvider(resource=Resource.create(), metric_readers=readers))
        _ours.append(metrics.get_meter_provider())
