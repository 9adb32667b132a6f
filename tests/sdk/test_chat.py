"""Chat completions through the real openai SDK: what a user finds on the span and in the metrics."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_azure_client, make_client

MESSAGES = [{"role": "user", "content": "Say hello"}]


def chat_handler(payload: dict[str, Any]) -> Recorder:
    return Recorder(lambda body, request: json_reply(payload))


def test_chat_span_carries_semconv_attributes(instrumented: Telemetry) -> None:
    handler = chat_handler(payloads.openai_chat(cached=4, reasoning=2))
    client = make_client(handler)

    result = client.chat.completions.create(
        model="gpt-4.1", messages=MESSAGES, temperature=0.2, top_p=0.9, max_tokens=50, seed=7, stop=["\n"]
    )

    assert result.choices[0].message.content == "Answer number 0."
    span = instrumented.span()
    assert span.name == "chat gpt-4.1"
    assert span.kind.name == "CLIENT"
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["openai.api.type"] == "chat_completions"
    assert attrs["gen_ai.request.model"] == "gpt-4.1"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.seed"] == 7
    assert attrs["gen_ai.request.stop_sequences"] == ("\n",)
    assert attrs["gen_ai.response.model"] == "gpt-4.1-2025-04-14"
    assert attrs["gen_ai.response.id"] == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == 19
    assert attrs["gen_ai.usage.output_tokens"] == 10
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 2
    assert attrs["openai.response.service_tier"] == "default"
    assert attrs["openai.response.system_fingerprint"] == "fp_b705f0c291"
    assert attrs["server.address"] == "api.openai.com"
    assert attrs["server.port"] == 443
    assert "error.type" not in attrs
    assert "gen_ai.request.stream" not in attrs
    assert span.status.status_code.name == "UNSET"


def test_chat_metrics_follow_semconv(instrumented: Telemetry) -> None:
    client = make_client(chat_handler(payloads.openai_chat()))
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    metrics = instrumented.metrics()
    tokens = {p.attributes["gen_ai.token.type"]: p for p in metrics["gen_ai.client.token.usage"]}
    assert tokens["input"].sum == 19
    assert tokens["output"].sum == 10
    assert list(tokens["input"].explicit_bounds)[:3] == [1.0, 4.0, 16.0]
    assert list(tokens["input"].explicit_bounds)[-1] == 67108864.0
    (duration,) = metrics["gen_ai.client.operation.duration"]
    assert duration.count == 1
    assert list(duration.explicit_bounds) == [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ]  # fmt: skip
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4.1",
        "gen_ai.response.model": "gpt-4.1-2025-04-14",
        "openai.response.service_tier": "default",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    assert instrumented.metric("gen_ai.client.token.usage").unit == "{token}"
    assert instrumented.metric("gen_ai.client.operation.duration").unit == "s"


def test_n_choices_and_tool_calls(instrumented: Telemetry) -> None:
    payload = payloads.openai_chat(choices=3, finish=("tool_calls", "tool_calls", "length"), tool_call=True)
    client = make_client(chat_handler(payload))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, n=3, tools=tools)

    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.request.choice.count"] == 3
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_calls", "tool_calls", "length")


async def test_async_chat(instrumented: Telemetry) -> None:
    client = make_client(chat_handler(payloads.openai_chat()), async_=True)
    result = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert result.usage is not None and result.usage.total_tokens == 29
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 19
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


def test_parse_structured_output(instrumented: Telemetry) -> None:
    payload = payloads.openai_chat()
    payload["choices"][0]["message"]["content"] = '{"greeting": "hello"}'
    client = make_client(chat_handler(payload))
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "g",
            "schema": {
                "type": "object",
                "properties": {"greeting": {"type": "string"}},
                "required": ["greeting"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
    parse(model="gpt-4.1", messages=MESSAGES, response_format=schema)
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.output.type"] == "json"
    assert attrs["gen_ai.usage.output_tokens"] == 10


def test_with_raw_response(instrumented: Telemetry) -> None:
    client = make_client(chat_handler(payloads.openai_chat()))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4.1", messages=MESSAGES)
    assert raw.parse().id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 19
    assert attrs["gen_ai.response.model"] == "gpt-4.1-2025-04-14"


def test_with_streaming_response_records_when_body_is_read(instrumented: Telemetry) -> None:
    client = make_client(chat_handler(payloads.openai_chat()))
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES
    ) as response:
        assert response.parse().usage.prompt_tokens == 19
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.output_tokens"] == 10


@pytest.mark.parametrize(
    ("payload", "base_url", "provider", "address", "expected"),
    [
        (payloads.openrouter_chat(), "https://openrouter.ai/api/v1", "openrouter", "openrouter.ai", (14, 9)),
        (payloads.vllm_chat(), "http://127.0.0.1:8000/v1", "127.0.0.1", "127.0.0.1", (12, 3)),
        (
            payloads.gemini_chat(),
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "gcp.gemini",
            "generativelanguage.googleapis.com",
            (8, 4),
        ),
        (payloads.deepseek_chat(), "https://api.deepseek.com", "deepseek", "api.deepseek.com", (11, 11)),
    ],
)
def test_openai_compatible_providers(
    instrumented: Telemetry,
    payload: dict[str, Any],
    base_url: str,
    provider: str,
    address: str,
    expected: Any,
) -> None:
    client = make_client(chat_handler(payload), base_url=base_url)
    client.chat.completions.create(model="some-model", messages=MESSAGES)
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.provider.name"] == provider
    assert attrs["server.address"] == address
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == expected
    assert attrs["gen_ai.response.model"] == payload["model"]
    assert "openai.api.type" not in attrs  # openai.* attributes belong to OpenAI's API only


def test_azure_client(instrumented: Telemetry) -> None:
    handler = chat_handler(payloads.azure_chat())
    client = make_azure_client(handler)
    client.chat.completions.create(model="prod-chat-deployment", messages=MESSAGES)
    assert "/openai/deployments/prod-chat-deployment/chat/completions" in handler.urls[0]
    span = instrumented.span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat prod-chat-deployment"
    assert attrs["gen_ai.provider.name"] == "azure.ai.openai"
    assert attrs["server.address"] == "contoso-eastus.openai.azure.com"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-11-20"
    assert attrs["gen_ai.usage.input_tokens"] == 19


async def test_async_azure_client(instrumented: Telemetry) -> None:
    client = make_azure_client(chat_handler(payloads.azure_chat()), async_=True)
    await client.chat.completions.create(model="prod-chat-deployment", messages=MESSAGES)
    assert dict(instrumented.span().attributes or {})["gen_ai.provider.name"] == "azure.ai.openai"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, "BadRequestError"),
        (401, "AuthenticationError"),
        (404, "NotFoundError"),
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (503, "InternalServerError"),
    ],
)
def test_http_errors_reach_the_caller_and_the_span(
    instrumented: Telemetry, status: int, error_class: str
) -> None:
    client = make_client(
        Recorder(lambda body, request: json_reply(payloads.error_body(status), status=status))
    )
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert type(caught.value).__name__ == error_class
    span = instrumented.span()
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == error_class
    assert attrs["http.response.status_code"] == status
    assert span.status.status_code.name == "ERROR"
    assert "gen_ai.usage.input_tokens" not in attrs
    (duration,) = instrumented.metrics()["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == error_class
    assert "gen_ai.client.token.usage" not in instrumented.metrics()


def test_timeout(instrumented: Telemetry) -> None:
    from tests.sdk.mock_transport import http

    def slow(body: dict[str, Any], request: Any) -> Any:
        raise http.ReadTimeout("simulated", request=request)

    client = make_client(Recorder(slow))
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, timeout=0.5)
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["error.type"] == "APITimeoutError"


def test_retries_are_one_call(instrumented: Telemetry) -> None:
    replies = [json_reply(payloads.error_body(500), status=500), json_reply(payloads.openai_chat())]
    handler = Recorder(lambda body, request: replies.pop(0))
    client = make_client(handler, max_retries=1)
    client._calculate_retry_timeout = lambda *a, **k: 0.0  # no real back-off in a test
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(handler.bodies) == 2
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 19
    assert "error.type" not in attrs


def test_content_is_not_recorded_by_default(instrumented: Telemetry) -> None:
    client = make_client(chat_handler(payloads.openai_chat()))
    client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "secret prompt"}])
    span = instrumented.span()
    text = repr(dict(span.attributes or {})) + repr(span.events)
    assert "secret prompt" not in text
    assert "Answer number" not in text
    assert "sk-test-not-a-real-key" not in text


def test_unrelated_sdk_calls_are_not_spans(instrumented: Telemetry) -> None:
    client = make_client(Recorder(lambda body, request: json_reply({"object": "list", "data": []})))
    client.models.list()
    assert instrumented.spans() == []


def test_user_return_value_is_the_sdk_object(instrumented: Telemetry) -> None:
    client = make_client(chat_handler(payloads.openai_chat()))
    result = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert type(result).__name__ == "ChatCompletion"
    assert type(result).__module__.startswith("openai.")


def test_content_capture_opt_in(instrument: Any, telemetry: Telemetry, monkeypatch: Any) -> None:
    import json

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrument()
    client = make_client(chat_handler(payloads.openai_chat()))
    client.chat.completions.create(
        model="gpt-4.1",
        messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Say hello"}],
    )
    attrs = dict(telemetry.span().attributes or {})
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Say hello"}]},
    ]
    assert json.loads(str(attrs["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Answer number 0."}],
            "finish_reason": "stop",
        }
    ]
    assert "sk-test-not-a-real-key" not in repr(attrs)
