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
        # names that end in a credential word: the word starts after "_" or "-" too
        ("rejected: auth_token=Qw3rTy7Uiop", "Qw3rTy7Uiop"),
        ('{"access_key": "Zx8cVb6Nm4"}', "Zx8cVb6Nm4"),
        ("header x-session-token: Lk5Jh3Gf1D", "Lk5Jh3Gf1D"),
        ("client_secret=Po9Iu8Yt7R", "Po9Iu8Yt7R"),
        # any query value of a URL, whatever its name or length
        ("Max retries exceeded with url: /api/chat?code=a1b2c (Caused by", "a1b2c"),
        ("GET https://gw.example/v1/?tenant=acme&sig2=Mn7Bv5Cx3Z#frag", "Mn7Bv5Cx3Z"),
        # a JSON Web Token anywhere (an Azure AD token from a provider)
        ("token 'eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2lnbmF0dXJl' expired", "eyJhdWQiOiJ4In0"),
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
    assert redact("the monkey: bananas, what? a=b") == "the monkey: bananas, what? a=b"


def test_query_values_go_and_the_rest_of_the_url_stays() -> None:
    text = "404 for https://gw.example/v1/chat/completions?api-version=2024-10-21&code=Zk9%2Bq7 (not found)"
    assert redact(text) == (
        f"404 for https://gw.example/v1/chat/completions?api-version={REDACTED}&code={REDACTED} (not found)"
    )


def test_the_longest_secret_goes_first() -> None:
    # "Bearer KEY" and "KEY" both given: no fragment of either is left behind
    key = "0f1e2d3c4b5a6978"
    assert redact(f"sent Bearer {key}!", [key, f"Bearer {key}"]) == f"sent {REDACTED}!"
