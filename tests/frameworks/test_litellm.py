"""litellm against the local server as an ``openai/`` model: plain, streamed, async, and
``batch_completion`` (which fans the calls out to a thread pool of its own)."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.frameworks._matrix import MODEL, PROMPT, Matrix, run_async
from tokentrace.demo.server import DevServer

# litellm fetches its model price map from the network when imported unless told to use the copy
# it ships (tests make no network calls, and a machine without network waits ~7 s for it).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip(
    "litellm", reason="litellm is not installed: the framework matrix runs in .venv-frameworks"
)

MESSAGES = [{"role": "user", "content": PROMPT}]


@pytest.fixture(scope="module", autouse=True)
def _litellm_lets_go() -> Iterator[None]:
    """litellm keeps event loops, async clients and their connections of its own (its logging
    worker, its client cache) for the process's life and never closes them: collected as garbage
    at the session's end, each would fail the run with a ``ResourceWarning`` that is litellm's, not
    the test's. Its clients are closed and its garbage collected here, at the module's end, with
    litellm's ``ResourceWarning`` (and only it) ignored."""
    yield
    asyncio.run(litellm.close_litellm_async_clients())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def where(server: DevServer) -> dict[str, Any]:
    return {
        "model": f"openai/{MODEL}",
        "api_base": server.base_url,
        "api_key": "sk-litellm",
        "max_retries": 0,
    }


def answer(response: Any) -> Any:
    choice = response.choices[0]
    usage = response.usage
    return (choice.message.content, choice.finish_reason, usage.prompt_tokens, usage.completion_tokens)


def plain(server: DevServer) -> Any:
    return answer(litellm.completion(messages=MESSAGES, **where(server)))


def streamed(server: DevServer) -> Any:
    stream = litellm.completion(messages=MESSAGES, stream=True, **where(server))
    return [
        (
            [(choice.delta.content, choice.finish_reason) for choice in chunk.choices],
            getattr(chunk, "usage", None),
        )
        for chunk in stream
    ]


def asynchronous(server: DevServer) -> Any:
    async def call() -> Any:
        try:
            return answer(await litellm.acompletion(messages=MESSAGES, **where(server)))
        finally:
            # litellm keeps the async clients it made (their connections too) for the process's
            # life: closed here, inside the loop that opened them.
            await litellm.close_litellm_async_clients()

    return run_async(call)


def batch(server: DevServer) -> Any:
    return [answer(response) for response in litellm.batch_completion(messages=[MESSAGES], **where(server))]


@pytest.mark.parametrize("call", [plain, streamed, asynchronous, batch])
def test_litellm_call(matrix: Matrix, server: DevServer, call: Any) -> None:
    matrix.check(lambda: call(server))


@pytest.mark.parametrize("call", [plain, streamed])
def test_litellm_call_beside_openai_v2(
    matrix: Matrix, server: DevServer, openai_v2: Callable[[], None], call: Any
) -> None:
    def switch_on() -> None:
        openai_v2()
        # litellm keeps the SDK clients it made (here, by the bare call) and their bound methods,
        # made before openai-v2 wrapped them; an app that instruments at start has none yet.
        litellm.in_memory_llm_clients_cache.flush_cache()

    span = matrix.check(lambda: call(server), alongside=switch_on)
    matrix.check_tokens_counted_once(span)
