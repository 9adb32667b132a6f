"""Credentials wherever a user may put them never reach a sink, even when the server echoes them.

Each case puts a recognisable fake credential where real ones live — the SDK's base URL (query
string, path segment), its default headers and query, an Azure AD token, a plain request's URL
query under any parameter name — makes the call fail with an error that echoes it (a 401 or 404
body through the real openai SDK, a connection error of plain ``requests``/``httpx``/``httpx2`` to
a closed port), then scans every sink: spans (status, attributes, events), metric points,
tokentrace's and OpenTelemetry's log records, the ledger's raw bytes (WAL included) and every
format of ``tokentrace report`` (table, JSON, CSV, HTML).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import httpx2
import openai
import pytest
import requests

from tests.conftest import Telemetry
from tests.sdk.mock_transport import http, make_azure_client, make_client
from tokentrace import cli
from tokentrace.ledger import read_calls

MESSAGES: Any = [{"role": "user", "content": "hi"}]
KEY = "gw7Rk2PzQ9xLm4VtB8nC"  # no telling prefix: only what tokentrace knows of the call finds it
# A key as users paste it in a URL: base64 with "+", "/" and "=" percent-encoded.
ENCODED = "Zk9%2Bq7%2FRt3xWv5LmPq%3D%3D"
DECODED = unquote_plus(ENCODED)


@pytest.fixture
def sinks(
    instrument: Any,
    telemetry: Telemetry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> Callable[[], dict[str, str]]:
    """Instrument with a ledger; the function returned gives the text of every sink."""
    caplog.set_level(logging.DEBUG)
    ledger = tmp_path / "ledger.sqlite3"
    instrumentor = instrument(ledger=str(ledger))

    def every_sink() -> dict[str, str]:
        assert instrumentor.ledger.flush(timeout=10)
        spans = "\n".join(span.to_json() for span in telemetry.spans())
        data = telemetry.reader.get_metrics_data()
        ours = [r for r in caplog.records if r.name.startswith(("tokentrace", "opentelemetry"))]
        found = {
            "spans": spans,
            "metrics": data.to_json() if data is not None else "",
            "logs": "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in ours),
            "ledger rows": "\n".join(repr(row) for row in read_calls(ledger)),
            "ledger bytes": b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*")).decode(
                "latin-1"
            ),
        }
        capsys.readouterr()
        for form in ("table", "json", "csv"):
            assert cli.main(["report", "--ledger", str(ledger), "--since", "all", "--format", form]) == 0
            found[f"report {form}"] = capsys.readouterr().out
        page = tmp_path / "report.html"
        assert cli.main(["report", "--ledger", str(ledger), "--since", "all", "--html", str(page)]) == 0
        found["report html"] = page.read_text(encoding="utf-8")
        assert telemetry.spans(), "no call was recorded"
        assert found["report json"].count('"requests"') >= 2, "the ledger holds no call"
        return found

    return every_sink


def _assert_nowhere(found: dict[str, str], *secrets: str) -> None:
    for sink, text in found.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {sink}"
            assert secret[2:12] not in text, f"a piece of {secret!r} in {sink}"


def _description(telemetry: Telemetry) -> str:
    span = telemetry.span()
    assert span.status.status_code.name == "ERROR"
    return span.status.description or ""


def _echo(status: int, say: Callable[[Any], str]) -> Callable[[Any], Any]:
    """A provider answering ``status`` with an error message that repeats what it was sent."""
    return lambda request: http.Response(status, json={"error": {"message": say(request)}})


@pytest.mark.parametrize("name", ["access_key", "auth_token", "session_token", "code"])
def test_a_key_in_the_base_url_query_echoed_by_a_401(
    sinks: Callable[[], dict[str, str]], telemetry: Telemetry, name: str
) -> None:
    handler = _echo(401, lambda request: f"invalid credentials for {request.url}")
    client = make_client(handler, base_url=f"https://gateway.example/v1?{name}={KEY}")
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert KEY in str(raised.value)  # the caller's exception is theirs, unchanged
    description = _description(telemetry)
    assert description.startswith("Error code: 401")
    assert f"{name}=[REDACTED]" in description
    _assert_nowhere(sinks(), KEY)


def test_a_key_as_a_base_url_path_segment_echoed_by_a_404(
    sinks: Callable[[], dict[str, str]], telemetry: Telemetry
) -> None:
    handler = _echo(404, lambda request: f"no route for {request.url.path}")
    client = make_client(handler, base_url=f"https://gateway.example/{KEY}/openai/v1")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    description = _description(telemetry)
    assert "no route for /[REDACTED]/openai/v1/chat/completions" in description  # the rest stays
    _assert_nowhere(sinks(), KEY)


def test_default_headers_and_default_query_credentials(
    sinks: Callable[[], dict[str, str]], telemetry: Telemetry
) -> None:
    # A header whose name says nothing of a credential, and a query value the SDK percent-encodes.
    def say(request: Any) -> str:
        return f"upstream {request.headers['x-upstream']} refused {request.url}"

    client = make_client(
        _echo(401, say), default_headers={"X-Upstream": KEY}, default_query={"code": DECODED}
    )
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert _description(telemetry).startswith("Error code: 401 - ")
    _assert_nowhere(sinks(), KEY, ENCODED, DECODED)


# What an Entra ID token provider returns: a JSON Web Token (header.payload.signature).
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjb2duaXRpdmVzZXJ2aWNlcyJ9.c2lnbmF0dXJlcGFydA"


@pytest.mark.parametrize("how", ["azure_ad_token", "azure_ad_token_provider"])
def test_azure_ad_tokens(sinks: Callable[[], dict[str, str]], telemetry: Telemetry, how: str) -> None:
    def say(request: Any) -> str:
        return f"access denied for '{request.headers['authorization'].split()[-1]}'"

    # A static token is any string; a provider's is read by the SDK at send time, never by
    # tokentrace (calling the user's provider could block): its JWT shape gives it away.
    token = KEY if how == "azure_ad_token" else JWT
    given: Any = token if how == "azure_ad_token" else (lambda: token)
    client = make_azure_client(_echo(401, say), api_key=None, **{how: given})
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert token in str(raised.value)
    assert "access denied for '[REDACTED]'" in _description(telemetry)
    _assert_nowhere(sinks(), token)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("name", ["access_key", "auth_token", "session_token", "code"])
def test_plain_http_query_credentials_in_connection_errors(
    sinks: Callable[[], dict[str, str]], telemetry: Telemetry, name: str
) -> None:
    port = _closed_port()
    body = {"model": "gpt-4.1", "messages": MESSAGES}
    for value in (ENCODED, "a1b2c"):  # an Azure Functions-style key; a short one
        url = f"http://127.0.0.1:{port}/v1/chat/completions?api-version=1&{name}={value}"
        with pytest.raises(requests.ConnectionError) as raised:
            requests.post(url, json=body, timeout=5)
        assert value in str(raised.value)  # requests names the URL, query included
        for client in (httpx, httpx2):
            with pytest.raises(client.ConnectError):
                client.post(url, json=body, timeout=5)
    spans = telemetry.spans()
    assert len(spans) == 6
    assert all(span.status.status_code.name == "ERROR" for span in spans)
    described = [span.status.description or "" for span in spans]
    assert sum(f"?api-version=[REDACTED]&{name}=[REDACTED] " in text for text in described) == 2
    found = sinks()
    _assert_nowhere(found, ENCODED, DECODED)
    for sink, text in found.items():
        assert f"{name}=a1b2c" not in text, sink
