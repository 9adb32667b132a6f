"""A finished call's cost: priced from its usage, or the reason it cannot be.

The recorder asks once per finished call. A call without usage has no cost (``no_usage``, or
``error`` when it failed); a model without a price has none either (``unpriced_model``, logged
once per model), never a silent zero. The one known zero: an attempt of a fallback chain that the
provider refused with an HTTP error status and no usage (``NOT_BILLED``): providers do not bill a
429 or a 5xx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import names
from .._guard import logger
from .._money import ZERO
from ..calls.records import NOT_BILLED
from .rates import Cost

if TYPE_CHECKING:
    from ..calls.records import ResponseInfo
    from .book import PriceBook

__all__ = ["CallPricer"]

_MAX_WARNED = 1000
_NOTHING = Cost(ZERO)


class CallPricer:
    """Prices finished calls with a price book; warns once per unpriced (provider, model)."""

    __slots__ = ("_book", "_warned")

    def __init__(self, book: PriceBook) -> None:
        self._book = book
        self._warned: set[tuple[str, str]] = set()

    def price(
        self, provider: str, request_model: str | None, response: ResponseInfo | None, failed: bool
    ) -> tuple[Cost | None, str | None]:
        """``(cost, None)`` when known, else ``(None, reason)``."""
        usage = response.usage if response is not None else None
        if usage is None or response is None:
            if response is NOT_BILLED:  # a fallback attempt the provider refused with an error status
                return _NOTHING, None
            return None, names.UNKNOWN_ERROR if failed else names.UNKNOWN_NO_USAGE
        response_model = response.model
        cost = self._book.cost(
            provider, usage, response_model, request_model, service_tier=response.service_tier
        )
        if cost is None:
            self._warn_unpriced(provider, response_model or request_model or "")
            return None, names.UNKNOWN_UNPRICED
        return cost, None

    def _warn_unpriced(self, provider: str, model: str) -> None:
        key = (provider, model)
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(key)
        logger.warning(
            "tokentrace: no price known for model %r at %r; its calls are counted as unpriced. "
            "Add it with tokentrace.set_prices() or a price file (TOKENTRACE_PRICES).",
            model,
            provider,
        )
