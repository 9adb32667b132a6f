"""A failure inside tokentrace never reaches the caller: it is logged once and the call goes on."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client, sse, sse_reply
from tokentrace import _guard
from tokentrace.calls.apis import ApiKind, read
from tokentrace.patches import _call

MESSAGES = [{"role": "user", "content": "hi"}]


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("simulated tokentrace bug")


@pytest.fixture
def production_mode(monkeypatch: Any) -> None:
    monkeypatch.setenv("TOKENTRACE_RAISE_INTERNAL_ERRORS", "0")
    monkeypatch.setattr(_guard, "_reported", set())


def test_failure_reading_the_response_returns_the_users_result(
    instrumented: Telemetry, production_mode: None, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setitem(read.RESPONSE_READERS, ApiKind.CHAT, boom)
    client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
    first = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    second = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert first.choices[0].message.content == "Answer number 0."
    assert second.usage is not None
    warnings = [r for r in caplog.records if "your code is still running fine" in r.getMessage()]
    assert len(warnings) == 1


def test_failure_before_the_call_still_makes_the_call(
    instrumented: Telemetry, production_mode: None, monkeypatch: Any
) -> None:
    monkeypatch.setattr(_call, "request_attributes", boom)
    handler = Recorder(lambda b, r: json_reply(payloads.openai_chat()))
    client = make_client(handler)
    result = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert result.id.startswith("chatcmpl-")
    assert len(handler.bodies) == 1


def test_failure_on_a_stream_chunk_keeps_the_stream_intact(
    instrumented: Telemetry, production_mode: None, monkeypatch: Any
) -> None:
    from tokentrace.calls.apis.stream import StreamAccumulator

    monkeypatch.setattr(StreamAccumulator, "add", boom)
    chunks = payloads.chat_chunks()
    client = make_client(Recorder(lambda b, r: sse_reply(sse(chunks))), base_url="http://gateway.internal/v1")
    got = list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    assert len(got) == len(chunks)
    assert len(instrumented.spans()) == 1


def test_under_tests_internal_errors_surface(instrumented: Telemetry, monkeypatch: Any) -> None:
    monkeypatch.setenv("TOKENTRACE_RAISE_INTERNAL_ERRORS", "1")
    monkeypatch.setitem(read.RESPONSE_READERS, ApiKind.CHAT, boom)
    client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
    with pytest.raises(RuntimeError, match="simulated tokentrace bug"):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": "12", "completion_tokens": None},
        {"prompt_tokens": -5, "completion_tokens": 10**20},
        {"prompt_tokens": True, "completion_tokens": 3.5},
        "not a dict",
        [],
    ],
)
def test_malformed_usage_never_breaks_the_call(instrumented: Telemetry, usage: Any) -> None:
    payload = payloads.openai_chat()
    payload["usage"] = usage
    client = make_client(Recorder(lambda b, r: json_reply(payload)))
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)  # the SDK does not validate usage
    for span in instrumented.spans():
        attrs = dict(span.attributes or {})
        for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
            value = attrs.get(key)
            assert value is None or (isinstance(value, int) and 0 <= value < 1 << 40)


def test_a_library_that_cannot_be_patched_is_named_and_the_calls_go_on(
    instrument: Any, telemetry: Telemetry, production_mode: None, monkeypatch: Any, caplog: Any
) -> None:
    """A real patching failure says what failed and that the user's calls are unaffected; the
    plain-HTTP patches still record the SDK's calls then (one span each, never two)."""
    from tokentrace import activation

    def unpatchable(recorder: Any) -> list[Any]:
        raise ModuleNotFoundError("No module named 'openai._base_client'")

    monkeypatch.setitem(activation._SDK_LIBRARIES, "openai", unpatchable)
    caplog.set_level(logging.WARNING, logger="tokentrace")
    instrument()
    (message,) = [r.getMessage() for r in caplog.records if r.name == "tokentrace"]
    assert message.startswith("tokentrace could not patch openai ")
    assert "ModuleNotFoundError: No module named 'openai._base_client'" in message
    assert message.endswith("Your calls are unaffected.")
    assert "this call" not in message
    client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
    response = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "Answer number 0."
    (span,) = telemetry.spans()  # seen by the HTTP patch under the SDK instead
    assert (span.attributes or {})["gen_ai.usage.input_tokens"] == 19
