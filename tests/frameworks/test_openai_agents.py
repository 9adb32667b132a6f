"""The OpenAI Agents SDK (``openai-agents``) against the local server through its default model,
the Responses API: ``Runner.run_sync``, ``Runner.run_streamed``, ``Runner.run``, and ``run_sync`` in
a thread pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.frameworks._matrix import MODEL, PROMPT, Matrix, close_on_thread_loop, in_thread_pool, run_async
from tokentrace.demo.server import DevServer

agents = pytest.importorskip(
    "agents", reason="openai-agents is not installed: the framework matrix runs in .venv-frameworks"
)

RESPONSES = "/v1/responses"


@pytest.fixture(autouse=True)
def _no_export_to_openai() -> Iterator[None]:
    """The Agents SDK sends its own traces to OpenAI's platform unless told not to."""
    agents.set_tracing_disabled(True)
    yield
    agents.set_tracing_disabled(False)


def agent(client: openai.AsyncOpenAI) -> Any:
    model = agents.OpenAIResponsesModel(model=MODEL, openai_client=client)
    return agents.Agent(name="assistant", model=model)


def client_of(server: DevServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-agents", max_retries=0)


def outcome(result: Any) -> Any:
    usage = result.context_wrapper.usage
    return (result.final_output, usage.requests, usage.input_tokens, usage.output_tokens)


def plain(server: DevServer) -> Any:
    client = client_of(server)
    try:
        return outcome(agents.Runner.run_sync(agent(client), PROMPT))
    finally:
        close_on_thread_loop(client.close)


def streamed(server: DevServer) -> Any:
    async def run() -> Any:
        async with client_of(server) as client:
            result = agents.Runner.run_streamed(agent(client), PROMPT)
            deltas = [
                event.data.delta
                async for event in result.stream_events()
                if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
            ]
            return deltas, outcome(result)

    return run_async(run)


def asynchronous(server: DevServer) -> Any:
    async def run() -> Any:
        async with client_of(server) as client:
            return outcome(await agents.Runner.run(agent(client), PROMPT))

    return run_async(run)


def thread_pool(server: DevServer) -> Any:
    return in_thread_pool(lambda: plain(server))


@pytest.mark.parametrize("call", [plain, streamed, asynchronous, thread_pool])
def test_openai_agents_call(matrix: Matrix, server: DevServer, call: Any) -> None:
    matrix.check(lambda: call(server), api_path=RESPONSES)


@pytest.mark.parametrize("call", [plain, streamed])
def test_openai_agents_call_beside_openai_v2(
    matrix: Matrix, server: DevServer, openai_v2: Callable[[], None], call: Any
) -> None:
    span = matrix.check(lambda: call(server), api_path=RESPONSES, alongside=openai_v2)
    matrix.check_tokens_counted_once(span)
