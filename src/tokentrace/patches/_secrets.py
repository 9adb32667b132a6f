"""The credentials a failed call carried, so its error text can lose them (``tokentrace.redact``).

Collected only when a call fails, while the caller's exception is on its way: a successful call
never pays for any of this. Nothing here raises; whatever could not be read is left out (the
shape rules of ``redact`` still apply to the text).

What counts, for the openai SDK: every credential the client was given (``api_key``,
``admin_api_key``, ``webhook_secret``, a static Azure AD token, every ``default_headers`` and
``default_query`` value) and its base URL's query values and key-like path segments; for every
patch, the failed request's auth-like headers (as sent: a token from a provider included), its
URL's user, password and query values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

__all__ = ["client_secrets", "header_and_query_secrets", "request_secrets"]

_SECRET_HEADER_PARTS = ("auth", "key", "token", "secret", "cookie", "pass", "session", "sig", "credential")
_CLIENT_CREDENTIALS = ("api_key", "admin_api_key", "webhook_secret", "_azure_ad_token")
_MIN_SEGMENT = 6  # as redact.MIN_SECRET: that module (its patterns) loads on the first failure only


def _secret_header(name: object) -> bool:
    lowered = str(name).lower()
    return any(part in lowered for part in _SECRET_HEADER_PARTS)


def _spellings(value: str) -> tuple[str, ...]:
    """A URL piece as the URL has it and as decoded: an echo may show either."""
    return (value, unquote(value), unquote_plus(value))


def _key_like(segment: str) -> bool:
    """A base URL's path segment that may be a key: 6 characters or more, not a plain lower-case
    word (``v1``, ``openai``, ``deployments`` stay; ``gw-3f9a…``, ``Ab12…`` go)."""
    if len(segment) < _MIN_SEGMENT:
        return False
    return not all(c.islower() or c in "-_." for c in segment)


def _url_secrets(url: str, *, path: bool) -> list[str]:
    """A URL's user, password and query values; with ``path``, its key-like path segments."""
    parts = urlsplit(url)
    found = [parts.username or "", parts.password or ""]
    for piece in parts.query.split("&"):
        found += _spellings(piece.partition("=")[2])
    if path:
        for segment in parts.path.split("/"):
            if _key_like(unquote(segment)):
                found += _spellings(segment)
    return found


def _header_secrets(headers: Any, *, every: bool) -> list[str]:
    """Auth-like headers' values (``every``: all values), and the token after ``Bearer`` or
    ``Basic`` on its own."""
    found: list[str] = []
    if not (isinstance(headers, Mapping) or hasattr(headers, "items")):
        return found
    for name, value in headers.items():
        if isinstance(value, str) and (every or _secret_header(name)):
            found += (value, value.rsplit(" ", 1)[-1])
    return found


def _query_values(query: Any) -> Iterable[object]:
    if isinstance(query, Mapping):
        return query.values()
    return (value for _, value in query) if query else ()


def _failed_request(error: BaseException | None) -> Any:
    """The request an exception names (httpx's, the SDK's, requests'); None when it has none."""
    try:
        return getattr(error, "request", None)
    except Exception:  # httpx raises RuntimeError for an exception built without its request
        return None


def _clean(found: Iterable[object]) -> tuple[str, ...]:
    from ..redact import MIN_SECRET  # failures only

    return tuple({v for v in found if isinstance(v, str) and len(v) >= MIN_SECRET})


def request_secrets(request: Any, error: BaseException | None = None) -> tuple[str, ...]:
    """A plain-HTTP request's credentials: auth-like headers and its URL's user, password and
    query values (all names)."""
    found: list[object] = []
    for req in (request, _failed_request(error)):
        if req is None:
            continue
        try:
            found += _header_secrets(req.headers, every=False)
            found += _url_secrets(str(req.url), path=False)
        except Exception:
            continue
    return _clean(found)


def client_secrets(client: Any, error: BaseException | None = None) -> tuple[str, ...]:
    """An openai client's credentials, its base URL's, and those of the request that failed."""
    found: list[object] = []
    try:
        found += [getattr(client, name, None) for name in _CLIENT_CREDENTIALS]
        found += _header_secrets(getattr(client, "_custom_headers", None), every=True)
        found += _query_values(getattr(client, "_custom_query", None))
        found += _url_secrets(str(client._base_url), path=True)
    except Exception:
        pass
    return _clean(found) + request_secrets(None, error)


def header_and_query_secrets(
    headers: Iterable[Any], query: Any, error: BaseException | None = None
) -> tuple[str, ...]:
    """Credentials given as separate pieces (aiohttp: the session's and the call's headers, the
    call's ``params``), and those of the request the exception names."""
    found: list[object] = []
    try:
        for each in headers:
            found += _header_secrets(each, every=False)
        found += _query_values(query)
    except Exception:
        pass
    return _clean(found) + request_secrets(None, error)
