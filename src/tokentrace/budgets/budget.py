"""What a budget is (`Budget`), where one stands (`BudgetState`), and the errors a refused call raises.

BudgetError
 ├── BudgetExceededError     a budget with action="raise" was spent
 └── BudgetUnavailableError  the budgets could not be checked, and budget_failure_mode="closed"
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from .. import names
from .._money import ZERO, format_amount_safely, format_usd
from ..tracking import MAX_TRACKING_ID_LENGTH
from .windows import Window

__all__ = [
    "Action",
    "Budget",
    "BudgetError",
    "BudgetExceededError",
    "BudgetState",
    "BudgetUnavailableError",
    "format_amount",
    "parse_amount",
]

Action = Literal["raise", "warn", "downgrade"]
_ACTIONS = ("raise", "warn", "downgrade")


def parse_amount(value: object, what: str) -> Decimal:
    """A finite amount >= 0 from a Decimal, int, float or numeric string (USD or tokens)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    try:
        # str() first: Decimal(0.1) would keep the float's binary error in the amount.
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a finite amount >= 0, got {value!r}")
    return amount


@dataclass(frozen=True)
class Budget:
    """A USD or token limit over a window, for every call or for one scope.

    Give exactly one of ``limit_usd`` and ``limit_tokens`` (input plus output tokens). ``window``
    is ``"day"`` or ``"month"`` (calendar, in UTC; ``"day@Europe/Paris"`` for a local calendar),
    ``"7d"`` or ``"rolling:7"`` (the last 7 days, sliding), or a `Window`. The scope is
    global unless ``tracking_id`` or ``model`` narrows it (both: calls matching both). A
    ``tracking_id`` covers every call made inside it, nested ones included: a budget on
    ``"checkout"`` counts a call tracked ``checkout > summary``. ``model`` is compared exactly with
    the model asked for (and, when charging, the model that answered).

    When a call would find the budget exhausted (spent >= limit), ``action`` decides: ``raise``
    refuses it with `BudgetExceededError` before anything is sent, ``warn`` lets it through and
    reports the budget, ``downgrade`` sends it to ``downgrade_to`` instead. With ``precheck``, a
    call is also treated so when its own worst-case cost, added to the spend and to the worst
    cases of the calls still in flight, would cross the limit.
    """

    limit_usd: Decimal | float | str | None = None
    limit_tokens: int | None = None
    window: Window | str = "month"
    tracking_id: str | None = None
    model: str | None = None
    action: Action = "raise"
    downgrade_to: str | None = None
    precheck: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.limit_usd is None) == (self.limit_tokens is None):
            raise ValueError("a budget needs exactly one of limit_usd and limit_tokens")
        # Every argument is checked here, once: a wrong type is a ValueError naming the argument,
        # like every other bad value ("no" is truthy: precheck="no" would have turned it on).
        if self.limit_usd is not None:
            try:
                object.__setattr__(self, "limit_usd", parse_amount(self.limit_usd, "limit_usd"))
            except TypeError as exc:
                raise ValueError(str(exc)) from None
        tokens = self.limit_tokens
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
            raise ValueError(f"limit_tokens must be an int >= 0, got {tokens!r}")
        if not isinstance(self.window, (Window, str)):
            raise ValueError(f'window must be a Window or a string such as "month", got {self.window!r}')
        object.__setattr__(self, "window", Window.parse(self.window))
        if type(self.precheck) is not bool:
            raise ValueError(f"precheck must be True or False, got {self.precheck!r}")
        for field in ("tracking_id", "model", "downgrade_to", "name"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{field} must be a non-empty string or None, got {value!r}")
        if self.tracking_id is not None:
            # track() cuts long ids the same way; an uncut budget id could never match a call.
            object.__setattr__(self, "tracking_id", self.tracking_id[:MAX_TRACKING_ID_LENGTH])
        if self.action not in _ACTIONS:
            raise ValueError(f"action must be one of {', '.join(_ACTIONS)}, got {self.action!r}")
        if (self.action == "downgrade") != (self.downgrade_to is not None):
            raise ValueError('downgrade_to is required with action="downgrade", and only then')
        if self.downgrade_to is not None and self.downgrade_to == self.model:
            raise ValueError(f"a budget on {self.model!r} cannot downgrade calls to the same model")
        if self.name is None:
            object.__setattr__(self, "name", f"{self.scope} {self.unit}/{self.period}")

    @property
    def limit(self) -> Decimal:
        """The limit in the budget's unit (USD, or tokens as a whole Decimal)."""
        if isinstance(self.limit_usd, Decimal):
            return self.limit_usd
        return Decimal(self.limit_tokens or 0)

    @property
    def unit(self) -> Literal["USD", "tokens"]:
        return names.UNIT_USD if self.limit_usd is not None else names.BUDGET_UNIT_TOKENS

    @property
    def period(self) -> Window:
        """``window``, parsed (a string given at construction is stored as its `Window`)."""
        return Window.parse(self.window)

    @property
    def scope(self) -> str:
        """``global``, ``tracking_id=checkout``, ``model=gpt-4.1`` or both, comma-separated."""
        parts = []
        if self.tracking_id is not None:
            parts.append(f"tracking_id={self.tracking_id}")
        if self.model is not None:
            parts.append(f"model={self.model}")
        return ", ".join(parts) or "global"

    def applies_to(self, model: str | None, tracking_path: tuple[str, ...]) -> bool:
        """Whether a call to ``model`` made inside ``tracking_path`` counts against this budget."""
        return self.covers((model,), tracking_path)

    def covers(self, models: tuple[str | None, ...], tracking_path: tuple[str, ...]) -> bool:
        if self.model is not None and self.model not in models:
            return False
        return self.tracking_id is None or self.tracking_id in tracking_path


@dataclass(frozen=True)
class BudgetState:
    """Where a budget stands in its current window. Amounts are in the budget's unit."""

    budget: Budget
    window_start: float
    window_end: float
    spent: Decimal
    limit: Decimal
    remaining: Decimal
    reserved: Decimal = ZERO
    """For a ``precheck`` budget, the worst cases of the calls admitted and not yet settled."""
    in_flight: int = 0
    unpriced_calls: int = 0
    """Calls in this window whose cost was unknown, so they could not be charged to a USD budget."""

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.limit


def format_amount(amount: Decimal, unit: str) -> str:
    """``$12.50``, ``$0.000125`` (to the micro-dollar) or ``1,200 tokens``."""
    if unit != names.UNIT_USD:
        return f"{format_amount_safely(amount) or format(amount, ',f')} tokens"
    return format_usd(amount, 6, trim=True)


def _moment(timestamp: float, window: Window) -> str:
    if not math.isfinite(timestamp):
        return "?"
    return datetime.fromtimestamp(timestamp, window.zone).isoformat(timespec="minutes")


class BudgetError(Exception):
    """A call was refused by tokentrace's budgets before it was sent: catch this for both kinds."""


class BudgetExceededError(BudgetError):
    """A call was refused before it was sent, because a budget with ``action="raise"`` was spent.

    ``projected`` is set when the budget was not yet exhausted but ``precheck`` refused the call:
    the spend it could have reached (spent, plus calls in flight, plus this call's worst case).
    """

    def __init__(
        self,
        budget: Budget,
        spent: Decimal,
        limit: Decimal,
        projected: Decimal | None = None,
        window_start: float = math.nan,
        window_end: float = math.nan,
    ) -> None:
        self.budget = budget
        self.scope = budget.scope
        self.window = str(budget.period)
        self.spent = spent
        self.limit = limit
        self.projected = projected
        self.window_start = window_start
        self.window_end = window_end
        super().__init__(self._message())

    def _message(self) -> str:
        unit = self.budget.unit
        spent, limit = format_amount(self.spent, unit), format_amount(self.limit, unit)
        if self.projected is None:
            what = f"exhausted: {spent} spent of {limit}"
        else:
            reach = format_amount(self.projected, unit)
            what = f"would be exceeded: {spent} spent of {limit}, and this call could take it to {reach} (counting calls in flight)"
        period = self.budget.period
        span = f"{_moment(self.window_start, period)} to {_moment(self.window_end, period)}"
        return (
            f'budget "{self.budget.name}" {what} '
            f"(scope {self.scope}, window {self.window}: {span}); the call was refused before sending"
        )

    def __reduce__(self) -> tuple[type[BudgetExceededError], tuple[object, ...]]:
        # The default reduce replays ``args`` (the message), which this __init__ does not take.
        args = (self.budget, self.spent, self.limit, self.projected, self.window_start, self.window_end)
        return type(self), args


class BudgetUnavailableError(BudgetError):
    """A call was refused before it was sent because its budgets could not be checked, and
    ``budget_failure_mode`` is ``closed``. ``cause`` names what failed (also ``__cause__``)."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(
            f"the budgets could not be checked ({cause}); the call was refused before sending, "
            'as budget_failure_mode="closed" asks (with "open" it would have gone through)'
        )

    def __reduce__(self) -> tuple[type[BudgetUnavailableError], tuple[object, ...]]:
        return type(self), (self.cause,)
