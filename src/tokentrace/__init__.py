"""tokentrace: what every LLM call costs, as OpenTelemetry spans and metrics.

``tokentrace.instrument()`` switches it on; ``tokentrace.track("feature")`` names the calls made
inside it. Importing tokentrace loads neither OpenTelemetry's SDK nor the patches: they come with
``instrument()``, so the CLI and apps that only import the package pay for neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .activation import (
    Instrumentation,
    add_budget,
    add_fallback,
    budget_states,
    instrumentation,
    price_book,
    set_fallbacks,
    set_prices,
    summary,
)
from .budgets import (
    Budget,
    BudgetError,
    BudgetExceededError,
    BudgetState,
    BudgetStoreError,
    BudgetUnavailableError,
    Window,
)
from .config import Settings, SettingsError
from .fallback import Fallback
from .pricing import PriceFileError, PriceOverride
from .summary import GroupSummary, format_summary
from .tracking import track

if TYPE_CHECKING:
    from .instrumentor import TokenTraceInstrumentor

__all__ = [
    "Budget",
    "BudgetError",
    "BudgetExceededError",
    "BudgetState",
    "BudgetStoreError",
    "BudgetUnavailableError",
    "Fallback",
    "GroupSummary",
    "Instrumentation",
    "PriceFileError",
    "PriceOverride",
    "Settings",
    "SettingsError",
    "TokenTraceInstrumentor",
    "Window",
    "__version__",
    "add_budget",
    "add_fallback",
    "budget_states",
    "format_summary",
    "instrument",
    "price_book",
    "set_fallbacks",
    "set_prices",
    "summary",
    "track",
    "uninstrument",
]


def instrument(**settings: Any) -> Instrumentation:
    """Instrument the openai SDK and plain HTTP clients in one line. Calling it again while
    instrumented does nothing.

    Keyword arguments: ``tracer_provider``, ``meter_provider`` (default: the global ones, set up
    from ``OTEL_*`` variables when the app configured none) and any field of ``Settings``.
    Returns the process's ``Instrumentation`` (its ``ledger`` and ``recorder``). The same switch
    as ``TokenTraceInstrumentor().instrument()``, without importing ``opentelemetry.instrumentation``
    or running its dependency check (see the start-up figures in ``benchmarks/``).
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
