"""Secrets never, content only when asked, and every caller-chosen string bounded — on every sink.

A recognisable fake key goes in the Authorization and api-key headers, a custom header, the query
string and the client's configuration; error bodies echo it back. Then every exported span, metric
point, log record (tokentrace's and OpenTelemetry's), the summary, the report and the ledger (its
rows and its raw bytes) is scanned for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import requests
from openai.types.chat import ChatCompletionMessageParam

import tokentrace
from tests.conftest import Telemetry
from tokentrace import cli
from tokentrace.activation import summary_sink as default_sink
from tokentrace.demo.server import DevServer, delay, status
from tokentrace.demo.server import json as json_reply
from tokentrace.ledger import read_calls

KEY = "sk-tokentrace-canary-5be1d3c0a9f84e2b"
PROMPT = "zebracanary quokkasecret"  # the dev server echoes the prompt back in its completion
LONG = "x" * 100_000


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_summary() -> Iterator[None]:
    default_sink().reset()
    yield
    default_sink().reset()


def _every_kind_of_call(server: DevServer) -> None:
    """Chat, stream, embeddings, plain requests and httpx, errors echoing the key, a timeout."""
    client = openai.OpenAI(
        base_url=server.base_url,
        api_key=KEY,
        organization=f"org-{KEY}",
        project=f"proj-{KEY}",
        default_headers={"api-key": KEY, "X-Gateway-Auth": f"Token {KEY}"},
        default_query={"key": KEY},
        max_retries=0,
        timeout=5,
    )
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
    with tokentrace.track("privacy"):
        client.chat.completions.create(model="gpt-4.1", messages=messages)
        list(client.chat.completions.create(model="gpt-4.1", messages=messages, stream=True))
        client.embeddings.create(model="text-embedding-3-small", input=PROMPT)
        for code in (401, 500):
            server.script(status(code, message=f"Incorrect API key provided: {KEY}. Bearer {KEY}"))
            with pytest.raises(openai.APIStatusError):
                client.chat.completions.create(model="gpt-4.1", messages=messages)
        server.script(delay(10))
        slow = client.with_options(timeout=0.3)
        with pytest.raises(openai.APITimeoutError):
            slow.chat.completions.create(model="gpt-4.1", messages=messages)
        url = f"{server.base_url}/chat/completions?key={KEY}"
        headers = {"Authorization": f"Bearer {KEY}", "api-key": KEY}
        body: dict[str, Any] = {"model": "gpt-4.1", "messages": messages}
        requests.post(url, json=body, headers=headers)
        server.script(status(401, message=f"bad key {KEY}"))
        requests.post(url, json=body, headers=headers)
        httpx.post(url, json=body, headers=headers)


def _exported_text(telemetry: Telemetry) -> str:
    spans = "\n".join(span.to_json() for span in telemetry.spans())
    data = telemetry.reader.get_metrics_data()
    return spans + "\n" + (data.to_json() if data is not None else "")


def _ledger_text(path: Path) -> str:
    rows = "\n".join(repr(row) for row in read_calls(path))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    return rows + "\n" + raw.decode("latin-1")


def _report_text(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    cli.main(["report", "--ledger", str(path), "--format", "json", "--by", "tracking-id"])
    cli.main(["report", "--ledger", str(path), "--by", "model"])
    return capsys.readouterr().out


def _logs(caplog: pytest.LogCaptureFixture) -> str:
    # tokentrace's own records and the OpenTelemetry SDK's (the SDKs of openai and httpx log
    # their own requests at DEBUG; what they write is theirs, not ours)
    ours = [r for r in caplog.records if r.name.startswith(("tokentrace", "opentelemetry"))]
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in ours)


@pytest.mark.parametrize("capture", [False, True], ids=["content-off", "content-on"])
def test_the_key_appears_nowhere_and_content_only_when_asked(
    instrument: Any,
    telemetry: Telemetry,
    server: DevServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    capture: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    ledger = tmp_path / "ledger.sqlite3"
    instrumentor = instrument(ledger=str(ledger), capture_content=capture)
    _every_kind_of_call(server)
    assert instrumentor.ledger.flush(timeout=10)
    by = ("model", "tracking_id")
    summary = tokentrace.format_summary(tokentrace.summary(by=by), by)
    sinks = {
        "spans and metrics": _exported_text(telemetry),
        "logs": _logs(caplog),
        "summary": summary + repr(tokentrace.summary(by=("model", "tracking_id", "provider", "operation"))),
        "ledger": _ledger_text(ledger),
        "report": _report_text(ledger, capsys),
    }
    assert len(telemetry.spans()) == 9
    assert len(list(read_calls(ledger))) == 9
    for sink, text in sinks.items():
        assert KEY not in text, sink
        assert "canary-5be1d3c0" not in text, sink  # not even a piece of it
    for sink, text in sinks.items():
        if capture and sink == "spans and metrics":
            assert PROMPT in text  # asked for: prompts and completions are on the spans
        else:
            assert "zebracanary" not in text, sink
            assert "quokkasecret" not in text, sink


def test_caller_chosen_strings_are_bounded_on_every_sink(
    instrument: Any,
    telemetry: Telemetry,
    server: DevServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    instrumentor = instrument(ledger=str(ledger))
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0)
    reply = {
        "id": "chatcmpl-long",
        "object": "chat.completion",
        "created": 1,
        "model": "r" + LONG,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    with tokentrace.track("t" + LONG):
        server.script(json_reply(reply))
        client.chat.completions.create(model="q" + LONG, messages=[{"role": "user", "content": "hi"}])
        requests.post(
            server.base_url + "/chat/completions",
            json={"model": "p" + LONG, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert instrumentor.ledger.flush(timeout=10)

    def longest(values: Any) -> int:
        return max((len(v) for v in values if isinstance(v, str)), default=0)

    spans = telemetry.spans()
    assert len(spans) == 2
    for span in spans:
        assert longest((span.attributes or {}).values()) <= 256
        assert len(span.name) <= 300
    data = telemetry.reader.get_metrics_data()
    assert data is not None
    points = json.loads(data.to_json())
    for resource in points["resource_metrics"]:
        for scope in resource["scope_metrics"]:
            for metric in scope["metrics"]:
                for point in metric["data"]["data_points"]:
                    assert longest(point["attributes"].values()) <= 256, metric["name"]
    for group in tokentrace.summary(by=("model", "tracking_id")):
        assert longest(group.key) <= 256
    for row in read_calls(ledger):
        assert longest(vars(row).values() if hasattr(row, "__dict__") else row._asdict().values()) <= 256
    report = _report_text(ledger, capsys)
    assert LONG not in report
