"""instructor (structured output through tool calls) on the openai SDK against the local server:
plain, streamed partial objects, async, thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pydantic
import pytest

from tests.frameworks._matrix import MODEL, PROMPT, Matrix, in_thread_pool, run_async
from tokentrace.demo.server import DevServer

instructor = pytest.importorskip(
    "instructor", reason="instructor is not installed: the framework matrix runs in .venv-frameworks"
)

MESSAGES = [{"role": "user", "content": PROMPT}]


class Greeting(pydantic.BaseModel):
    recipient: str
    times: int


def ask(server: DevServer) -> dict[str, Any]:
    return {"model": MODEL, "messages": MESSAGES, "max_retries": 0}


def plain(server: DevServer) -> Any:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-instructor", max_retries=0) as sdk:
        client = instructor.from_openai(sdk)
        greeting, completion = client.chat.completions.create_with_completion(
            response_model=Greeting, **ask(server)
        )
        return greeting.model_dump(), completion.usage.model_dump()


def streamed(server: DevServer) -> Any:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-instructor", max_retries=0) as sdk:
        client = instructor.from_openai(sdk)
        partials = client.chat.completions.create_partial(response_model=Greeting, **ask(server))
        return [partial.model_dump() for partial in partials]


def asynchronous(server: DevServer) -> Any:
    async def call() -> Any:
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key="sk-instructor", max_retries=0
        ) as sdk:
            client = instructor.from_openai(sdk)
            greeting, completion = await client.chat.completions.create_with_completion(
                response_model=Greeting, **ask(server)
            )
            return greeting.model_dump(), completion.usage.model_dump()

    return run_async(call)


def thread_pool(server: DevServer) -> Any:
    return in_thread_pool(lambda: plain(server))


@pytest.mark.parametrize("call", [plain, streamed, asynchronous, thread_pool])
def test_instructor_call(matrix: Matrix, server: DevServer, call: Any) -> None:
    matrix.check(lambda: call(server))


# Not ``streamed``: with openai-v2 (2.4b0) on, instructor's sync ``create_partial`` hands back an
# async generator (it takes the wrapped ``create`` for a coroutine function), with or without
# tokentrace; docs/frameworks.md says so.
@pytest.mark.parametrize("call", [plain, asynchronous])
def test_instructor_call_beside_openai_v2(
    matrix: Matrix, server: DevServer, openai_v2: Callable[[], None], call: Any
) -> None:
    span = matrix.check(lambda: call(server), alongside=openai_v2)
    matrix.check_tokens_counted_once(span)
