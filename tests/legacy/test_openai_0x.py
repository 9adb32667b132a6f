"""The openai 0.x SDK (``openai==0.28.1``, which many codebases still pin), as the origin article
uses it: ``openai.ChatCompletion.create`` and ``response['usage']``, ``acreate``, streams of both,
and ``openai.Embedding``. tokentrace does not patch that SDK (it has no ``openai._base_client``);
its calls go out through ``requests`` (sync) and ``aiohttp`` (async), and those patches record them.

Runs in ``.venv-openai-0`` (``bash scripts/dev.sh compat``); skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tokentrace
from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer
from tokentrace.ledger import read_calls

openai: Any = pytest.importorskip("openai")
if not str(openai.version.VERSION).startswith("0."):
    pytest.skip("the openai 0.x SDK runs in .venv-openai-0 (scripts/dev.sh compat)", allow_module_level=True)

MESSAGES = [{"role": "user", "content": "How much does this cost?"}]


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer() as running:
        openai.api_base = running.base_url
        openai.api_key = "sk-legacy-test-key"
        yield running


def _calls() -> list[tuple[str, Any]]:
    """The origin article's legacy calls, each returning what the caller reads its usage from."""

    def stream() -> Any:
        chunks = list(
            openai.ChatCompletion.create(
                model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
        return next(c for c in chunks if c.get("usage"))

    async def async_stream() -> Any:
        stream = await openai.ChatCompletion.acreate(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        return next(c for c in chunks if c.get("usage"))

    return [
        ("chat", lambda: openai.ChatCompletion.create(model="gpt-4.1", messages=MESSAGES)),
        ("chat", stream),
        ("chat", lambda: asyncio.run(openai.ChatCompletion.acreate(model="gpt-4.1", messages=MESSAGES))),
        ("chat", lambda: asyncio.run(async_stream())),
        ("embeddings", lambda: openai.Embedding.create(model="text-embedding-3-small", input="hello")),
        (
            "embeddings",
            lambda: asyncio.run(openai.Embedding.acreate(model="text-embedding-3-small", input="hello")),
        ),
    ]


def test_instrument_is_quiet(instrument: Any, server: DevServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tokentrace")
    instrument()
    assert [r.getMessage() for r in caplog.records if r.name == "tokentrace"] == []


def test_each_legacy_call_is_one_span_with_tokens_cost_and_tracking_id(
    instrument: Any, telemetry: Telemetry, server: DevServer, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    instrumentor = instrument(ledger=str(ledger))
    usages = []
    with tokentrace.track("legacy-report"):
        for _, call in _calls():
            usages.append(call()["usage"])
    spans = telemetry.spans()
    assert [(s.attributes or {})["gen_ai.operation.name"] for s in spans] == [op for op, _ in _calls()]
    assert len(server.requests) == 6  # nothing sent twice, nothing unseen
    prices = {"gpt-4.1": (2.0, 8.0), "text-embedding-3-small": (0.02, 0.0)}  # USD per 1M tokens
    for span, usage in zip(spans, usages, strict=True):
        attrs = dict(span.attributes or {})
        assert attrs["tokentrace.tracking_id"] == "legacy-report"
        assert attrs["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
        assert attrs.get("gen_ai.usage.output_tokens", 0) == usage.get("completion_tokens", 0)
        per_input, per_output = prices[str(attrs["gen_ai.request.model"])]
        expected = (usage["prompt_tokens"] * per_input + usage.get("completion_tokens", 0) * per_output) / 1e6
        assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-9)
    assert instrumentor.ledger is not None and instrumentor.ledger.flush(timeout=10)
    rows = list(read_calls(ledger))
    assert sorted(str(row.span_id) for row in rows) == sorted(f"{s.context.span_id:016x}" for s in spans)
    span_costs = [float(dict(s.attributes or {})["gen_ai.usage.cost.amount"]) for s in spans]  # type: ignore[arg-type]
    assert sum(float(row.cost or 0) for row in rows) == pytest.approx(sum(span_costs), rel=1e-9)
    (group,) = [g for g in tokentrace.summary(by=("tracking_id",)) if g.key == ("legacy-report",)]
    assert group.requests == 6
    assert group.input_tokens == sum(u["prompt_tokens"] for u in usages)
