"""Model names on metrics are bounded: a flood of made-up names cannot push a real model's calls
into the SDK's overflow series (issue: 2,500 junk models, then ``gpt-4.1-mini``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client
from tokentrace.config import Settings, SettingsError

METRICS = ("gen_ai.client.operation.duration", "gen_ai.client.token.usage")


def _echo_model(body: dict[str, Any], request: Any) -> Any:
    """The server answers with the model the caller asked for, as gateways do."""
    return json_reply(payloads.openai_chat(model=body["model"]))


def _models_on(telemetry: Telemetry, name: str, key: str) -> set[str]:
    return {str(p.attributes.get(key)) for p in telemetry.metrics()[name] if key in p.attributes}


def test_junk_models_then_a_real_one(
    instrument: Any, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tokentrace")
    instrument()
    client = make_client(Recorder(_echo_model))
    for i in range(2500):
        client.chat.completions.create(model=f"junk-{i}", messages=[{"role": "user", "content": "hi"}])
    client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}])

    for name in METRICS:
        for key in ("gen_ai.request.model", "gen_ai.response.model"):
            models = _models_on(telemetry, name, key)
            assert "gpt-4.1-mini" in models, (name, key)
            assert "_OTHER" in models
            assert len(models) == 100 + 2  # the first 100 names, the priced one, the overflow
    # only the real model has a cost; the junk ones are counted as unknown, 101 series at most
    assert _models_on(telemetry, "gen_ai.client.cost", "gen_ai.request.model") == {"gpt-4.1-mini"}
    unknown = _models_on(telemetry, "tokentrace.calls.cost_unknown", "gen_ai.request.model")
    assert len(unknown) == 101
    assert "_OTHER" in unknown
    for points in telemetry.metrics().values():
        assert not any(p.attributes.get("otel.metric.overflow") for p in points)
    durations = telemetry.metrics()["gen_ai.client.operation.duration"]
    real = [p for p in durations if p.attributes.get("gen_ai.request.model") == "gpt-4.1-mini"]
    other = [p for p in durations if p.attributes.get("gen_ai.request.model") == "_OTHER"]
    assert [p.count for p in real] == [1]
    assert sum(p.count for p in other) == 2400
    # the log names the first ten unpriced models, then counts the rest in one line
    lines = [r.getMessage() for r in caplog.records if r.name == "tokentrace"]
    assert len([m for m in lines if "no price known for model" in m]) == 10
    counted = [m for m in lines if "more model(s) without a known price" in m]
    assert len(counted) == 1
    assert counted[0].startswith("tokentrace: 1 more model(s)")
    # spans keep every name
    spans = telemetry.spans()
    assert len(spans) == 2501
    assert spans[-2].attributes is not None and spans[-2].attributes["gen_ai.request.model"] == "junk-2499"


def test_priced_models_keep_their_name_after_the_cap(instrument: Any, telemetry: Telemetry) -> None:
    instrument(max_models=2)
    client = make_client(Recorder(_echo_model))
    for model in ("junk-a", "junk-b", "junk-c", "gpt-4.1", "junk-d", "gpt-4.1"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    counts: dict[str, int] = {}
    for point in telemetry.metrics()["gen_ai.client.operation.duration"]:
        model = str(point.attributes["gen_ai.request.model"])
        counts[model] = counts.get(model, 0) + point.count
    assert counts == {"junk-a": 1, "junk-b": 1, "_OTHER": 2, "gpt-4.1": 2}


def test_zero_puts_only_priced_models_on_metrics(instrument: Any, telemetry: Telemetry) -> None:
    instrument(max_models=0)
    client = make_client(Recorder(_echo_model))
    for model in ("house-llm", "gpt-4.1"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    models = _models_on(telemetry, "gen_ai.client.token.usage", "gen_ai.response.model")
    assert models == {"_OTHER", "gpt-4.1"}


def test_max_models_setting() -> None:
    assert Settings.resolve({}, {}).max_models == 100
    assert Settings.resolve({}, {"TOKENTRACE_MAX_MODELS": "7"}).max_models == 7
    with pytest.raises(SettingsError, match="TOKENTRACE_MAX_MODELS"):
        Settings.resolve({}, {"TOKENTRACE_MAX_MODELS": "abc"})
    with pytest.raises(SettingsError, match="max_models"):
        tokentrace.instrument(max_models=-1)
