"""Beside the official GenAI instrumentations of the providers' SDKs on opentelemetry-util-genai 1.3.

``opentelemetry-instrumentation-genai-anthropic`` and ``opentelemetry-instrumentation-google-genai``
1.3 need util-genai 1.3, which the openai-v2 instrumentation of the main test environment cannot
share (it needs < 1.2), so these run in their own environment (``bash scripts/dev.sh peers``,
part of ``check``) and are skipped elsewhere. The official anthropic instrumentation's span is
the parent of the anthropic SDK's own span, which is the current one when the SDK sends: it is
out of sight, and tokentrace must find it switched on to leave the histograms to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from tests.conftest import Telemetry
from tests.sdk.peers import ANTHROPIC_SDK_SCOPE, duration_counts, scope_of, token_counts, usage_spans
from tests.sdk.test_coexist_anthropic import assert_cost_metric, assert_priced, expected, one_call
from tests.sdk.test_coexist_gemini import TOKENS, served
from tests.sdk.test_coexist_gemini import assert_priced as assert_gemini_priced
from tests.sdk.test_coexist_gemini import one_call as gemini_call
from tokentrace.demo.server import DevServer

# Installed only in .venv-genai-latest, beside google-genai's official instrumentation 1.3.
pytest.importorskip(
    "opentelemetry.instrumentation.genai.anthropic",
    reason="the official instrumentations on util-genai 1.3 run in .venv-genai-latest (scripts/dev.sh peers)",
)

ANTHROPIC_OFFICIAL = "opentelemetry.instrumentation.genai.anthropic"
GOOGLE_OFFICIAL = "opentelemetry.instrumentation.google_genai"


@pytest.mark.parametrize("kind", ["plain", "stream", "stream-helper", "async", "async-stream"])
async def test_beside_the_official_anthropic_instrumentation(
    global_provider: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, kind: str
) -> None:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor

    peer(AnthropicInstrumentor())
    instrument()
    read = await one_call(server, kind)

    text, tokens = expected(kind)
    assert read == text
    spans = {scope_of(span): span for span in usage_spans(global_provider)}
    assert set(spans) == {ANTHROPIC_SDK_SCOPE, ANTHROPIC_OFFICIAL}  # the two the SDK and it open
    theirs, sdks = spans[ANTHROPIC_OFFICIAL], spans[ANTHROPIC_SDK_SCOPE]
    assert theirs.kind is SpanKind.CLIENT
    if kind != "stream-helper":  # messages.stream() sends on entering its manager
        assert sdks.parent is not None
        assert sdks.parent.span_id == theirs.context.span_id
    assert_priced(sdks, tokens)
    assert "gen_ai.usage.cost.amount" not in (theirs.attributes or {})
    assert set(token_counts(global_provider)) == {ANTHROPIC_OFFICIAL}
    assert token_counts(global_provider)[ANTHROPIC_OFFICIAL][:2] == (1, 1)
    assert duration_counts(global_provider) == {ANTHROPIC_OFFICIAL: 1}
    assert_cost_metric(global_provider, sdks)


@pytest.mark.parametrize("kind", ["plain", "stream", "async", "async-stream"])
async def test_beside_the_official_google_genai_instrumentation(
    telemetry: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, kind: str
) -> None:
    """1.3 names its scope after itself; its span is current when the SDK sends: enriched."""
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

    peer(GoogleGenAiSdkInstrumentor(), skip_dep_check=True)  # it declares google-genai < 3
    instrument()
    assert await gemini_call(served(server, kind), kind) == "Hello there"

    (span,) = usage_spans(telemetry)
    assert scope_of(span) == GOOGLE_OFFICIAL
    assert_gemini_priced(span)
    assert token_counts(telemetry) == {GOOGLE_OFFICIAL: (1, 1, *TOKENS)}
    assert duration_counts(telemetry) == {GOOGLE_OFFICIAL: 1}
