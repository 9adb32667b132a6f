"""tokentrace: what every LLM call costs, as OpenTelemetry spans and metrics.

``tokentrace.instrument()`` switches it on; ``tokentrace.track("feature")`` names the calls made
inside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .activation import Instrumentation, instrumentation
from .budgeting import add_budget, budget_states
from .budgets import Budget, BudgetExceededError, BudgetState, Window
from .config import Settings, SettingsError
from .costing import price_book, set_prices
from .pricing import PriceFileError, PriceOverride
from .summary import GroupSummary, format_summary, summary
from .tracking import track

if TYPE_CHECKING:
    from .instrumentor import TokenTraceInstrumentor

__all__ = [
    "Budget",
    "GroupSummary",
    "Instrumentation",
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


def instrument(**settings: Any) -> Instrumentation:
    """Instrument the openai SDK in one line. Calling it again while instrumented does nothing.

    Keyword arguments: ``tracer_provider``, ``meter_provider`` (default: the global ones, set up
    from ``OTEL_*`` variables when the app configured none) and any field of ``Settings``.
    Returns the process's ``Instrumentation`` (its ``ledger`` and ``recorder``). The same switch
    as ``TokenTraceInstrumentor().instrument()``, without importing ``opentelemetry.instrumentation``
    or running its dependency check (15 to 30 ms of start-up, much of it the ``packaging`` library).
    """
    active = instrumentation()
    active.start(**settings)
    return active


def uninstrument() -> None:
    """Remove every patch tokentrace applied."""
    instrumentation().stop()


def __getattr__(name: str) -> Any:
    # TokenTraceInstrumentor (for opentelemetry-instrument and BaseInstrumentor users) is imported
    # on first use only: it brings opentelemetry.instrumentation along.
    if name == "TokenTraceInstrumentor":
        from .instrumentor import TokenTraceInstrumentor

        return TokenTraceInstrumentor
    raise AttributeError(f"module 'tokentrace' has no attribute {name!r}")
