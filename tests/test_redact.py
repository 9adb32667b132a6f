"""Error messages lose credentials before they go on a span."""

from __future__ import annotations

import pytest

from tokentrace.redact import REDACTED, redact


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Incorrect API key provided: sk-proj-abcdefghijklmnop1234.", "sk-proj-abcdefghijklmnop1234"),
        ("header was Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("Max retries exceeded with url: /v1/chat/completions?key=AIzaSyA1234567890abcdefghij", "AIzaSy"),
        ("Max retries exceeded with url: /v1/chat?api_key=0123456789abcdef0123&x=1", "0123456789abcdef0123"),
        ("{'api-key': 'f3a9c2e1d4b5a6978877665544332211'}", "f3a9c2e1d4b5a6978877665544332211"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ],
)
def test_credential_shapes_are_redacted(text: str, gone: str) -> None:
    cleaned = redact(text)
    assert gone not in cleaned
    assert REDACTED in cleaned


def test_the_clients_own_key_goes_whatever_its_shape() -> None:
    key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # an Azure-style key: no telling prefix
    assert redact(f"echo: {key} rejected", [key]) == f"echo: {REDACTED} rejected"


def test_ordinary_messages_are_left_alone() -> None:
    text = "Error code: 429 - Rate limit reached for gpt-4.1 in organization org-123 on tokens per min."
    assert redact(text, ["k", "", None]) == text
