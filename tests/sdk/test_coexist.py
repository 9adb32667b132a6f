"""Next to another GenAI instrumentation: one span and one set of token and duration points per call.

The other instrumentation here is the real official ``opentelemetry-instrumentation-openai-v2``
(the ``test`` extra), exporting into the same in-memory SDK providers as tokentrace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client, sse, sse_reply
from tokentrace.config import Settings, SettingsError

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello"}]
STREAM_USAGE = {"prompt_tokens": 21, "completion_tokens": 6, "total_tokens": 27}
# openai-v2's scope on the v1.30 conventions, and util-genai's, which its newer conventions use
OFFICIAL_SCOPES = ("opentelemetry.instrumentation.openai_v2", "opentelemetry.util.genai.handler")


@pytest.fixture
def official(telemetry: Telemetry) -> Iterator[None]:
    """The official openai-v2 instrumentation, switched on beside tokentrace."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    yield
    instrumentor.uninstrument()


def handler() -> Recorder:
    """Replies like OpenAI: a JSON body, or a stream with a usage chunk when the request asks for it."""

    def reply(body: dict[str, Any], request: Any) -> Any:
        if not body.get("stream"):
            return json_reply(payloads.openai_chat())  # 19 input and 10 output tokens
        wants_usage = (body.get("stream_options") or {}).get("include_usage") is True
        chunks = payloads.chat_chunks(
            usage=STREAM_USAGE if wants_usage else None, usage_null_on_chunks=wants_usage
        )
        return sse_reply(sse(chunks))

    return Recorder(reply)


async def one_call(kind: str) -> list[str]:
    """One chat call of ``kind`` inside ``track("checkout")``; what the caller read."""
    with tokentrace.track("checkout"):
        if kind == "plain":
            result = make_client(handler()).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
            return [result.choices[0].message.content]
        if kind in ("stream", "stream-asked"):  # asked: the caller asks for the usage chunk itself
            asked: Any = {"stream_options": {"include_usage": True}} if kind == "stream-asked" else {}
            stream = make_client(handler()).chat.completions.create(
                model="gpt-4.1", messages=MESSAGES, stream=True, **asked
            )
            return [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
        client = make_client(handler(), async_=True)
        if kind == "async":
            reply = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
            return [reply.choices[0].message.content]
        astream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
        return [chunk.choices[0].delta.content or "" async for chunk in astream]


SERVER_TOKENS = {"plain": 29, "async": 29, "stream": 27, "stream-asked": 27, "async-stream": 27}
CONTENT = {"plain": ["Answer number 0."], "stream": ["", "Hel", "lo", "!", ""]}


def genai_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans() if "gen_ai.operation.name" in (s.attributes or {})]


def token_sum(telemetry: Telemetry) -> float:
    """Every ``gen_ai.client.token.usage`` point, whichever instrumentation recorded it."""
    return float(sum(p.sum for p in telemetry.metrics().get("gen_ai.client.token.usage", [])))


def duration_count(telemetry: Telemetry) -> int:
    return sum(p.count for p in telemetry.metrics().get("gen_ai.client.operation.duration", []))


@pytest.mark.parametrize("kind", ["plain", "stream", "stream-asked", "async", "async-stream"])
async def test_one_span_enriched_and_tokens_once_beside_openai_v2(
    instrument: Any, telemetry: Telemetry, official: None, kind: str
) -> None:
    instrument()
    read = await one_call(kind)

    assert read == CONTENT["stream" if "stream" in kind else "plain"]  # the caller's output unchanged
    (span,) = genai_spans(telemetry)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name in OFFICIAL_SCOPES
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["tokentrace.tracking_id"] == "checkout"
    assert attrs["gen_ai.usage.cost.amount"] > 0
    assert attrs["gen_ai.usage.cost.currency"] == "USD"
    assert attrs["gen_ai.usage.cost.source"] == "local"
    assert attrs["tokentrace.price.entry"]
    tokens = SERVER_TOKENS[kind]
    assert attrs["gen_ai.usage.input_tokens"] + attrs["gen_ai.usage.output_tokens"] == tokens
    if "stream" in kind:
        assert attrs["tokentrace.stream.end"] == "completed"
    assert token_sum(telemetry) == tokens, "the server's tokens, counted once"
    assert duration_count(telemetry) == 1
    (cost,) = telemetry.metrics()["gen_ai.client.cost"]
    assert cost.value == pytest.approx(attrs["gen_ai.usage.cost.amount"])
    assert cost.attributes["tokentrace.tracking_id"] == "checkout"


async def test_both_records_twice_as_named(instrument: Any, telemetry: Telemetry, official: None) -> None:
    instrument(coexist="both")
    await one_call("plain")

    spans = genai_spans(telemetry)
    assert len(spans) == 2
    ours = next(
        s for s in spans if s.instrumentation_scope and s.instrumentation_scope.name not in OFFICIAL_SCOPES
    )
    theirs = next(s for s in spans if s is not ours)
    assert ours.parent is not None
    assert ours.parent.span_id == theirs.context.span_id
    assert "gen_ai.usage.cost.amount" not in (theirs.attributes or {})
    assert token_sum(telemetry) == 2 * 29
    assert duration_count(telemetry) == 2


async def test_own_records_everything_itself(instrument: Any, telemetry: Telemetry, official: None) -> None:
    instrument(coexist="own")
    await one_call("stream")

    ours = [s for s in genai_spans(telemetry) if s.instrumentation_scope.name == "tokentrace.instrumentor"]
    (span,) = ours
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["gen_ai.usage.cost.amount"] > 0
    assert attrs["tokentrace.tracking_id"] == "checkout"
    data = telemetry.reader.get_metrics_data()
    assert data is not None
    ours_metrics = {
        metric.name
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        if scope.scope.name == "tokentrace.instrumentor"
        for metric in scope.metrics
    }
    assert {
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.cost",
    } <= ours_metrics


def test_own_asks_instrumentations_under_the_call_to_step_aside(
    instrument: Any, telemetry: Telemetry
) -> None:
    seen: list[Any] = []

    def reply(body: dict[str, Any], request: Any) -> Any:
        from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value

        seen.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        return json_reply(payloads.openai_chat())

    instrument(coexist="own")
    make_client(Recorder(reply)).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    tokentrace.uninstrument()
    instrument()
    make_client(Recorder(reply)).chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    assert seen == [True, None]  # while the SDK sends (where HTTP instrumentations run), and only in own


def test_a_users_own_parent_span_keeps_our_child_span(instrumented: Telemetry) -> None:
    tracer = instrumented.tracer_provider.get_tracer("my.app")
    with tracer.start_as_current_span("handle order", kind=SpanKind.CLIENT) as parent:
        make_client(handler()).chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    (span,) = genai_spans(instrumented)
    assert span.name == "chat gpt-4.1"
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    assert "gen_ai.usage.cost.amount" not in (dict(parent.attributes or {}))  # type: ignore[attr-defined]
    assert token_sum(instrumented) == 29


def test_a_span_that_is_not_an_sdk_span_is_a_parent_like_any(instrumented: Telemetry) -> None:
    context = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with trace.use_span(NonRecordingSpan(context)):
        make_client(handler()).chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    (span,) = genai_spans(instrumented)
    assert span.context.trace_id == 0x1234
    assert span.parent is not None
    assert span.parent.span_id == 0x5678
    assert token_sum(instrumented) == 29


@pytest.mark.parametrize(
    ("scope", "records_histograms"), [("pydantic-ai", True), ("openinference.instrumentation.openai", False)]
)
def test_known_scopes_internal_spans_are_enriched(
    instrumented: Telemetry, scope: str, records_histograms: bool
) -> None:
    """pydantic-ai's and OpenInference's call spans are INTERNAL; OpenInference records no metrics."""
    tracer = instrumented.tracer_provider.get_tracer(scope)
    with tracer.start_as_current_span("chat gpt-4.1", attributes={"gen_ai.operation.name": "chat"}):
        make_client(handler()).chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    (span,) = genai_spans(instrumented)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == scope
    assert (span.attributes or {})["gen_ai.usage.cost.amount"] > 0
    assert token_sum(instrumented) == (0 if records_histograms else 29)
    assert "gen_ai.client.cost" in instrumented.metrics()


def test_an_ended_client_span_is_no_peer(instrumented: Telemetry) -> None:
    tracer = instrumented.tracer_provider.get_tracer("other.genai")
    span = tracer.start_span(
        "chat gpt-4.1", kind=SpanKind.CLIENT, attributes={"gen_ai.operation.name": "chat"}
    )
    span.end()
    with trace.use_span(span):
        make_client(handler()).chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    assert len(genai_spans(instrumented)) == 2
    assert token_sum(instrumented) == 29


def test_coexist_setting() -> None:
    assert Settings.resolve({}, {}).coexist == "enrich"
    assert Settings.resolve({}, {"TOKENTRACE_COEXIST": " Own "}).coexist == "own"
    assert Settings.resolve({"coexist": "BOTH"}, {"TOKENTRACE_COEXIST": "own"}).coexist == "both"
    with pytest.raises(SettingsError, match="TOKENTRACE_COEXIST"):
        Settings.resolve({}, {"TOKENTRACE_COEXIST": "replace"})
    with pytest.raises(SettingsError, match="coexist"):
        Settings.resolve({"coexist": "replace"}, {})


def test_a_stream_closed_early_is_enriched_before_its_owner_ends_it(
    instrument: Any, telemetry: Telemetry, official: None
) -> None:
    """openai-v2 ends its span when its stream wrapper closes, after closing the stream inside it."""
    instrument()
    stream = make_client(handler()).chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()

    (span,) = genai_spans(telemetry)
    attrs = dict(span.attributes or {})
    assert attrs["tokentrace.stream.end"] == "closed"
    assert attrs["tokentrace.cost.unknown_reason"] == "no_usage"
    assert (telemetry.metrics()["tokentrace.calls.cost_unknown"][0]).value == 1


def test_a_plain_http_call_under_an_sdks_own_genai_span_enriches_it(instrumented: Telemetry) -> None:
    """An SDK tokentrace sees only through HTTP (the anthropic SDK opens its own CLIENT span)."""
    import requests

    from tokentrace.demo.server import DevServer

    tracer = instrumented.tracer_provider.get_tracer("some.sdk")
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1"}
    with (
        DevServer() as server,
        tracer.start_as_current_span("chat gpt-4.1", kind=SpanKind.CLIENT, attributes=attributes),
    ):
        body = {"model": "gpt-4.1", "messages": MESSAGES}
        usage = requests.post(f"{server.base_url}/chat/completions", json=body, timeout=30).json()["usage"]

    (span,) = genai_spans(instrumented)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "some.sdk"
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]  # it had none: filled in
    assert attrs["gen_ai.usage.cost.amount"] > 0
    assert token_sum(instrumented) == 0  # a CLIENT GenAI span's owner records its histograms
    assert "gen_ai.client.cost" in instrumented.metrics()
