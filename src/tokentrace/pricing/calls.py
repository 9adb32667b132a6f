"""A finished call's cost: priced from its usage, or the reason it cannot be.

The recorder asks once per finished call. A call without usage has no cost (``no_usage``, or
``error`` when it failed); a model without a price has none either (``unpriced_model``, logged
once per model), never a silent zero. A cost the response carried that is not plausible for the
call (`PriceBook.plausible_provider_cost`) is discarded, logged once per provider: the call is
then priced locally, or its cost is unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import names
from .._guard import logger
from .._money import format_usd

if TYPE_CHECKING:
    from decimal import Decimal

    from ..calls.records import ResponseInfo
    from .book import PriceBook
    from .rates import Cost

__all__ = ["CallPricer"]

_MAX_WARNED = 1000


class CallPricer:
    """Prices finished calls with a price book; warns once per unpriced (provider, model) and once
    per provider whose costs are discarded."""

    __slots__ = ("_book", "_discarded", "_warned")

    def __init__(self, book: PriceBook) -> None:
        self._book = book
        self._warned: set[tuple[str, str]] = set()
        self._discarded: set[str] = set()

    def price(
        self, provider: str, request_model: str | None, response: ResponseInfo | None, failed: bool
    ) -> tuple[Cost | None, str | None]:
        """``(cost, None)`` when known, else ``(None, reason)``."""
        usage = response.usage if response is not None else None
        if usage is None or response is None:
            return None, names.UNKNOWN_ERROR if failed else names.UNKNOWN_NO_USAGE
        provider_cost = usage.provider_cost
        if provider_cost is not None and not self._book.plausible_provider_cost(usage):
            usage.provider_cost = None
            self._warn_discarded(provider, provider_cost)
            if usage.input_tokens is None and usage.output_tokens is None:
                return None, names.UNKNOWN_NO_USAGE
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

    def _warn_discarded(self, provider: str, amount: Decimal) -> None:
        if provider in self._discarded or len(self._discarded) >= _MAX_WARNED:
            return
        self._discarded.add(provider)
        logger.warning(
            "tokentrace: %r reported a cost of %s for a call whose tokens cannot cost that much at "
            "any known price; its implausible costs are discarded and those calls priced locally "
            "(or counted as unknown). See docs/reliability.md.",
            provider,
            format_usd(amount, 6, trim=True),
        )
