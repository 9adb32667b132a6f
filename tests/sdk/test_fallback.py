"""Fallback chains through the real openai SDK, against the devserver with chosen models failing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import tokentrace
from tests.conftest import Telemetry
from tests.sdk.conftest import API_KEY
from tests.sdk.mock_transport import http
from tokentrace.activation import set_budgets
from tokentrace.calls.records import CallRecord
from tokentrace.demo.server import DevServer, default, delay, status

CHAIN = ("deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1")
FIRST, SECOND, THIRD = CHAIN
# What a stream cut short raises: openai 3 wraps the transport's error, older SDKs let it through.
STREAM_BROKEN = (openai.APIError, http.TransportError)
MESSAGES: Any = [{"role": "user", "content": "How much does this cost"}]


@pytest.fixture
def records(instrument: Any, telemetry: Telemetry) -> Iterator[list[CallRecord]]:
    """tokentrace with the seeds' chain; the records every call hands its sinks."""
    found: list[CallRecord] = []
    instrumentation = instrument(fallbacks=[tokentrace.Fallback(chain=CHAIN)])
    instrumentation.recorder.sinks.append(found.append)
    yield found
    tokentrace.set_fallbacks([])
    set_budgets([])


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def sent_models(server: DevServer) -> list[str]:
    return [request.json["model"] for request in server.requests]


def test_the_next_model_answers_and_each_attempt_has_its_span(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, status(429))
    server.script_model(SECOND, status(500))
    caller = telemetry.tracer_provider.get_tracer("app")
    with caller.start_as_current_span("handle request") as parent:
        response = client.chat.completions.create(model=FIRST, messages=MESSAGES)
    assert response.model.startswith(THIRD)
    assert sent_models(server) == [FIRST, SECOND, THIRD]
    spans = [s for s in telemetry.spans() if s.name != "handle request"]
    assert [s.name for s in spans] == [f"chat {m}" for m in CHAIN]
    assert {s.parent.span_id for s in spans if s.parent} == {parent.get_span_context().span_id}
    assert all(s.parent is not None for s in spans)
    first, second, third = map(attributes, spans)
    assert first["error.type"] == "RateLimitError" and "tokentrace.fallback.attempt" not in first
    assert second["error.type"] == "InternalServerError"
    assert (second["tokentrace.fallback.from"], second["tokentrace.fallback.attempt"]) == (FIRST, 2)
    assert second["tokentrace.fallback.reason"] == "rate_limit"
    assert (third["tokentrace.fallback.from"], third["tokentrace.fallback.attempt"]) == (SECOND, 3)
    assert third["tokentrace.fallback.reason"] == "server_error"
    assert "error.type" not in third
    # Content stays off: no attempt copies the messages onto its span.
    assert not any(key.startswith("gen_ai.input") for span in (first, second, third) for key in span)
    # What each attempt cost: the refused ones nothing (known), the answered one its usage.
    assert [r.cost for r in records[:2]] == [Decimal(0), Decimal(0)]
    assert [r.cost_unknown_reason for r in records] == [None, None, None]
    assert (first["gen_ai.usage.cost.amount"], second["gen_ai.usage.cost.amount"]) == (0.0, 0.0)
    assert [r.fallback_from for r in records] == [None, FIRST, SECOND]

    server.reset()  # the same call straight to the third model costs what the last attempt did
    client.chat.completions.create(model=THIRD, messages=MESSAGES)
    direct = records[-1]
    assert direct.fallback_from is None
    assert records[2].cost == direct.cost and direct.cost is not None and direct.cost > 0
    assert records[2].input_tokens == direct.input_tokens


def test_a_failed_attempt_that_reports_usage_is_priced_from_it(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    usage = {"prompt_tokens": 8, "completion_tokens": 0, "total_tokens": 8}
    body = {"error": {"message": "The model crashed.", "type": "server_error"}, "usage": usage}
    server.script_model(FIRST, status(500, body))
    client.chat.completions.create(model=FIRST, messages=MESSAGES)
    failed = records[0]
    assert (failed.error_type, failed.input_tokens, failed.output_tokens) == ("InternalServerError", 8, 0)
    assert failed.cost is not None and failed.cost > 0 and failed.cost_unknown_reason is None
    assert attributes(telemetry.spans()[0])["gen_ai.usage.input_tokens"] == 8


def test_the_sdk_retries_each_model_first(records: list[CallRecord], server: DevServer) -> None:
    server.reset()
    server.script_model(FIRST, status(429, retry_after=0.01))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-fallback-test", max_retries=2) as client:
        client.chat.completions.create(model=FIRST, messages=MESSAGES)
    assert sent_models(server) == [FIRST, FIRST, FIRST, SECOND]
    assert len(records) == 2  # one span per model: the SDK's retries are one call


def test_the_last_error_reaches_the_caller_with_the_earlier_ones_as_notes(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    for model in CHAIN:
        server.script_model(model, status(503))
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model=FIRST, messages=MESSAGES)
    assert type(raised.value) is openai.InternalServerError
    notes = raised.value.__notes__
    assert len(notes) == 2
    assert "attempt 1" in notes[0] and repr(FIRST) in notes[0] and "503" in notes[0]
    assert "attempt 2" in notes[1] and repr(SECOND) in notes[1]
    assert not any(API_KEY in note for note in notes)
    assert sent_models(server) == list(CHAIN)
    assert len(telemetry.spans()) == 3


def test_a_failure_the_chain_does_not_list_is_the_callers_at_once(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, status(400))
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=FIRST, messages=MESSAGES)
    assert not getattr(raised.value, "__notes__", None)
    assert sent_models(server) == [FIRST]
    assert len(telemetry.spans()) == 1


def test_on_takes_exception_classes(
    instrument: Any, telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    instrument(fallbacks=tokentrace.Fallback(chain=(FIRST, SECOND), on=(openai.BadRequestError,)))
    try:
        server.script_model(FIRST, status(400))
        assert client.chat.completions.create(model=FIRST, messages=MESSAGES).model.startswith(SECOND)
        assert attributes(telemetry.spans()[1])["tokentrace.fallback.reason"] == "BadRequestError"
        server.reset()
        server.script_model(FIRST, status(429))  # rate_limit is not listed any more
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=FIRST, messages=MESSAGES)
    finally:
        tokentrace.set_fallbacks([])


def test_a_timeout_moves_on_and_its_cost_stays_unknown(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, delay(5))
    response = client.chat.completions.create(model=FIRST, messages=MESSAGES, timeout=0.3)
    assert response.model.startswith(SECOND)
    assert records[0].error_type == "APITimeoutError" and records[0].timed_out
    assert (records[0].cost, records[0].cost_unknown_reason) == (None, "error")  # it may have been billed
    assert attributes(telemetry.spans()[1])["tokentrace.fallback.reason"] == "timeout"


def test_a_model_in_no_chain_is_sent_once(records: list[CallRecord], client: Any, server: DevServer) -> None:
    server.script_model("gpt-4o", status(429))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert sent_models(server) == ["gpt-4o"]
    assert records[0].fallback_from is None


def first_model_counts() -> tuple[int, int]:
    """The process summary's refused and error counts of the chain's first model so far."""
    row = next((row for row in tokentrace.summary(by=("model",)) if row.key == (FIRST,)), None)
    return (row.refused, row.errors) if row is not None else (0, 0)


def test_an_exhausted_budget_moves_the_call_on_before_anything_is_sent(
    instrument: Any, telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    on = ("rate_limit", "budget")
    instrumentation = instrument(
        fallbacks=[tokentrace.Fallback(chain=CHAIN, on=on)],
        budgets=[tokentrace.Budget(limit_usd=0, model=FIRST, name="deepseek cap")],
    )
    found: list[CallRecord] = []
    instrumentation.recorder.sinks.append(found.append)
    before = first_model_counts()
    try:
        response = client.chat.completions.create(model=FIRST, messages=MESSAGES)
        assert response.model.startswith(SECOND)
        assert sent_models(server) == [SECOND]  # the refused attempt sent nothing
        refused, answered = map(attributes, telemetry.spans())
        assert refused["error.type"] == "BudgetExceededError"
        assert answered["tokentrace.fallback.reason"] == "budget"
        # The refused attempt counts as refused (never sent: no error, a known zero cost), the
        # answer as a fallback.
        assert [(r.status, r.fallback_from) for r in found] == [("refused", None), ("ok", FIRST)]
        assert found[0].cost == 0
        refusals, errors = first_model_counts()
        assert (refusals - before[0], errors - before[1]) == (1, 0)
        # A budget on the next model too, and a rate limit on the last: the chain ends on that error.
        tokentrace.add_budget(tokentrace.Budget(limit_usd=0, model=SECOND, name="gemini cap"))
        server.reset()
        server.script_model(THIRD, status(429))
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model=FIRST, messages=MESSAGES)
        assert sent_models(server) == [THIRD]
        assert [n.split(":")[0] for n in raised.value.__notes__] == [
            "tokentrace fallback",
            "tokentrace fallback",
        ]
        assert "BudgetExceededError" in raised.value.__notes__[0]
    finally:
        tokentrace.set_fallbacks([])
        set_budgets([])


def test_without_budget_in_on_a_refusal_is_raised(
    records: list[CallRecord], client: Any, server: DevServer
) -> None:
    tokentrace.add_budget(tokentrace.Budget(limit_usd=0, model=FIRST))
    with pytest.raises(tokentrace.BudgetExceededError):
        client.chat.completions.create(model=FIRST, messages=MESSAGES)
    assert server.requests == []


def test_the_fallback_counter_and_the_summary(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, status(429))
    client.chat.completions.create(model=FIRST, messages=MESSAGES)
    client.chat.completions.create(model=FIRST, messages=MESSAGES)
    (point,) = telemetry.metrics()["tokentrace.fallbacks"]
    assert point.value == 2
    assert point.attributes["tokentrace.fallback.from"] == FIRST
    assert point.attributes["tokentrace.fallback.to"] == SECOND
    assert point.attributes["tokentrace.fallback.reason"] == "rate_limit"
    rows = {row.key[0]: row for row in tokentrace.summary(by=("model",))}
    assert rows[FIRST].fallbacks == 0 and rows[FIRST].errors >= 2
    answered = next(row for key, row in rows.items() if key.startswith(SECOND))
    assert answered.fallbacks >= 2
    assert "fallbacks" in tokentrace.format_summary(list(rows.values()), by=("model",)).splitlines()[4]


def test_embeddings_and_responses_fall_back_too(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, status(502))
    client.embeddings.create(model=FIRST, input="tokens")
    client.completions.create(model=FIRST, prompt="tokens")
    names = [
        f"embeddings {FIRST}",
        f"embeddings {SECOND}",
        f"text_completion {FIRST}",
        f"text_completion {SECOND}",
    ]
    if hasattr(client, "responses"):  # openai >= 1.66
        client.responses.create(model=FIRST, input="tokens")
        names += [f"chat {FIRST}", f"chat {SECOND}"]
    assert sent_models(server) == [FIRST, SECOND] * (len(names) // 2)
    assert [s.name for s in telemetry.spans()] == names


# -- streams ------------------------------------------------------------------------------------


def test_a_stream_refused_at_once_falls_back(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, status(429))
    stream = client.chat.completions.create(model=FIRST, messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Reply")
    assert sent_models(server) == [FIRST, SECOND]
    assert [r.fallback_from for r in records] == [None, FIRST]


def test_a_stream_failing_before_its_first_chunk_falls_back(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, default(drop_after=0))  # headers, then the connection drops
    options = {"include_usage": True}
    stream = client.chat.completions.create(
        model=FIRST, messages=MESSAGES, stream=True, stream_options=options
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[0].model.startswith(SECOND)
    assert sent_models(server) == [FIRST, SECOND]
    failed, answered = (attributes(s) for s in telemetry.spans())
    assert failed["tokentrace.stream.end"] == "error"
    assert answered["tokentrace.stream.end"] == "completed"
    assert answered["tokentrace.fallback.from"] == FIRST
    assert records[1].output_tokens == chunks[-1].usage.completion_tokens
    stream.close()  # the first stream's record is not finished twice
    assert len(records) == 2


def test_a_stream_read_with_next_falls_back_too(
    records: list[CallRecord], client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, default(drop_after=0))
    stream = client.chat.completions.create(model=FIRST, messages=MESSAGES, stream=True)
    with stream:
        first = next(stream)
        rest = list(stream)
    assert first.model.startswith(SECOND) and rest
    assert [r.fallback_from for r in records] == [None, FIRST]
    assert sent_models(server) == [FIRST, SECOND]


def test_a_stream_failing_after_its_first_chunk_is_the_callers(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    server.script_model(FIRST, default(drop_after=3))
    stream = client.chat.completions.create(model=FIRST, messages=MESSAGES, stream=True)
    seen: list[Any] = []

    def read() -> None:
        for chunk in stream:
            seen.append(chunk)

    with pytest.raises(STREAM_BROKEN):
        read()
    assert seen  # the caller had chunks of the first model: no other model may follow them
    assert sent_models(server) == [FIRST]
    assert len(telemetry.spans()) == 1


async def test_async_calls_and_streams(records: list[CallRecord], server: DevServer) -> None:
    server.reset()
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-fallback-test", max_retries=0
    ) as client:
        server.script_model(FIRST, status(429))
        response = await client.chat.completions.create(model=FIRST, messages=MESSAGES)
        assert response.model.startswith(SECOND)
        server.script_model(FIRST, default(drop_after=0))
        stream: Any = await client.chat.completions.create(model=FIRST, messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text.startswith("Reply")
        server.script_model(FIRST, default(drop_after=0))
        stream = await client.chat.completions.create(model=FIRST, messages=MESSAGES, stream=True)
        first = await stream.__anext__()
        assert first.model.startswith(SECOND)
        await stream.close()
        server.script_model(FIRST, default(drop_after=3))
        stream = await client.chat.completions.create(model=FIRST, messages=MESSAGES, stream=True)
        with pytest.raises(STREAM_BROKEN):
            async for _ in stream:
                pass
    assert sent_models(server) == [FIRST, SECOND, FIRST, SECOND, FIRST, SECOND, FIRST]
    assert [r.fallback_from for r in records] == [None, FIRST, None, FIRST, None, FIRST, None]


def test_azure_deployments_named_by_the_model_fall_back_too(
    records: list[CallRecord], server: DevServer
) -> None:
    server.reset()
    server.script_model(FIRST, status(429))
    with openai.AzureOpenAI(
        azure_endpoint=server.origin, api_key="sk-fallback-test", api_version="2024-10-21", max_retries=0
    ) as client:
        client.chat.completions.create(model=FIRST, messages=MESSAGES)
    assert [request.path for request in server.requests] == [
        f"/openai/deployments/{FIRST}/chat/completions",
        f"/openai/deployments/{SECOND}/chat/completions",
    ]


def test_beside_another_instrumentation_each_attempt_enriches_its_one_span(
    records: list[CallRecord], telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    """The official openai-v2 opens one span around the caller's call: the attempts all enrich it
    (``coexist="enrich"``), and it says which model the answer replaced."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    official = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    official.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        server.script_model(FIRST, status(429))
        response = client.chat.completions.create(model=FIRST, messages=MESSAGES)
    finally:
        official.uninstrument()
    assert response.model.startswith(SECOND)
    assert sent_models(server) == [FIRST, SECOND]
    (span,) = telemetry.spans()
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name != "tokentrace"
    attrs = attributes(span)
    assert (attrs["tokentrace.fallback.from"], attrs["tokentrace.fallback.attempt"]) == (FIRST, 2)
    assert attrs["tokentrace.fallback.reason"] == "rate_limit"
    assert attrs["gen_ai.usage.cost.amount"] > 0
    # The caller's call succeeded: the failed attempt's error does not mark the one span.
    assert "error.type" not in attrs and span.status.is_ok
    assert [r.fallback_from for r in records] == [None, FIRST]
    assert records[0].error_type == "RateLimitError"  # the ledger and summary keep the attempt's error
    assert {r.span_id for r in records} == {f"{span.context.span_id:016x}"}
    (point,) = telemetry.metrics()["tokentrace.fallbacks"]
    assert (point.attributes["tokentrace.fallback.from"], point.attributes["tokentrace.fallback.to"]) == (
        FIRST,
        SECOND,
    )
