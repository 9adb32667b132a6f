"""Beside the anthropic SDK's own call span, and beside the instrumentations of the anthropic SDK.

The anthropic SDK (2.x) opens ``anthropic.messages.create`` (CLIENT, scope
``com.anthropic.sdk.python``, ``gen_ai.usage.*``, no metrics) around its requests whenever the app
has a global tracer provider, and tokentrace's httpx2 patch records the request inside it. Each
call here is answered by the local server with a hand-written Messages API body or event stream.
What a user must see: the span with the call's usage that tokentrace can reach carries its cost
and tracking id, tokentrace adds no span of its own beside it, and every call is one input and
one output point of ``gen_ai.client.token.usage`` and one ``gen_ai.client.operation.duration``
point, whichever instrumentation recorded them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

import tokentrace
from tests.conftest import Telemetry
from tests.sdk.peers import (
    ANTHROPIC_SDK_SCOPE,
    MESSAGE,
    MESSAGE_TEXT,
    MESSAGE_TOKENS,
    OURS,
    STREAM_PIECES,
    STREAM_TOKENS,
    duration_counts,
    message_events,
    scope_of,
    token_counts,
    usage_spans,
)
from tokentrace.demo.server import DevServer
from tokentrace.demo.server._scripted import json, sse

KEY = "sk-ant-loopback-test"
MODEL = "claude-sonnet-4-5"
PROMPT: Any = [{"role": "user", "content": "Say hello"}]
KINDS = ("plain", "stream", "stream-helper", "async", "async-stream")
OPENINFERENCE = "openinference.instrumentation.anthropic"
OPENLLMETRY = "opentelemetry.instrumentation.anthropic"


def expected(kind: str) -> tuple[str, tuple[int, int]]:
    """What the caller reads, and the call's input and output tokens."""
    if "stream" in kind:
        return "".join(STREAM_PIECES), STREAM_TOKENS
    return MESSAGE_TEXT, MESSAGE_TOKENS


async def one_call(server: DevServer, kind: str) -> str:
    """One ``messages.create`` of ``kind`` inside ``track("checkout")``; what the caller read."""
    server.reset()
    server.script(sse(message_events()) if "stream" in kind else json(MESSAGE))
    options: dict[str, Any] = {"base_url": server.origin, "api_key": KEY, "max_retries": 0}
    with tokentrace.track("checkout"):
        if not kind.startswith("async"):
            with anthropic.Anthropic(**options) as client:
                if kind == "plain":
                    return text_of(client.messages.create(model=MODEL, max_tokens=256, messages=PROMPT))
                if kind == "stream-helper":
                    with client.messages.stream(model=MODEL, max_tokens=256, messages=PROMPT) as helper:
                        return helper.get_final_text()
                stream = client.messages.create(model=MODEL, max_tokens=256, messages=PROMPT, stream=True)
                return "".join(delta_text(event) for event in stream)
        async with anthropic.AsyncAnthropic(**options) as aclient:
            if kind == "async":
                reply = await aclient.messages.create(model=MODEL, max_tokens=256, messages=PROMPT)
                return text_of(reply)
            astream = await aclient.messages.create(model=MODEL, max_tokens=256, messages=PROMPT, stream=True)
            return "".join([delta_text(event) async for event in astream])


def text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def delta_text(event: Any) -> str:
    if event.type == "content_block_delta" and event.delta.type == "text_delta":
        return str(event.delta.text)
    return ""


def assert_priced(span: Any, tokens: tuple[int, int]) -> None:
    """tokentrace's cost, price and tracking id on ``span``, and the call's tokens."""
    attrs = dict(span.attributes or {})
    assert attrs["tokentrace.tracking_id"] == "checkout"
    assert attrs["gen_ai.usage.cost.amount"] > 0
    assert attrs["gen_ai.usage.cost.currency"] == "USD"
    assert attrs["gen_ai.usage.cost.source"] == "local"
    assert attrs["tokentrace.price.entry"] == "anthropic/claude-sonnet-4-5"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == tokens


def assert_cost_metric(telemetry: Telemetry, span: Any) -> None:
    (cost,) = telemetry.metrics()["gen_ai.client.cost"]
    assert cost.value == pytest.approx((span.attributes or {})["gen_ai.usage.cost.amount"])
    assert cost.attributes["tokentrace.tracking_id"] == "checkout"


@pytest.mark.parametrize("kind", KINDS)
async def test_the_sdks_own_span_is_the_calls_one_span(
    global_provider: Telemetry, instrument: Any, server: DevServer, kind: str
) -> None:
    instrument()
    read = await one_call(server, kind)

    text, tokens = expected(kind)
    assert read == text  # the caller's answer unchanged
    assert len(server.requests) == 1
    (span,) = usage_spans(global_provider)
    assert scope_of(span) == ANTHROPIC_SDK_SCOPE
    assert span.name == "anthropic.messages.create"
    assert span.kind is SpanKind.CLIENT
    assert_priced(span, tokens)
    if "stream" in kind:
        assert (span.attributes or {})["tokentrace.stream.end"] == "completed"
    # The SDK records no metrics: the call's histograms are tokentrace's, once.
    assert token_counts(global_provider) == {OURS: (1, 1, *tokens)}
    assert duration_counts(global_provider) == {OURS: 1}
    assert_cost_metric(global_provider, span)


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app without a global tracer provider, whatever an earlier test of the process set."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)


async def test_without_a_global_provider_the_span_is_tokentraces(
    no_global_provider: None, instrumented: Telemetry, server: DevServer
) -> None:
    """The SDK opens no span of its own then; tokentrace's span has the same numbers."""
    assert await one_call(server, "plain") == MESSAGE_TEXT

    (span,) = usage_spans(instrumented)
    assert scope_of(span) == OURS
    assert span.name == "chat claude-sonnet-4-5"
    assert_priced(span, MESSAGE_TOKENS)
    assert token_counts(instrumented) == {OURS: (1, 1, *MESSAGE_TOKENS)}


@pytest.mark.parametrize("mode", ["own", "both"])
async def test_own_and_both_keep_tokentraces_span_under_the_sdks(
    global_provider: Telemetry, instrument: Any, server: DevServer, mode: str
) -> None:
    """Both settings say "a span of tokentrace's own": under the SDK's, which is not touched. The
    SDK records no histograms, so they are still counted once."""
    instrument(coexist=mode)
    await one_call(server, "stream")

    spans = {scope_of(span): span for span in usage_spans(global_provider)}
    assert set(spans) == {ANTHROPIC_SDK_SCOPE, OURS}
    ours, theirs = spans[OURS], spans[ANTHROPIC_SDK_SCOPE]
    assert ours.parent is not None
    assert ours.parent.span_id == theirs.context.span_id
    assert_priced(ours, STREAM_TOKENS)
    assert "gen_ai.usage.cost.amount" not in (theirs.attributes or {})
    assert token_counts(global_provider) == {OURS: (1, 1, *STREAM_TOKENS)}
    assert duration_counts(global_provider) == {OURS: 1}


@pytest.mark.parametrize("kind", KINDS)
async def test_beside_openinference(
    global_provider: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, kind: str
) -> None:
    """OpenInference's span (INTERNAL, ``llm.*`` attributes, no metrics) wraps the SDK method, so
    the SDK's span is the current one when the request is sent: that one is enriched, and
    tokentrace records the histograms nobody else records."""
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    peer(AnthropicInstrumentor())
    instrument()
    read = await one_call(server, kind)

    text, tokens = expected(kind)
    assert read == text
    (span,) = usage_spans(global_provider)
    assert scope_of(span) == ANTHROPIC_SDK_SCOPE
    assert_priced(span, tokens)
    (wrapper,) = [s for s in global_provider.spans() if scope_of(s) == OPENINFERENCE]
    assert wrapper.kind is SpanKind.INTERNAL
    if kind != "stream-helper":  # messages.stream() sends on entering its manager, after the wrapper
        assert span.parent is not None
        assert span.parent.span_id == wrapper.context.span_id
    assert "gen_ai.usage.cost.amount" not in (wrapper.attributes or {})
    assert token_counts(global_provider) == {OURS: (1, 1, *tokens)}
    assert duration_counts(global_provider) == {OURS: 1}


@pytest.mark.parametrize("kind", ["plain", "stream", "async-stream"])
async def test_beside_openllmetry(
    global_provider: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, kind: str
) -> None:
    """OpenLLMetry's span (CLIENT, ``anthropic.chat``) is never the current one, and it records the
    histograms: tokentrace enriches the SDK's span, adds none, and leaves the histograms to it."""
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    peer(AnthropicInstrumentor())
    instrument()
    read = await one_call(server, kind)

    text, tokens = expected(kind)
    assert read == text
    spans = {scope_of(span): span for span in usage_spans(global_provider)}
    assert set(spans) == {ANTHROPIC_SDK_SCOPE, OPENLLMETRY}  # the two the SDK and OpenLLMetry open
    assert_priced(spans[ANTHROPIC_SDK_SCOPE], tokens)
    assert "gen_ai.usage.cost.amount" not in (spans[OPENLLMETRY].attributes or {})
    assert set(token_counts(global_provider)) == {OPENLLMETRY}
    assert token_counts(global_provider)[OPENLLMETRY][:2] == (1, 1)
    assert duration_counts(global_provider) == {OPENLLMETRY: 1}
    assert_cost_metric(global_provider, spans[ANTHROPIC_SDK_SCOPE])


def mock_client(**options: Any) -> anthropic.Anthropic:
    """A client of the real API host (its provider is ``anthropic``) answered by a mock transport."""

    def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=MESSAGE)

    return anthropic.Anthropic(
        api_key=KEY,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(reply)),
        **options,
    )


@pytest.fixture
def client_without_spans() -> Iterator[anthropic.Anthropic]:
    with mock_client(open_telemetry=False) as client:
        yield client


@pytest.mark.parametrize("openllmetry_metrics", [True, False])
def test_beside_openllmetry_with_the_sdks_spans_off(
    global_provider: Telemetry,
    peer: Callable[..., None],
    instrument: Any,
    client_without_spans: anthropic.Anthropic,
    monkeypatch: pytest.MonkeyPatch,
    openllmetry_metrics: bool,
) -> None:
    """No GenAI span is current then: tokentrace's own span carries the cost, beside OpenLLMetry's,
    and the histograms are OpenLLMetry's unless its metrics are switched off."""
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    if not openllmetry_metrics:
        monkeypatch.setenv("TRACELOOP_METRICS_ENABLED", "false")
    peer(AnthropicInstrumentor())
    instrument()
    with tokentrace.track("checkout"):
        reply = client_without_spans.messages.create(model=MODEL, max_tokens=256, messages=PROMPT)

    assert text_of(reply) == MESSAGE_TEXT
    spans = {scope_of(span): span for span in usage_spans(global_provider)}
    assert set(spans) == {OURS, OPENLLMETRY}
    assert_priced(spans[OURS], MESSAGE_TOKENS)
    recorder = OPENLLMETRY if openllmetry_metrics else OURS
    assert set(token_counts(global_provider)) == {recorder}
    assert duration_counts(global_provider) == {recorder: 1}
    assert_cost_metric(global_provider, spans[OURS])


def test_tokentraces_own_span_without_peers_records_its_histograms(
    instrumented: Telemetry, client_without_spans: anthropic.Anthropic
) -> None:
    """The provider's entry in ``PEERS_OUT_OF_SIGHT_BY_PROVIDER`` with none of them switched on."""
    client_without_spans.messages.create(model=MODEL, max_tokens=256, messages=PROMPT)

    (span,) = usage_spans(instrumented)
    assert scope_of(span) == OURS
    assert token_counts(instrumented) == {OURS: (1, 1, *MESSAGE_TOKENS)}
    assert duration_counts(instrumented) == {OURS: 1}
