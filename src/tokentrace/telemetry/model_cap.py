"""Model names on metrics, bounded like tracking ids: the first N distinct names, then ``_OTHER``.

Model names come from input (a user's choice, a gateway's routing names, whatever a response
says), and every distinct name is a new series on every instrument. After the SDK's own limit
(2,000 series per metric) a real model's calls would fold into an overflow series with everyone
else's. So a name reaches the metrics as itself only while fewer than ``limit`` distinct names
have, or when tokentrace knows its price: a model someone pays for keeps its own series (up to
1,000 such names more, since a price pattern can match made-up names too). Spans, the summary and the ledger keep every name.

The recorder reads ``seen`` inline (one set lookup per name per call); ``admit`` runs for a name
it has not seen, which after the first calls is rare unless names are unbounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import names

__all__ = ["ModelCap"]

_MAX_REFUSED = 4096
"""Names remembered as refused (so the price table is asked once per name); forgotten when full."""
_MAX_PRICED = 1000
"""Priced names admitted beyond ``limit``: a price pattern can match made-up names too."""


class ModelCap:
    """Decides which model names go on metrics; ``seen`` holds the names that do."""

    __slots__ = ("_known", "_limit", "_lock", "_refused", "seen")

    def __init__(self, limit: int, known: Callable[[str, str], bool]) -> None:
        """``known(provider, model)`` says whether tokentrace has a price for the model."""
        self._limit = limit
        self._known = known
        self._lock = threading.Lock()
        self._refused: set[tuple[str, str]] = set()
        self.seen: set[str] = set()

    def admit(self, provider: str, model: str) -> str:
        """The name to put on metrics for a model not in ``seen``: itself, or ``_OTHER``."""
        with self._lock:
            if model in self.seen:
                return model
            if len(self.seen) < self._limit:
                self.seen.add(model)
                return model
            if (provider, model) in self._refused:
                return names.OVERFLOW_MODEL
        try:
            known = self._known(provider, model)
        except Exception:  # a price lookup that fails says nothing of the name: keep it bounded
            known = False
        with self._lock:
            if known and len(self.seen) < self._limit + _MAX_PRICED:
                self.seen.add(model)
                return model
            if len(self._refused) >= _MAX_REFUSED:
                self._refused.clear()
            self._refused.add((provider, model))
        return names.OVERFLOW_MODEL
