"""pydantic-ai's OpenAI chat model against the local server: ``run_sync``, ``run_stream``, ``run``
and ``run_sync`` in a thread pool; then the same with pydantic-ai's own OpenTelemetry
instrumentation switched on (``Agent.instrument_all``), which opens a ``chat`` span of its own
around the call and records the same token and duration histograms."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Telemetry
from tests.frameworks._matrix import MODEL, PROMPT, Matrix, close_on_thread_loop, in_thread_pool, run_async
from tokentrace.demo.server import DevServer

pydantic_ai = pytest.importorskip(
    "pydantic_ai", reason="pydantic-ai is not installed: the framework matrix runs in .venv-frameworks"
)
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402


def agent(client: openai.AsyncOpenAI) -> Any:
    return pydantic_ai.Agent(OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client)))


def client_of(server: DevServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-pydantic-ai", max_retries=0)


def outcome(output: Any, usage: Any) -> Any:
    # ``usage`` became a property in pydantic-ai 2 (it was a method before).
    usage = usage() if callable(usage) else usage
    return (output, usage.requests, usage.input_tokens, usage.output_tokens)


def plain(server: DevServer) -> Any:
    client = client_of(server)
    try:
        result = agent(client).run_sync(PROMPT)
        return outcome(result.output, result.usage)
    finally:
        close_on_thread_loop(client.close)


def streamed(server: DevServer) -> Any:
    async def call() -> Any:
        async with client_of(server) as client, agent(client).run_stream(PROMPT) as result:
            deltas = [delta async for delta in result.stream_text(delta=True)]
            return deltas, outcome(await result.get_output(), result.usage)

    return run_async(call)


def asynchronous(server: DevServer) -> Any:
    async def call() -> Any:
        async with client_of(server) as client:
            result = await agent(client).run(PROMPT)
            return outcome(result.output, result.usage)

    return run_async(call)


def thread_pool(server: DevServer) -> Any:
    return in_thread_pool(lambda: plain(server))


CALLS = [plain, streamed, asynchronous, thread_pool]


@pytest.mark.parametrize("call", CALLS)
def test_pydantic_ai_call(matrix: Matrix, server: DevServer, call: Any) -> None:
    matrix.check(lambda: call(server))


@pytest.fixture
def pydantic_ai_instrumentation(telemetry: Telemetry) -> Iterator[Callable[[], None]]:
    """Switches pydantic-ai's own instrumentation on, exporting to the same providers as tokentrace;
    always off again after the test."""
    settings = pydantic_ai.InstrumentationSettings(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    yield lambda: pydantic_ai.Agent.instrument_all(settings)
    pydantic_ai.Agent.instrument_all(False)


@pytest.mark.parametrize("call", [plain, streamed, asynchronous])
def test_pydantic_ai_call_with_its_own_instrumentation(
    matrix: Matrix, server: DevServer, pydantic_ai_instrumentation: Callable[[], None], call: Any
) -> None:
    span = matrix.check(lambda: call(server), alongside=pydantic_ai_instrumentation)
    matrix.check_tokens_counted_once(span)


@pytest.mark.parametrize("call", [plain, streamed])
def test_pydantic_ai_call_beside_openai_v2(
    matrix: Matrix, server: DevServer, openai_v2: Callable[[], None], call: Any
) -> None:
    span = matrix.check(lambda: call(server), alongside=openai_v2)
    matrix.check_tokens_counted_once(span)
