"""Property: whatever credential a user gives the client, and wherever, no sink ever holds it.

Hypothesis makes up the credential and picks where it goes (the API key, a default header, the
default query, the base URL's query or a path segment of it) and how the server fails (401, 404,
500, each echoing back everything it was sent: the URL and every header value, the worst case of a
chatty gateway). The call goes through the real openai SDK; then the spans, metric points,
tokentrace's and OpenTelemetry's log records and the ledger's raw bytes are scanned for the
credential.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokentrace
from tests.conftest import Telemetry
from tests.sdk.mock_transport import http
from tokentrace.ledger import read_calls

PLACES = ("api_key", "default_headers", "default_query", "base_url_query", "base_url_path")
MESSAGES: Any = [{"role": "user", "content": "hi"}]
# Made-up credentials as keys look: letters and digits, at least one capital and one digit
# (a plain lower-case word as a base-URL path segment is a path, not a key: docs/reliability.md).
SECRETS = st.from_regex(r"[A-Za-z0-9]{6,30}[A-Z][0-9]", fullmatch=True)


class _LogText(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("tokentrace", "opentelemetry")):
            self.lines.append(f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text}")


def _echoing(status: int) -> Any:
    def handler(request: Any) -> Any:
        echoed = {"url": str(request.url), "headers": dict(request.headers)}
        body = {"error": {"message": f"rejected: {json.dumps(echoed)}", "type": "invalid_request"}}
        return http.Response(status, json=body)

    return handler


def _client(secret: str, place: str, status: int) -> openai.OpenAI:
    base = "https://gateway.example.com/v1"
    options: dict[str, Any] = {"api_key": "sk-placeholder-key-0000"}
    if place == "api_key":
        options["api_key"] = secret
    elif place == "default_headers":
        options["default_headers"] = {"X-Team": secret}
    elif place == "default_query":
        options["default_query"] = {"tenant": secret}
    elif place == "base_url_query":
        base = f"{base}?code={secret}"
    else:
        base = f"https://gateway.example.com/{secret}/v1"
    transport = http.MockTransport(_echoing(status))
    return openai.OpenAI(
        base_url=base, max_retries=0, http_client=http.Client(transport=transport), **options
    )


@settings(max_examples=40, deadline=None)
@given(secret=SECRETS, place=st.sampled_from(PLACES), status=st.sampled_from((401, 404, 500)))
def test_no_sink_holds_a_credential(secret: str, place: str, status: int) -> None:
    telemetry = Telemetry()
    logs = _LogText()
    root = logging.getLogger()
    root.addHandler(logs)
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.sqlite3"
        instrumentor = tokentrace.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            ledger=str(ledger),
        )
        try:
            with _client(secret, place, status) as client, pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
            assert secret in str(caught.value)  # the caller's own error is untouched
            assert instrumentor.ledger is not None and instrumentor.ledger.flush(timeout=10)
            rows = list(read_calls(ledger))
            ledger_bytes = b"".join(p.read_bytes() for p in Path(folder).glob("ledger.sqlite3*"))
        finally:
            tokentrace.uninstrument()
            root.removeHandler(logs)
    (span,) = telemetry.spans()
    assert span.status.description, "the failure was recorded"
    data = telemetry.reader.get_metrics_data()
    sinks = {
        "span": span.to_json(),
        "metrics": data.to_json() if data is not None else "",
        "logs": "\n".join(logs.lines),
        "ledger rows": repr(rows),
        "ledger bytes": ledger_bytes.decode("latin-1"),
    }
    assert len(rows) == 1
    for name, text in sinks.items():
        assert secret not in text, f"{place} credential in {name}"
