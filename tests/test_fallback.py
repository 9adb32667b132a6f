"""The fallback core: what a Fallback accepts, which failures move a call on, and the chain book."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import httpx2
import pytest
import requests

import tokentrace
from tokentrace.budgets.budget import Budget, BudgetExceededError
from tokentrace.fallback import Attempt, Fallback, FallbackBook, failure_kind


class StatusError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"Error code: {status_code}")
        self.status_code = status_code


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (StatusError(429), "rate_limit"),
        (StatusError(408), "timeout"),
        (StatusError(500), "server_error"),
        (StatusError(503), "server_error"),
        (StatusError(400), None),
        (StatusError(404), None),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx2.ConnectError("refused"), "timeout"),
        (httpx2.RemoteProtocolError("dropped"), "timeout"),
        (requests.ReadTimeout("slow"), "timeout"),
        (requests.ConnectionError("refused"), "timeout"),
        (TimeoutError(), "timeout"),
        (ConnectionResetError(), "timeout"),
        (ValueError("bad"), None),
        (BudgetExceededError(Budget(limit_usd=1), Decimal(1), Decimal(1)), "budget"),
    ],
)
def test_failure_kinds(error: BaseException, kind: str | None) -> None:
    assert failure_kind(error) == kind


def test_failure_kinds_of_openai_errors() -> None:
    import openai

    request = httpx2.Request("POST", "https://api.example/v1/chat/completions")
    limited = openai.RateLimitError("limited", response=httpx2.Response(429, request=request), body=None)
    assert failure_kind(limited) == "rate_limit"
    assert failure_kind(openai.APITimeoutError(request=request)) == "timeout"
    assert failure_kind(openai.APIConnectionError(request=request)) == "timeout"


def test_http_statuses() -> None:
    assert [failure_kind(None, s) for s in (429, 408, 500, 599, 400, 401, 200)] == [
        "rate_limit",
        "timeout",
        "server_error",
        "server_error",
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        {"chain": "gpt-4.1"},
        {"chain": ("gpt-4.1",)},
        {"chain": ("gpt-4.1", "gpt-4.1")},
        {"chain": ("gpt-4.1", "")},
        {"chain": ("gpt-4.1", 4)},
        {"chain": ("a", "b"), "on": ()},
        {"chain": ("a", "b"), "on": ("ratelimit",)},
        {"chain": ("a", "b"), "on": (KeyboardInterrupt,)},
    ],
)
def test_a_wrong_fallback_is_refused_when_made(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fallback(**arguments)


def test_defaults_and_reasons() -> None:
    fallback = Fallback(chain=["a", "b"])  # type: ignore[arg-type]  # any sequence; stored as a tuple
    assert fallback.chain == ("a", "b")
    assert fallback.on == ("rate_limit", "timeout", "server_error")
    assert fallback.reason(None, 429) == "rate_limit"
    refusal = BudgetExceededError(Budget(limit_usd=1), Decimal(1), Decimal(1))
    assert fallback.reason(refusal) is None  # a budget refusal moves on only when asked
    assert Fallback(chain=("a", "b"), on="budget").on == ("budget",)  # type: ignore[arg-type]
    assert Fallback(chain=("a", "b"), on=(ValueError,)).reason(UnicodeError()) == "UnicodeError"


def test_attempts_walk_the_chain_from_the_model_asked_for() -> None:
    fallback = Fallback(chain=("a", "b", "c"))
    book = FallbackBook([fallback])
    body = {"model": "b", "messages": []}
    first = book.first_attempt("b", body)
    assert first is not None and first.body is body and first.number == 1
    following = first.after("b", None, 500, ())
    assert following is not None
    assert (following.model, following.number, following.replaces, following.reason) == (
        "c",
        2,
        "b",
        "server_error",
    )
    assert following.body == {"model": "c", "messages": []} and body["model"] == "b"
    assert following.after("c", None, 500) is None  # the chain has ended
    assert first.after("b", None, 400) is None  # not a failure the chain moves on for
    assert book.first_attempt("z", {"model": "z"}) is None


def test_notes_are_added_to_the_last_error() -> None:
    attempt: Attempt | None = Attempt(Fallback(chain=("a", "b", "c")), 0, {"model": "a"})
    for model in ("a", "b"):
        assert attempt is not None
        attempt = attempt.after(model, StatusError(503), None, ("sk-secret-value-123456",))
    assert attempt is not None
    error = StatusError(503)
    attempt.annotate(error)
    assert error.__notes__ == [
        "tokentrace fallback: attempt 1 with model 'a' failed: StatusError: Error code: 503",
        "tokentrace fallback: attempt 2 with model 'b' failed: StatusError: Error code: 503",
    ]


def test_a_model_belongs_to_one_chain() -> None:
    book = FallbackBook([Fallback(chain=("a", "b"))])
    with pytest.raises(ValueError, match="'b' is already in a fallback chain"):
        book.add(Fallback(chain=("b", "c")))
    with pytest.raises(ValueError):
        book.replace([Fallback(chain=("x", "y")), Fallback(chain=("y", "z"))])
    assert [f.chain for f in book.fallbacks] == [("a", "b")]  # a refused replacement changed nothing
    book.replace([])
    assert book.empty


def test_settings_and_the_public_functions(instrument: Any) -> None:
    with pytest.raises(tokentrace.SettingsError, match="fallbacks"):
        instrument(fallbacks=["gpt-4.1"])
    instrumentation = instrument(fallbacks=tokentrace.Fallback(chain=("a", "b")))
    try:
        added = tokentrace.add_fallback(tokentrace.Fallback(chain=("c", "d")))
        assert [f.chain for f in instrumentation.fallbacks.fallbacks] == [("a", "b"), ("c", "d")]
        instrumentation.fallbacks.remove(added)
        tokentrace.set_fallbacks([])
        assert instrumentation.fallbacks.empty
    finally:
        tokentrace.set_fallbacks([])
