"""tokentrace: what every LLM call costs, as OpenTelemetry spans and metrics.

``tokentrace.instrument()`` switches it on; ``tokentrace.track("feature")`` names the calls made
inside it.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .budgeting import add_budget, budget_states
from .budgets import Budget, BudgetExceededError, BudgetState, Window
from .config import Settings, SettingsError
from .costing import price_book, set_prices
from .instrumentor import TokenTraceInstrumentor
from .pricing import PriceFileError, PriceOverride
from .summary import GroupSummary, format_summary, summary
from .tracking import track

__all__ = [
    "Budget",
    "GroupSummary",
    "format_summary",
    "summary",
    "BudgetExceededError",
    "BudgetState",
    "Window",
    "add_budget",
    "budget_states",
    "PriceFileError",
    "PriceOverride",
    "Settings",
    "SettingsError",
    "TokenTraceInstrumentor",
    "__version__",
    "instrument",
    "price_book",
    "set_prices",
    "uninstrument",
    "track",
]


def instrument(**settings: Any) -> TokenTraceInstrumentor:
    """Instrument the openai SDK in one line. Calling it again while instrumented does nothing.

    Keyword arguments: ``tracer_provider``, ``meter_provider`` (default: the global ones, set up
    from ``OTEL_*`` variables when the app configured none) and any field of ``Settings``.
    """
    instrumentor = TokenTraceInstrumentor()
    instrumentor.instrument(**settings)
    return instrumentor


def uninstrument() -> None:
    """Remove every patch tokentrace applied."""
    TokenTraceInstrumentor().uninstrument()
