"""A finished call's cost: priced from its usage, or the reason it cannot be.

The recorder asks once per finished call. A call without usage has no cost (``no_usage``, or
``error`` when it failed); a model without a price has none either (``unpriced_model``), never a
silent zero: the first ten such models are logged one line each, later ones counted in one line at
most every ten minutes. A cost the response carried that is not plausible for the
call (`PriceBook.plausible_provider_cost`) is discarded, logged once per provider: the call is
then priced locally, or its cost is unknown. The one known zero without usage: an attempt of a
fallback chain that the provider refused with an HTTP error status and no usage (``NOT_BILLED``):
providers do not bill a 429 or a 5xx.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import names
from .._guard import logger
from .._money import ZERO, format_usd
from ..calls.records import NOT_BILLED
from .rates import Cost

if TYPE_CHECKING:
    from decimal import Decimal

    from ..calls.records import ResponseInfo
    from .book import PriceBook

__all__ = ["CallPricer"]

_MAX_WARNED = 1000
_NOTHING = Cost(ZERO)
_NAMED_UNPRICED = 10
"""Unpriced models named one line each; after them, one line per ``_QUIET_SECONDS`` counts the rest
(model names come from input: a flood of made-up names must not flood the log)."""
_QUIET_SECONDS = 600.0


class CallPricer:
    """Prices finished calls with a price book; warns once per unpriced (provider, model) and once
    per provider whose costs are discarded."""

    __slots__ = ("_book", "_clock", "_discarded", "_named", "_next_count_line", "_unnamed", "_warned")

    def __init__(self, book: PriceBook, clock: Callable[[], float] = time.monotonic) -> None:
        self._book = book
        self._clock = clock
        self._warned: set[tuple[str, str]] = set()
        self._discarded: set[str] = set()
        self._named = 0
        self._unnamed = 0
        self._next_count_line = -math.inf

    def price(
        self, provider: str, request_model: str | None, response: ResponseInfo | None, failed: bool
    ) -> tuple[Cost | None, str | None]:
        """``(cost, None)`` when known, else ``(None, reason)``."""
        usage = response.usage if response is not None else None
        if usage is None or response is None:
            if response is NOT_BILLED:  # a fallback attempt the provider refused with an error status
                return _NOTHING, None
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
        """One line for each of the first unpriced models; then a line now and then counting them."""
        key = (provider, model)
        if key in self._warned:
            return
        if len(self._warned) >= _MAX_WARNED:  # bounded; the rate limit keeps repeats quiet
            self._warned.clear()
        self._warned.add(key)
        if self._named < _NAMED_UNPRICED:
            self._named += 1
            logger.warning(
                "tokentrace: no price known for model %r at %r; its calls are counted as unpriced. "
                "Add it with tokentrace.set_prices() or a price file (TOKENTRACE_PRICES).",
                model,
                provider,
            )
            return
        self._unnamed += 1
        now = self._clock()
        if now < self._next_count_line:
            return
        self._next_count_line = now + _QUIET_SECONDS
        logger.warning(
            "tokentrace: %d more model(s) without a known price (the latest %r at %r); their calls "
            "are counted as unpriced (tokentrace.calls.cost_unknown). At most one such line every "
            "%d minutes.",
            self._unnamed,
            model,
            provider,
            _QUIET_SECONDS // 60,
        )
        self._unnamed = 0

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
