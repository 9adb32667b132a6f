"""Keep secrets out of the one free text tokentrace records: an error's message.

Error messages are the caller's exception text, and servers and gateways echo what they were sent:
an API key in a 401 body, a URL with ``?code=`` in a connection error, a gateway key in a base
URL's path in a 404. Before such a message goes on a span it loses, in this order:

1. the literal credentials the call carried (``secrets``: what the patch collected when the call
   failed — the client's key and tokens, its default headers and query, its base URL's query values
   and key-like path segments, the request's auth headers and query values), longest first;
2. every query-parameter value of any URL in the text, whatever the parameter's name
   (``?access_key=…``, ``&code=…``, ``?api-version=…`` alike): a URL's query is where keys hide;
3. anything shaped like a credential: bearer and basic tokens, ``sk-``-style keys, Google API keys,
   JSON Web Tokens (Azure AD tokens from a provider, which tokentrace never calls), and ``key=``/``token=``-style pairs, including names that end in one (``access_key``,
   ``auth_token``, ``x-session-token``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MIN_SECRET", "REDACTED", "redact"]

REDACTED = "[REDACTED]"

# A name ends a credential-like pair when it *ends with* one of these words: "access_key" and
# "auth_token" count, "monkey" does not (the word must start after a non-alphanumeric character).
_CREDENTIALS = re.compile(
    r"(?i)"
    r"(?P<scheme>\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=:-]{6,}"
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
    r"|(?P<name>(?<![A-Za-z0-9])"
    r"(?:api[-_]?key|access[-_]?token|token|key|secret|password|passwd|credentials?|authorization"
    r"|sig|signature)"
    r"(?:\"|')?\s*[=:]\s*(?:\"|')?(?:(?:bearer|basic|token)\s+)?)[^\s\"'&,;}]{4,}"
)

# Any query parameter of a URL in the text: "?name=value" or "&name=value". The value runs to the
# next parameter, fragment, quote or white space (a URL glued to more text loses that text too).
_QUERY_VALUE = re.compile(r"(?P<query>[?&][^\s=&#?\"'<>]{1,128}=)[^\s&#\"'<>`\\]+")

MIN_SECRET = 6
"""Shorter literal secrets are left alone: a placeholder key like ``"k"`` would redact ordinary
words. Short values in a URL's query still go, by rule 2."""


def _replace(match: re.Match[str]) -> str:
    prefix = match.group("scheme") or match.group("name") or ""
    return prefix + REDACTED


def _replace_query(match: re.Match[str]) -> str:
    return match.group("query") + REDACTED


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the given secrets, without URL query values, without credential shapes."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _QUERY_VALUE.sub(_replace_query, text)
    return _CREDENTIALS.sub(_replace, text)
