"""The framework matrix's fixtures: one local OpenAI-compatible server per module, started on a free
port of 127.0.0.1 and stopped after, and tokentrace instrumented the way a user of a framework
pointed at such a server would instrument it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.frameworks._matrix import Matrix
from tokentrace.demo.server import DevServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Sockets the frameworks leave open are theirs, not tokentrace's: openai-agents' and
    pydantic-ai's ``run_sync`` keep an event loop (and its HTTP connections) per thread that they
    never close, and the garbage collector reports them in whichever later test it runs in. Every
    other warning stays an error here too."""
    for item in items:
        if "tests/frameworks/" in item.nodeid:
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))


@pytest.fixture
def matrix(server: DevServer, instrument: Callable[..., Any], telemetry: Telemetry) -> Matrix:
    server.reset()
    return Matrix(server, instrument, telemetry)


@pytest.fixture
def openai_v2(telemetry: Telemetry) -> Iterator[Callable[[], None]]:
    """Switches the official ``opentelemetry-instrumentation-openai-v2`` on, exporting to the same
    providers as tokentrace (as ``opentelemetry-instrument`` would load both); always off again
    after the test."""
    openai_v2 = pytest.importorskip(
        "opentelemetry.instrumentation.openai_v2",
        reason="opentelemetry-instrumentation-openai-v2 is not installed: it runs in .venv-frameworks",
    )
    instrumentor = openai_v2.OpenAIInstrumentor()
    yield lambda: instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    instrumentor.uninstrument()
