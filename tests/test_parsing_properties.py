"""Property tests: no provider data, however odd, makes the parsers raise."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Telemetry
from tokentrace.calls.apis import ApiKind
from tokentrace.calls.apis.openai_usage import usage_from
from tokentrace.calls.apis.read import response_info
from tokentrace.calls.apis.stream import StreamAccumulator
from tokentrace.calls.providers import endpoint_for
from tokentrace.config import Settings
from tokentrace.patches.http_bodies import BodyObserver
from tokentrace.telemetry.recorder import Recorder

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
usage_keys = st.sampled_from(
    ["prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "cost", "prompt_tokens_details",
     "completion_tokens_details", "cached_tokens", "reasoning_tokens", "prompt_cache_hit_tokens",
     "cache_read_input_tokens", "cache_creation_input_tokens"]
)  # fmt: skip
usage_like = st.dictionaries(
    usage_keys, json_values | st.dictionaries(usage_keys, json_values, max_size=3), max_size=8
)
kinds = st.sampled_from(list(ApiKind))


@given(usage_like | json_values)
def test_usage_parsing_never_raises_and_counts_are_sane(raw: Any) -> None:
    usage = usage_from(raw)
    if usage is not None:
        for value in (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.reasoning_tokens,
        ):
            assert value is None or (type(value) is int and 0 <= value < 1 << 40)
        assert usage.provider_cost is None or usage.provider_cost >= 0


@given(
    kinds,
    st.dictionaries(
        st.sampled_from(["id", "model", "choices", "usage", "status", "output", "stop_reason"]),
        json_values | usage_like,
    ),
)
def test_response_parsing_never_raises(kind: ApiKind, payload: dict[str, Any]) -> None:
    info = response_info(kind, payload)
    assert info.model is None or isinstance(info.model, str)


@given(
    kinds,
    st.lists(json_values | st.fixed_dictionaries({"choices": json_values, "usage": usage_like}), max_size=8),
)
def test_stream_accumulation_never_raises(kind: ApiKind, chunks: list[Any]) -> None:
    acc = StreamAccumulator(kind, hide_usage_chunk=True, capture_text=True)
    for chunk in chunks:
        acc.add(chunk)
    assert isinstance(acc.finish_reasons(), list)


def sse_bytes() -> Any:
    event = st.one_of(
        json_values.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
        st.binary(max_size=40),
        st.just(b"data: [DONE]\n\n"),
        st.just(b": keep-alive\n\n"),
        st.just(b'data: {"choices": [], "usage": {"prompt_tokens": 3}}\r\n\r\n'),
    )
    return st.lists(event, max_size=10).map(b"".join)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=sse_bytes(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    content_type=st.sampled_from(["text/event-stream", "application/json", "text/html", ""]),
    encoding=st.sampled_from(["", "gzip", "deflate", "br"]),
    kind=kinds,
)
def test_body_observer_never_raises(
    telemetry: Telemetry, body: bytes, cuts: list[int], content_type: str, encoding: str, kind: ApiKind
) -> None:
    recorder = Recorder(
        telemetry.tracer_provider.get_tracer("t"), telemetry.meter_provider.get_meter("m"), Settings()
    )
    call = recorder.start(kind.operation, "m", endpoint_for("http://127.0.0.1:1"), True, {})
    observer = BodyObserver(recorder, call, kind, content_type, encoding)
    positions = sorted({c for c in cuts if c < len(body)} | {0, len(body)})
    for start, end in itertools.pairwise(positions):
        observer.feed(body[start:end])
    observer.end("completed")
    observer.end("closed")  # a second end is a no-op
    assert observer.done


@given(
    kinds,
    st.dictionaries(st.sampled_from(["messages", "prompt", "input", "instructions", "system"]), json_values),
)
def test_content_capture_never_raises(kind: ApiKind, body: dict[str, Any]) -> None:
    from tokentrace.calls.content import input_attributes, output_attributes

    for value in input_attributes(kind, body).values():
        json.loads(value)
    for value in output_attributes(kind, body).values():
        json.loads(value)
