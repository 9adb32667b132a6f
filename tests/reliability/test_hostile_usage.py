"""Usage is valid or unknown, read the same way through the openai SDK and plain ``requests``.

A usage with one field that is not a token count (negative, fractional, absurd, a boolean, text
that is not a number) used to be priced from the fields that were counts: a prompt of -5 with a
completion of 3 gave output 3 and a known cost. Now the whole usage is unknown
(``tokentrace.cost.unknown_reason=no_usage``, no token attribute). A detail larger than its total
(cached above the prompt, reasoning above the completion, cache writes above what the prompt leaves)
is cut to that total, so the call is never priced above its own totals. Numeric strings are
counts on both paths, as the SDK's own models read them.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
import requests

from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer, sse
from tokentrace.demo.server import json as json_reply

MESSAGES: list[Any] = [{"role": "user", "content": "how much"}]
INPUT, CACHED, OUTPUT = 2e-6, 0.5e-6, 8e-6  # gpt-4.1 per token: input, cache read, output


@pytest.fixture(autouse=True)
def _fresh(server: DevServer) -> None:
    server.reset()


def chat(usage: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-odd",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
    }


def via_sdk(server: DevServer, stream: bool = False) -> None:
    client: Any = openai.OpenAI(base_url=server.base_url, api_key="sk-usage", max_retries=0, timeout=10)
    result = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=stream)
    if stream:
        list(result)


def via_requests(server: DevServer, stream: bool = False) -> None:
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": stream}
    with requests.post(f"{server.base_url}/chat/completions", json=body, stream=stream, timeout=10) as reply:
        reply.content  # noqa: B018 - read to the end, which finishes the record


PATHS = [pytest.param(via_sdk, id="sdk"), pytest.param(via_requests, id="requests")]

UNKNOWN: dict[str, Any] = {}

CASES = [
    pytest.param({"prompt_tokens": -5, "completion_tokens": 3}, UNKNOWN, id="negative-prompt"),
    pytest.param({"prompt_tokens": 10.5, "completion_tokens": 3}, UNKNOWN, id="fractional"),
    pytest.param({"prompt_tokens": 2_000_000_000, "completion_tokens": 3}, UNKNOWN, id="above-the-maximum"),
    pytest.param({"prompt_tokens": "ten", "completion_tokens": 3}, UNKNOWN, id="text"),
    pytest.param(
        {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": True}, UNKNOWN, id="boolean"
    ),
    pytest.param(
        {"prompt_tokens": "10", "completion_tokens": " 5 "},
        {"input": 10, "output": 5, "cost": 10 * INPUT + 5 * OUTPUT},
        id="numeric-strings",
    ),
    pytest.param(
        {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 1000}},
        {"input": 10, "output": 5, "cache_read": 10, "cost": 10 * CACHED + 5 * OUTPUT},
        id="cached-above-prompt",
    ),
    pytest.param(
        {"prompt_tokens": 5, "completion_tokens": 5, "completion_tokens_details": {"reasoning_tokens": 5000}},
        {"input": 5, "output": 5, "reasoning": 5, "cost": 5 * INPUT + 5 * OUTPUT},
        id="reasoning-above-completion",
    ),
    pytest.param(
        {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cache_write_tokens": 50}},
        {
            "input": 10,
            "output": 5,
            "cache_write": 10,
            "cost": 10 * INPUT + 5 * OUTPUT,
        },  # writes at input rate
        id="cache-write-above-prompt",
    ),
    pytest.param(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 8},
        },
        {
            "input": 10,
            "output": 5,
            "cache_read": 8,
            "cache_write": 2,
            "cost": 8 * CACHED + 2 * INPUT + 5 * OUTPUT,
        },
        id="read-plus-write-above-prompt",
    ),
]

ATTRIBUTES = {
    "input": "gen_ai.usage.input_tokens",
    "output": "gen_ai.usage.output_tokens",
    "cache_read": "gen_ai.usage.cache_read.input_tokens",
    "cache_write": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning": "gen_ai.usage.reasoning.output_tokens",
}


def assert_recorded(attributes: dict[str, Any], expected: dict[str, Any]) -> None:
    if expected is UNKNOWN:
        assert not any(name in attributes for name in ATTRIBUTES.values()), attributes
        assert attributes["tokentrace.cost.unknown_reason"] == "no_usage"
        assert "gen_ai.usage.cost.amount" not in attributes
        return
    counts = {key: attributes[name] for key, name in ATTRIBUTES.items() if name in attributes}
    assert counts == {key: value for key, value in expected.items() if key != "cost"}
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected["cost"], rel=1e-12)
    assert "tokentrace.cost.unknown_reason" not in attributes


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("usage", "expected"), CASES)
def test_usage_is_valid_or_unknown(
    instrumented: Telemetry, server: DevServer, path: Any, usage: dict[str, Any], expected: dict[str, Any]
) -> None:
    server.script(json_reply(chat(usage)))
    path(server)
    assert_recorded(dict(instrumented.span().attributes or {}), expected)


@pytest.mark.parametrize("path", PATHS)
def test_a_stream_whose_usage_is_not_counts_has_an_unknown_cost(
    instrumented: Telemetry, server: DevServer, path: Any
) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1"}
    server.script(
        sse(
            [
                {**chunk, "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]},
                {**chunk, "choices": [], "usage": {"prompt_tokens": -5, "completion_tokens": 3}},
                "data: [DONE]",
            ]
        )
    )
    path(server, stream=True)
    assert_recorded(dict(instrumented.span().attributes or {}), UNKNOWN)


def test_a_boolean_count_is_not_one_on_plain_http(instrumented: Telemetry, server: DevServer) -> None:
    # Through the SDK, the SDK's own model turns ``true`` in a field it declares into 1 before
    # tokentrace sees it (as the caller's ``response.usage`` shows it); a field the SDK does not
    # declare keeps its boolean and is refused on both paths (the "boolean" case above).
    server.script(json_reply(chat({"prompt_tokens": True, "completion_tokens": 3})))
    via_requests(server)
    assert_recorded(dict(instrumented.span().attributes or {}), UNKNOWN)


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": -5, "output_tokens": 3},
        {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 1.5},
    ],
    ids=["negative", "fractional-cache-read"],
)
def test_messages_api_usage_is_valid_or_unknown(
    instrumented: Telemetry, server: DevServer, usage: dict[str, Any]
) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": usage,
    }
    server.script(json_reply(message))
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": MESSAGES}
    requests.post(f"{server.origin}/v1/messages", json=body, timeout=10).raise_for_status()
    assert_recorded(dict(instrumented.span().attributes or {}), UNKNOWN)
