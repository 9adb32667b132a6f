"""Raw-response streams (``with_raw_response`` / ``with_streaming_response``: how litellm calls the SDK)
against the local server: the same usage policy as parsed streams, the caller reads the events it
would have read, and a stream read to its end marker is ``completed`` whoever closes it."""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

import openai
import pytest

from tests.conftest import Telemetry
from tests.sdk.mock_transport import Recorder, http, make_client
from tests.sdk.test_streams import USAGE, streaming_handler
from tokentrace.demo.server import DevServer
from tokentrace.demo.server import raw as raw_reply

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
INPUT_TOKENS, OUTPUT_TOKENS = 8, 7  # the devserver's rule (see tests/sdk/test_loopback.py)
PER_RUN = {"id", "created", "system_fingerprint"}  # the server numbers its answers


def attrs_of(telemetry: Telemetry) -> dict[str, Any]:
    return dict(telemetry.span().attributes or {})


def raw_chunks(client: Any) -> list[dict[str, Any]]:
    """What litellm does: a raw response, then the SDK's own stream parsed from it."""
    raw = client.chat.completions.with_raw_response.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    return [chunk.model_dump(exclude=PER_RUN) for chunk in raw.parse()]


def streamed_events(client: Any) -> list[Any]:
    """The SSE events a caller reading the bytes itself sees (``with_streaming_response``)."""
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True
    ) as response:
        body = b"".join(response.iter_bytes())
    events: list[Any] = []
    for block in body.decode().split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            event = data if data == "[DONE]" else json.loads(data)
            if isinstance(event, dict):
                event = {k: v for k, v in event.items() if k not in PER_RUN}
                # OpenAI marks every chunk `"usage": null` once usage was asked for: the same chunk
                if event.get("usage", 0) is None:
                    del event["usage"]
            events.append(event)
    return events


@pytest.mark.parametrize("settings", [{"stream_usage_hosts": ["127.0.0.1"]}, {"stream_usage": "always"}])
def test_raw_stream_gets_usage_and_the_caller_the_chunks_it_would_have_had(
    instrument: Any, telemetry: Telemetry, client: Any, server: DevServer, settings: dict[str, Any]
) -> None:
    uninstrumented = raw_chunks(client)
    instrument(**settings)
    chunks = raw_chunks(client)

    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert server.requests[-1].headers["accept-encoding"] == "identity"  # bytes as sent, to hide in
    assert chunks == uninstrumented  # no usage-only chunk the caller did not ask for
    attrs = attrs_of(telemetry)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        INPUT_TOKENS,
        OUTPUT_TOKENS,
    )
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((INPUT_TOKENS * 2 + OUTPUT_TOKENS * 8) / 1e6)
    assert attrs["tokentrace.stream.usage_injected"] is True
    assert attrs["tokentrace.stream.end"] == "completed"


def test_streaming_response_bytes_lose_only_the_usage_event(
    instrument: Any, telemetry: Telemetry, client: Any
) -> None:
    uninstrumented = streamed_events(client)
    instrument(stream_usage_hosts=["127.0.0.1"])
    events = streamed_events(client)

    assert events == uninstrumented
    assert events[-1] == "[DONE]"
    assert attrs_of(telemetry)["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS


def test_caller_asking_for_usage_sees_its_usage_chunk(instrumented: Telemetry, client: Any) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(raw.parse())
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert "tokentrace.stream.usage_injected" not in attrs_of(instrumented)


async def test_async_raw_stream_gets_usage_and_hides_it(
    instrument: Any, telemetry: Telemetry, server: DevServer
) -> None:
    instrument(stream_usage_hosts=["127.0.0.1"])
    client: Any
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-raw-test", max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4.1", messages=MESSAGES, stream=True
        )
        chunks = [chunk async for chunk in raw.parse()]
    assert chunks and all(chunk.choices for chunk in chunks)
    attrs = attrs_of(telemetry)
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["tokentrace.stream.end"] == "completed"


def test_read_to_done_then_closed_is_completed(instrumented: Telemetry, client: Any) -> None:
    """The SDK's own stream and litellm stop at ``[DONE]`` and close the response after it."""
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        for line in response.iter_lines():
            if line == "data: [DONE]":
                break
    attrs = attrs_of(instrumented)
    assert attrs["tokentrace.stream.end"] == "completed"
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS


def test_closed_before_done_stays_closed(instrumented: Telemetry, client: Any) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True
    ) as response:
        for _ in response.iter_lines():
            break
    assert attrs_of(instrumented)["tokentrace.stream.end"] == "closed"


def test_stream_without_usage_logs_how_to_get_it_once_per_host(
    instrumented: Telemetry, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tokentrace")
    for _ in range(2):
        list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    raw_chunks(client)
    hints = [r.getMessage() for r in caplog.records if "stream_usage_hosts" in r.getMessage()]
    assert len(hints) == 1, hints
    assert "127.0.0.1" in hints[0] and "TOKENTRACE_STREAM_USAGE_HOSTS=127.0.0.1" in hints[0]
    assert all("gen_ai.usage.input_tokens" not in dict(s.attributes or {}) for s in instrumented.spans())


def test_no_hint_where_usage_came_or_the_user_said_never(
    instrument: Any, telemetry: Telemetry, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tokentrace")
    instrument(stream_usage="never")
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert not [r for r in caplog.records if "stream_usage_hosts" in r.getMessage()]


@pytest.mark.parametrize("piece", [1, 7, 64, 100_000])
def test_hidden_event_whatever_the_network_chunking(instrumented: Telemetry, piece: int) -> None:
    """The body arrives in pieces that cut lines and events anywhere; the caller's bytes are the
    body's, less exactly the usage event."""
    events = [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-4.1",
            "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
            "usage": None,
        }
        for word in ("Hel", "lo", "!")
    ]
    usage_event = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "gpt-4.1",
        "choices": [],
        "usage": USAGE,
    }
    shown = "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events).encode()
    body = shown + f"data: {json.dumps(usage_event)}\r\n\r\n".encode() + b"data: [DONE]\r\n\r\n"

    def reply(request_body: dict[str, Any], request: Any) -> Any:
        pieces = [body[i : i + piece] for i in range(0, len(body), piece)]
        return http.Response(200, content=iter(pieces), headers={"content-type": "text/event-stream"})

    client = make_client(Recorder(reply))
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True
    ) as response:
        received = b"".join(response.iter_bytes())
    assert received == shown + b"data: [DONE]\r\n\r\n"
    attrs = attrs_of(instrumented)
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["tokentrace.stream.end"] == "completed"


def test_hint_memory_is_bounded(instrumented: Telemetry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tokentrace")
    handler = streaming_handler()
    for i in range(80):
        client = make_client(handler, base_url=f"http://llm-{i}.internal:8000/v1")
        list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    hints = [r.getMessage() for r in caplog.records if "stream_usage_hosts" in r.getMessage()]
    assert len(hints) == 64  # one per host, for the first 64 hosts; then no more memory is spent
    assert len({h.split()[4] for h in hints}) == 64  # "tokentrace: chat streams from HOST ..."
    assert len(instrumented.spans()) == 80


def test_compressed_anyway_keeps_usage_and_shows_the_event(
    instrument: Any, telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    """A server that compresses despite ``Accept-Encoding: identity``: the caller's bytes are left
    whole (the usage chunk shows, as the README says), and the usage is still read."""
    instrument(stream_usage_hosts=["127.0.0.1"])
    events = [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4.1",
            "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4.1",
            "choices": [],
            "usage": USAGE,
        },
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
    server.script(
        raw_reply(
            200,
            gzip.compress(body),
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        )
    )
    raw_response = client.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True
    )
    chunks = list(raw_response.parse())
    assert [bool(c.choices) for c in chunks] == [True, False]
    attrs = attrs_of(telemetry)
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["tokentrace.stream.end"] == "completed"
