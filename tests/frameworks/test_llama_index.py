"""llama-index's OpenAI LLM (``llama-index-llms-openai``, on the openai 2.x SDK: it runs in the
``.venv-openai-2`` compat venv) against the local server: ``chat``, ``stream_chat``, ``achat``, and
``chat`` in a thread pool."""

from __future__ import annotations

from typing import Any

import pytest

from tests.frameworks._matrix import MODEL, PROMPT, Matrix, in_thread_pool, run_async
from tokentrace.demo.server import DevServer

llms_openai = pytest.importorskip(
    "llama_index.llms.openai",
    reason="llama-index-llms-openai is not installed: it runs in .venv-openai-2 (scripts/dev.sh compat)",
)
from llama_index.core.llms import ChatMessage  # noqa: E402

MESSAGES = [ChatMessage(role="user", content=PROMPT)]


def llm(server: DevServer) -> Any:
    return llms_openai.OpenAI(model=MODEL, api_base=server.base_url, api_key="sk-llama", max_retries=0)


def reply(response: Any) -> Any:
    return (response.message.content, response.raw.usage.model_dump() if response.raw.usage else None)


def plain(server: DevServer) -> Any:
    return reply(llm(server).chat(MESSAGES))


def streamed(server: DevServer) -> Any:
    return [(chunk.delta, chunk.message.content) for chunk in llm(server).stream_chat(MESSAGES)]


def asynchronous(server: DevServer) -> Any:
    async def call() -> Any:
        model = llm(server)
        try:
            return reply(await model.achat(MESSAGES))
        finally:
            await model._aclient.close()

    return run_async(call)


def thread_pool(server: DevServer) -> Any:
    return in_thread_pool(lambda: plain(server))


@pytest.mark.parametrize("call", [plain, streamed, asynchronous, thread_pool])
def test_llama_index_call(matrix: Matrix, server: DevServer, call: Any) -> None:
    matrix.check(lambda: call(server))
