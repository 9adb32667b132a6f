"""Property tests: whatever usage and cost a response reports, a recorded cost is unknown or sane.

Next to ``test_parsing_properties.py`` (no payload makes a parser raise), these say what comes out:
a usage is valid or unknown, no detail exceeds its total, and a recorded cost lies between 0 and
what the call's tokens could cost at known prices (the plausibility bound, for a provider's own
cost), through the openai SDK and plain ``requests`` alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import tokentrace
from tests.conftest import Telemetry
from tests.sdk.mock_transport import http, make_client
from tokentrace.calls.apis.openai_usage import usage_from
from tokentrace.demo.server import DevServer, raw

# Token counts as providers and broken gateways send them: mostly ordinary, else negative, around
# and above the maximum (10**9), booleans, any float, numeric and other text.
ordinary = st.integers(min_value=0, max_value=300_000)
hostile = st.one_of(
    st.integers(min_value=-5, max_value=-1),
    st.integers(min_value=10**9 - 2, max_value=10**13),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=0, max_value=300_000).map(lambda n: f" {n}"),
    st.text(max_size=4),
)
counts = st.integers(min_value=0, max_value=19).flatmap(
    lambda pick: hostile if pick < 2 else st.none() if pick < 4 else ordinary
)
costs = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=50),  # mostly plausible: a gateway's honest price
    st.floats(min_value=0, max_value=50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10, max_value=10**40),
    st.decimals(min_value=0, max_value=10_000, places=8).map(str),
    st.sampled_from(["1e300", "1E+999999999", "1e-999999999", "-0", "abc", "Infinity"]),
)
usages = st.fixed_dictionaries(
    {"prompt_tokens": counts, "completion_tokens": counts, "cost": costs},
    optional={
        "prompt_tokens_details": st.fixed_dictionaries(
            {}, optional={"cached_tokens": counts, "cache_write_tokens": counts}
        ),
        "completion_tokens_details": st.fixed_dictionaries({}, optional={"reasoning_tokens": counts}),
        "prompt_cache_hit_tokens": counts,
    },
)

MAXIMUM = 10**9
INPUT, OUTPUT = Decimal("2E-6"), Decimal("8E-6")  # the override's dearest rate on each side, per token
HIGHEST_RATE = Decimal("0.001")  # USD 1,000 per million tokens: above every price anyone lists
HIGHEST_FEE = Decimal("0.1")


def a_count(value: Any) -> int | None:
    """The test's own reading of a count: the int, None when absent; raises ValueError if invalid."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is int and 0 <= value <= MAXIMUM:
        return value
    raise ValueError(value)


def expected_counts(raw: dict[str, Any]) -> dict[str, int | None] | None:
    """Input, output and details as they must be read, or None when the usage must be unknown."""
    try:
        found = {"input": a_count(raw.get("prompt_tokens")), "output": a_count(raw.get("completion_tokens"))}
        # Without chat's totals the Responses API's names are read (input_tokens_details, …),
        # which these payloads never hold: the chat details are then not this usage's.
        chat_names = found["input"] is not None or found["output"] is not None
        in_details = raw.get("prompt_tokens_details", {}) if chat_names else {}
        out_details = raw.get("completion_tokens_details", {}) if chat_names else {}
        found["cache_read"] = a_count(in_details.get("cached_tokens"))
        found["cache_write"] = a_count(in_details.get("cache_write_tokens"))
        found["reasoning"] = a_count(out_details.get("reasoning_tokens"))
        if found["cache_read"] is None:
            found["cache_read"] = a_count(raw.get("prompt_cache_hit_tokens"))
    except ValueError:
        return None
    return found


def ceiling(tokens: int) -> Decimal:
    """What a provider's cost may be at most, by the test's own generous arithmetic."""
    return max(Decimal(1), 10 * (tokens * HIGHEST_RATE + HIGHEST_FEE))


@given(usages)
def test_usage_is_valid_or_unknown_and_no_detail_exceeds_its_total(raw: dict[str, Any]) -> None:
    usage = usage_from(raw)
    expected = expected_counts(raw)
    if expected is None:
        assert usage is None
        return
    if usage is None:  # nothing to price
        assert expected["input"] is None and expected["output"] is None
        return
    assert (usage.input_tokens, usage.output_tokens) == (expected["input"], expected["output"])
    prompt, completion = usage.input_tokens or 0, usage.output_tokens or 0
    assert (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0) <= prompt
    assert (usage.reasoning_tokens or 0) <= completion


@pytest.fixture
def house_prices(instrumented: Telemetry) -> Iterator[Telemetry]:
    # Rates the test knows exactly; genai-prices stays on, so the bound covers its prices too.
    tokentrace.set_prices(
        [
            tokentrace.PriceOverride(
                "house-model", input=Decimal(2), cache_read=Decimal("0.5"), output=Decimal(8)
            )
        ]
    )
    yield instrumented
    tokentrace.set_prices([])


def chat(usage: dict[str, Any]) -> bytes:
    body = {
        "id": "chatcmpl-p",
        "object": "chat.completion",
        "created": 1,
        "model": "house-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
    }
    return json.dumps(body).encode()  # NaN and Infinity too, as Python's own JSON writes them


def provider_cost(raw: Any) -> Decimal | None:
    """The amount a response's ``cost`` field states, as the test reads it; None if not a number."""
    if type(raw) is int:
        return Decimal(raw)
    if type(raw) is float:
        return Decimal(repr(raw))
    if isinstance(raw, str):
        try:
            return Decimal(raw)
        except InvalidOperation:
            return None
    return None


def check_span(attributes: dict[str, Any], raw: dict[str, Any], strict: bool) -> None:
    """The span's cost is unknown or lies between 0 and the call's maximum at known prices."""
    tokens_in = attributes.get("gen_ai.usage.input_tokens", 0)
    tokens_out = attributes.get("gen_ai.usage.output_tokens", 0)
    if strict and expected_counts(raw) is None:
        assert (
            "gen_ai.usage.input_tokens" not in attributes and "gen_ai.usage.output_tokens" not in attributes
        )
        assert attributes["tokentrace.cost.unknown_reason"] == "no_usage"
    amount = attributes.get("gen_ai.usage.cost.amount")
    event(
        f"cost: {attributes.get('gen_ai.usage.cost.source') or attributes['tokentrace.cost.unknown_reason']}"
    )
    if amount is None:
        assert attributes["tokentrace.cost.unknown_reason"] in ("no_usage", "unpriced_model")
        return
    assert math.isfinite(amount) and amount >= 0
    cost = Decimal(repr(amount))
    if attributes["gen_ai.usage.cost.source"] == "local":
        assert cost <= (tokens_in * INPUT + tokens_out * OUTPUT) * Decimal("1.000001")
    else:
        assert cost <= ceiling(tokens_in + tokens_out) * Decimal("1.000001")
        reported = provider_cost(raw.get("cost"))
        assert reported is not None and float(reported) == amount  # a plausible cost is kept as is


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(usage=usages)
def test_a_recorded_cost_is_unknown_or_between_zero_and_the_calls_maximum(
    house_prices: Telemetry, server: DevServer, usage: dict[str, Any]
) -> None:
    house_prices.exporter.clear()
    body = chat(usage)
    sdk: Any = make_client(
        lambda request: http.Response(200, content=body, headers={"content-type": "application/json"}),
        base_url="https://gateway.example/v1",
    )
    sdk.chat.completions.create(model="house-model", messages=[{"role": "user", "content": "hi"}])
    server.script(raw(200, body, {"Content-Type": "application/json"}))
    requests.post(
        f"{server.base_url}/chat/completions",
        json={"model": "house-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    through_sdk, through_requests = (dict(s.attributes or {}) for s in house_prices.spans())
    # The SDK's own models may turn ``true`` or ``"7"`` into ints before tokentrace reads them:
    # through the SDK the bound must hold; through plain HTTP the usage rules hold exactly too.
    check_span(through_sdk, usage, strict=False)
    check_span(through_requests, usage, strict=True)
