"""Property tests the parsing suites did not have yet: price files of any text, and SSE bodies cut
anywhere giving the same usage as whole."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Telemetry
from tokentrace.calls.apis import ApiKind
from tokentrace.calls.providers import endpoint_for
from tokentrace.config import Settings
from tokentrace.patches.http_bodies import BodyObserver
from tokentrace.pricing import PriceFileError, PriceOverride, load_price_file
from tokentrace.telemetry.recorder import Recorder

_TOML_PIECES = st.sampled_from(
    [
        "[[price]]\n",
        "[defaults]\n",
        'model = "gpt-4.1"\n',
        'model = ""\n',
        "model = 3\n",
        'provider = "gateway.example.com"\n',
        "input = 2\n",
        "input = -2\n",
        'input = "two"\n',
        "output = 8.5\n",
        "output = 1e400\n",
        "cache_read = 0.5\n",
        "[[price.tiers]]\n",
        "above = 200000\n",
        "above = -1\n",
        "unknown_field = 1\n",
        'date = "2026-01-01"\n',
        'date = "not a date"\n',
        "input = \n",
        "[[price]\n",
        '"unterminated\n',
        "\n",
        "# a comment\n",
    ]
)
_YAML_PIECES = st.sampled_from(
    [
        "prices:\n",
        "- model: gpt-4.1\n",
        "  - model: gpt-4.1\n",
        "  - model: 7\n",
        "    input: 2\n",
        "    input: -1\n",
        "    output: eight\n",
        "    output: 8\n",
        "defaults: {provider: gateway.example.com}\n",
        "  bogus: [1, 2\n",
        ": :\n",
        "\t- tab\n",
        "\n",
    ]
)


def _load(text: str, suffix: str) -> list[PriceOverride] | PriceFileError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"prices{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            return load_price_file(path)
        except PriceFileError as error:
            failure = error
        assert str(failure).startswith(str(path)), failure  # the message names the file first
        assert failure.path == str(path)
        return failure


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOML_PIECES, max_size=14).map("".join))
def test_any_toml_text_loads_or_raises_a_price_file_error(text: str) -> None:
    result = _load(text, ".toml")
    if isinstance(result, list):
        assert all(isinstance(entry, PriceOverride) for entry in result)


@settings(max_examples=200, deadline=None)
@given(st.lists(_YAML_PIECES, max_size=12).map("".join))
def test_any_yaml_text_loads_or_raises_a_price_file_error(text: str) -> None:
    result = _load(text, ".yaml")
    if isinstance(result, list):
        assert all(isinstance(entry, PriceOverride) for entry in result)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_never_anything_but_a_price_file_error(text: str) -> None:
    for suffix in (".toml", ".yaml"):
        _load(text, suffix)


def _sse_body(choices: int, input_tokens: int, output_tokens: int) -> bytes:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1"}
    events: list[dict[str, Any]] = []
    for index in range(choices):
        events.append(
            {**base, "choices": [{"index": index, "delta": {"content": "héllo ✓"}, "finish_reason": None}]}
        )
        events.append({**base, "choices": [{"index": index, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {**base, "choices": [], "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens}}
    )
    return (
        "".join(f"data: {json.dumps(e, ensure_ascii=False)}\r\n\r\n" for e in events).encode()
        + b"data: [DONE]\n\n"
    )


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    choices=st.integers(min_value=1, max_value=3),
    input_tokens=st.integers(min_value=0, max_value=10**9),
    output_tokens=st.integers(min_value=0, max_value=10**9),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_sse_cut_anywhere_gives_the_same_usage(
    telemetry: Telemetry, choices: int, input_tokens: int, output_tokens: int, cuts: list[int]
) -> None:
    body = _sse_body(choices, input_tokens, output_tokens)
    recorder = Recorder(
        telemetry.tracer_provider.get_tracer("t"), telemetry.meter_provider.get_meter("m"), Settings()
    )
    call = recorder.start("chat", "gpt-4.1", endpoint_for("http://127.0.0.1:1"), True, {})
    observer = BodyObserver(recorder, call, ApiKind.CHAT, "text/event-stream", "")
    positions = sorted({c for c in cuts if c < len(body)} | {0, len(body)})
    for start, end in itertools.pairwise(positions):
        observer.feed(body[start:end])  # cuts may split a UTF-8 character or a CRLF
    observer.end("completed")
    response = call.response
    assert response is not None and response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (input_tokens, output_tokens)
    assert response.finish_reasons == ["stop"] * choices


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    choices=st.integers(min_value=1, max_value=3),
    input_tokens=st.integers(min_value=0, max_value=10**9),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_hidden_usage_event_cut_anywhere_leaves_exactly_the_other_bytes(
    telemetry: Telemetry, choices: int, input_tokens: int, cuts: list[int]
) -> None:
    """A raw stream tokentrace asked for usage: the caller's bytes are the body less that one event."""
    body = _sse_body(choices, input_tokens, 3)
    usage_event = body[
        body.index(
            b'data: {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": [], "usage"'
        ) : body.index(b"data: [DONE]")
    ]
    recorder = Recorder(
        telemetry.tracer_provider.get_tracer("t"), telemetry.meter_provider.get_meter("m"), Settings()
    )
    call = recorder.start("chat", "gpt-4.1", endpoint_for("http://127.0.0.1:1"), True, {})
    observer = BodyObserver(recorder, call, ApiKind.CHAT, "text/event-stream", "", hide_usage_chunk=True)
    positions = sorted({c for c in cuts if c < len(body)} | {0, len(body)})
    shown = b"".join(observer.pass_on(body[start:end]) for start, end in itertools.pairwise(positions))
    shown += observer.held()
    observer.end("closed")  # closed after [DONE]: read to its end all the same
    assert shown == body.replace(usage_event, b"")
    response = call.response
    assert response is not None and response.usage is not None
    assert response.usage.input_tokens == input_tokens
    assert call.stream_end == "completed"
