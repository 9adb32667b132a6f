"""Fixtures of the SDK tests against a real server: a real openai client pointed at the local
OpenAI-compatible server (the `server` fixture of tests/conftest.py); the app's global tracer
provider, through which the anthropic SDK opens its own call spans; other instrumentations
switched on beside tokentrace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.util._once import Once

from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer

API_KEY = "sk-loopback-test"
"""The key the ``client`` fixture sends: tests look for it where it must never be."""


@pytest.fixture
def client(server: DevServer) -> Iterator[openai.OpenAI]:
    server.reset()
    with openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def global_provider(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> Telemetry:
    """``telemetry``'s tracer provider as the app's global one, as an app that configured
    OpenTelemetry (or that ``tokentrace.instrument()`` configured) has; the process's own global
    provider, set or not, is back after the test."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    trace.set_tracer_provider(telemetry.tracer_provider)
    return telemetry


Instrumentor = Any  # a BaseInstrumentor subclass instance; several of the peers ship no types


@pytest.fixture
def peer(telemetry: Telemetry) -> Iterator[Callable[..., None]]:
    """``peer(instrumentor, **options)`` switches another instrumentation on, exporting into the
    same providers as tokentrace; off again after the test."""
    switched: list[Instrumentor] = []

    def switch_on(instrumentor: Instrumentor, **options: Any) -> None:
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, **options
        )
        switched.append(instrumentor)

    yield switch_on
    for instrumentor in switched:
        instrumentor.uninstrument()
