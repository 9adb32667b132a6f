"""What the tests beside the providers' SDKs share: hand-written Messages API replies, and counting
what every instrumentation exported together (the fixtures are in tests/sdk/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from tests.conftest import Telemetry

ANTHROPIC_SDK_SCOPE = "com.anthropic.sdk.python"
OURS = "tokentrace.instrumentor"

# One Messages API answer as Anthropic sends it: 21 uncached + 4 cached input tokens, 9 output.
MESSAGE_TEXT = "Hello from the test server."
MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": MESSAGE_TEXT}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 21,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
        "output_tokens": 9,
        "service_tier": "standard",
    },
}
MESSAGE_TOKENS = (25, 9)  # input (cached input counted inside, as the GenAI conventions say), output

STREAM_PIECES = ("Hel", "lo", "!")
STREAM_TOKENS = (25, 6)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def message_events() -> list[str]:
    """A streamed Message's server-sent events: the start carries the input usage (and a
    placeholder output count of 1), the delta the final output count."""
    start = {
        **MESSAGE,
        "content": [],
        "stop_reason": None,
        "usage": {**MESSAGE["usage"], "output_tokens": 1},
    }
    events = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _event("ping", {"type": "ping"}),
    ]
    events += [
        _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
        )
        for piece in STREAM_PIECES
    ]
    events += [
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": STREAM_TOKENS[1]},
            },
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return events


def usage_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    """The spans that carry a GenAI token count: each a record of the call's usage."""
    return [
        span
        for span in telemetry.spans()
        if any(key.startswith("gen_ai.usage.") and key.endswith("_tokens") for key in span.attributes or {})
    ]


def scope_of(span: ReadableSpan) -> str:
    assert span.instrumentation_scope is not None
    return span.instrumentation_scope.name


def points(telemetry: Telemetry, name: str) -> dict[str, list[Any]]:
    """The data points of one metric, by the scope that recorded them."""
    found: dict[str, list[Any]] = {}
    data = telemetry.reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.setdefault(scope.scope.name, []).extend(metric.data.data_points)
    return found


def token_counts(telemetry: Telemetry) -> dict[str, tuple[int, ...]]:
    """Per scope, how many input and output points ``gen_ai.client.token.usage`` holds, and their
    sums: ``(input points, output points, input sum, output sum)``."""
    counted: dict[str, tuple[int, ...]] = {}
    for scope, found in points(telemetry, "gen_ai.client.token.usage").items():
        by_type = {"input": [0, 0], "output": [0, 0]}
        for point in found:
            kind = by_type[point.attributes["gen_ai.token.type"]]
            kind[0] += point.count
            kind[1] += int(point.sum)
        counted[scope] = (
            by_type["input"][0],
            by_type["output"][0],
            by_type["input"][1],
            by_type["output"][1],
        )
    return counted


def duration_counts(telemetry: Telemetry) -> dict[str, int]:
    return {
        scope: sum(point.count for point in found)
        for scope, found in points(telemetry, "gen_ai.client.operation.duration").items()
    }
