"""Cost on spans and metrics through the real SDK: list prices, overrides, provider cost, unknowns."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client, sse, sse_reply

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def no_code_prices() -> Iterator[None]:
    yield
    tokentrace.set_prices([])


def reply(payload: dict[str, Any]) -> Recorder:
    return Recorder(lambda body, request: json_reply(payload))


def test_list_price_on_span_and_metrics(instrumented: Telemetry) -> None:
    client = make_client(reply(payloads.openai_chat(prompt=19, completion=10, cached=4)))
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    attrs = dict(instrumented.span().attributes or {})
    # gpt-4.1: $2 input, $0.50 cached input, $8 output per 1M tokens
    expected = (15 * 2 + 4 * 0.5 + 10 * 8) / 1e6
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-12)
    assert attrs["gen_ai.usage.cost.currency"] == "USD"
    assert attrs["gen_ai.usage.cost.source"] == "local"
    assert not any(key.startswith("tokentrace.cost.") for key in attrs)  # the breakdown is opt-in
    assert attrs["tokentrace.price.entry"]
    metrics = instrumented.metrics()
    (total,) = metrics["gen_ai.client.cost"]
    assert total.value == pytest.approx(expected)
    assert total.attributes["gen_ai.usage.cost.source"] == "local"
    assert "gen_ai.usage.cost.currency" not in total.attributes  # the unit says USD
    assert "gen_ai.client.operation.cost" not in metrics  # the per-call histogram is opt-in
    assert instrumented.metric("gen_ai.client.cost").unit == "USD"
    assert "tokentrace.calls.cost_unknown" not in metrics


def test_per_call_cost_histogram_when_asked(instrument: Any, telemetry: Telemetry) -> None:
    instrument(cost_histogram=True)
    client = make_client(reply(payloads.openai_chat(prompt=19, completion=10, cached=4)))
    for _ in range(3):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    expected = (15 * 2 + 4 * 0.5 + 10 * 8) / 1e6
    metrics = telemetry.metrics()
    (per_call,) = metrics["gen_ai.client.operation.cost"]
    assert per_call.count == 3
    assert per_call.sum == pytest.approx(3 * expected)
    assert per_call.explicit_bounds[0] == 1e-6
    assert per_call.explicit_bounds[-1] == 10.0
    # 0.000112 USD lands in the (1e-4, 3e-4] bucket, not in the first one
    assert per_call.bucket_counts[list(per_call.explicit_bounds).index(3e-4)] == 3
    (total,) = metrics["gen_ai.client.cost"]
    assert total.value == pytest.approx(per_call.sum)
    assert dict(per_call.attributes) == dict(total.attributes)
    assert telemetry.metric("gen_ai.client.operation.cost").unit == "USD"


def test_cost_breakdown_on_the_span_when_asked(instrument: Any, telemetry: Telemetry) -> None:
    instrument(cost_breakdown=True)
    client = make_client(reply(payloads.openai_chat(prompt=19, completion=10, cached=4)))
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    attrs: dict[str, Any] = dict(telemetry.span().attributes or {})
    assert attrs["tokentrace.cost.input"] == pytest.approx(30 / 1e6)
    assert attrs["tokentrace.cost.cache_read"] == pytest.approx(2 / 1e6)
    assert attrs["tokentrace.cost.output"] == pytest.approx(80 / 1e6)
    parts = sum(v for k, v in attrs.items() if k.startswith("tokentrace.cost."))
    assert parts == pytest.approx(attrs["gen_ai.usage.cost.amount"], rel=1e-12)


def test_provider_reported_cost_wins(instrumented: Telemetry) -> None:
    client = make_client(reply(payloads.openrouter_chat()), base_url="https://openrouter.ai/api/v1")
    client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.0000075)
    assert attrs["gen_ai.usage.cost.source"] == "provider"


def test_unpriced_model_is_said_so_never_zero(instrumented: Telemetry, caplog: Any) -> None:
    client = make_client(
        reply(payloads.vllm_chat() | {"model": "house-model-xyz"}), base_url="http://127.0.0.1:9/v1"
    )
    client.chat.completions.create(model="house-model-xyz", messages=MESSAGES)
    client.chat.completions.create(model="house-model-xyz", messages=MESSAGES)
    for span in instrumented.spans():
        attrs = dict(span.attributes or {})
        assert "gen_ai.usage.cost.amount" not in attrs
        assert attrs["tokentrace.cost.unpriced"] is True
        assert attrs["tokentrace.cost.unknown_reason"] == "unpriced_model"
    (unknown,) = instrumented.metrics()["tokentrace.calls.cost_unknown"]
    assert unknown.value == 2
    assert unknown.attributes["tokentrace.cost.unknown_reason"] == "unpriced_model"
    assert "gen_ai.client.cost" not in instrumented.metrics()
    assert sum("house-model-xyz" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_code_overrides_win(instrumented: Telemetry) -> None:
    tokentrace.set_prices([{"model": "house-model-xyz", "input": "1.00", "output": "2.00"}])
    client = make_client(
        reply(payloads.vllm_chat() | {"model": "house-model-xyz"}), base_url="http://127.0.0.1:9/v1"
    )
    client.chat.completions.create(model="house-model-xyz", messages=MESSAGES)
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((12 * 1 + 3 * 2) / 1e6)
    assert "tokentrace.cost.unpriced" not in attrs


def test_seed_price_file_for_a_reseller(instrument: Any, telemetry: Telemetry, monkeypatch: Any) -> None:
    seed = Path(__file__).parent.parent / "examples" / "prices-seed.toml"
    monkeypatch.setenv("TOKENTRACE_PRICES", str(seed))
    instrument()
    payload = payloads.openai_chat(model="deepseek-v3.2", prompt=1000, completion=500)
    client = make_client(reply(payload), base_url="https://gateway.example.com/v1")
    client.chat.completions.create(model="deepseek-v3.2", messages=MESSAGES)
    attrs = dict(telemetry.span().attributes or {})
    # the article's table: deepseek-v3.2 $0.10 in / $0.42 out per 1M tokens
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((1000 * 0.10 + 500 * 0.42) / 1e6)
    assert str(attrs["tokentrace.price.entry"]).startswith("gateway.example.com")


def test_bad_price_file_fails_at_instrument_with_file_and_line(instrument: Any, tmp_path: Path) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text('[[price]]\nmodel = "x"\ninput = 1\noutput = -2\n')
    with pytest.raises(tokentrace.PriceFileError) as caught:
        instrument(prices=str(bad))
    message = str(caught.value)
    assert "prices.toml" in message
    assert "prices.toml:4:" in message  # the line of the bad value
    assert "output" in message


@pytest.mark.parametrize(
    ("make_reply", "reason"),
    [
        (lambda: json_reply(payloads.error_body(429), status=429), "error"),
        (lambda: sse_reply(sse(payloads.chat_chunks())), "no_usage"),
    ],
)
def test_unknown_cost_reasons(instrumented: Telemetry, make_reply: Any, reason: str) -> None:
    client = make_client(Recorder(lambda b, r: make_reply()), base_url="http://gateway.internal/v1")
    with contextlib.suppress(openai.RateLimitError):
        list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    (unknown,) = instrumented.metrics()["tokentrace.calls.cost_unknown"]
    assert unknown.attributes["tokentrace.cost.unknown_reason"] == reason
    assert dict(instrumented.span().attributes or {})["tokentrace.cost.unknown_reason"] == reason


def test_cost_by_tracking_id_on_metrics(instrumented: Telemetry) -> None:
    client = make_client(reply(payloads.openai_chat(prompt=1000, completion=0)))
    with tokentrace.track("search"):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    with tokentrace.track("checkout"):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    by_id = {
        p.attributes["tokentrace.tracking_id"]: p.value for p in instrumented.metrics()["gen_ai.client.cost"]
    }
    assert by_id == {"search": pytest.approx(2 * 0.002), "checkout": pytest.approx(0.002)}


def test_streamed_usage_is_priced(instrumented: Telemetry) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    client = make_client(Recorder(lambda b, r: sse_reply(sse(payloads.chat_chunks(usage=usage)))))
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((100 * 2 + 50 * 8) / 1e6)
