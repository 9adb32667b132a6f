"""Keep secrets out of the one free text tokentrace records: an error's message.

Error messages are the caller's exception text, and servers and gateways echo what they were sent:
an API key in a 401 body, a URL with ``?key=`` in a connection error. Before such a message goes on
a span it loses the client's own key (whatever its shape) and anything that looks like a
credential: bearer and basic tokens, ``sk-``-style keys, Google API keys, ``key=``/``token=``-style
pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "redact"]

REDACTED = "[REDACTED]"

_CREDENTIALS = re.compile(
    r"(?i)"
    r"(?P<scheme>\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=:-]{6,}"
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|(?P<name>\b(?:api[-_]?key|access[-_]?token|token|key|secret|password|authorization|sig)"
    r"(?:\"|')?\s*[=:]\s*(?:\"|')?(?:(?:bearer|basic|token)\s+)?)[^\s\"'&,;}]{4,}"
)

_MIN_SECRET = 6  # shorter "keys" (test placeholders like "k") would redact ordinary words


def _replace(match: re.Match[str]) -> str:
    prefix = match.group("scheme") or match.group("name") or ""
    return prefix + REDACTED


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the given secrets and without anything shaped like a credential."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _CREDENTIALS.sub(_replace, text)
