"""langchain-openai's ChatOpenAI against the local server: plain, streamed, async, thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.frameworks._matrix import MODEL, PROMPT, Matrix, in_thread_pool, run_async
from tokentrace.demo.server import DevServer

langchain_openai = pytest.importorskip(
    "langchain_openai",
    reason="langchain-openai is not installed: the framework matrix runs in .venv-frameworks",
)


def chat_model(server: DevServer, **clients: Any) -> Any:
    return langchain_openai.ChatOpenAI(
        model=MODEL, base_url=server.base_url, api_key="sk-lc", max_retries=0, **clients
    )


def message(reply: Any) -> Any:
    return (reply.content, reply.tool_calls, reply.usage_metadata, reply.response_metadata.get("token_usage"))


def plain(server: DevServer) -> Any:
    return message(chat_model(server).invoke(PROMPT))


def streamed(server: DevServer) -> Any:
    return [(chunk.content, chunk.usage_metadata) for chunk in chat_model(server).stream(PROMPT)]


def asynchronous(server: DevServer) -> Any:
    async def call() -> Any:
        # ChatOpenAI's default async HTTP client is one per base URL for the whole process, its
        # connections tied to the event loop of the first call: a client of this loop's own, closed
        # in it, lets the bare and the instrumented call each run in an event loop of their own.
        async with openai.DefaultAsyncHttpxClient() as http:
            return message(await chat_model(server, http_async_client=http).ainvoke(PROMPT))

    return run_async(call)


def thread_pool(server: DevServer) -> Any:
    return in_thread_pool(lambda: plain(server))


@pytest.mark.parametrize("call", [plain, streamed, asynchronous, thread_pool])
def test_langchain_call(matrix: Matrix, server: DevServer, call: Any) -> None:
    matrix.check(lambda: call(server))


@pytest.mark.parametrize("call", [plain, streamed])
def test_langchain_call_beside_openai_v2(
    matrix: Matrix, server: DevServer, openai_v2: Callable[[], None], call: Any
) -> None:
    span = matrix.check(lambda: call(server), alongside=openai_v2)
    matrix.check_tokens_counted_once(span)
