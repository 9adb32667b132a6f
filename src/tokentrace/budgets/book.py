"""The budget book: checks a call against every budget before it is sent, and charges it after.

One lock guards the counters. Each operation holds it for a few comparisons and Decimal additions,
never across I/O, a user callback or an ``await``, so one book serves threads and asyncio tasks.

Over 300 lines on purpose: check, settle, release and charge keep one invariant under that lock
(spend plus reservations against each limit), and reading it whole needs them side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Optional, Union

from .. import _money, names
from .._money import ZERO
from .budget import Budget, BudgetExceededError, BudgetState, parse_amount
from .windows import Counter

if TYPE_CHECKING:
    from ..calls.records import CallRecord

__all__ = ["BudgetBook", "Decision", "WorstCaseUSD"]

WorstCaseUSD = Union[Decimal, Callable[[Optional[str]], Optional[Decimal]], None]
"""A call's worst-case cost, or a function giving it for a model (so a downgrade is priced right)."""


@dataclass(frozen=True)
class Decision:
    """What `BudgetBook.check` allowed: the model to send (``downgraded_from`` says if it changed,
    ``downgraded_by`` which budget did it), the ``warn`` budgets the call is over, and an opaque
    reservation that `BudgetBook.settle` or `BudgetBook.release` gives back."""

    model: str | None
    downgraded_from: str | None = None
    downgraded_by: BudgetState | None = None
    warnings: tuple[BudgetState, ...] = ()
    reservation: object = field(default=None, compare=False, repr=False)


class _Tally:
    """A budget with its counter and the calls it admitted that have not finished yet."""

    __slots__ = ("budget", "counter", "in_flight", "limit", "precheck", "reserved", "usd")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.counter: Counter = budget.period.counter()
        # Copied out of the budget: check() reads them for every call.
        self.limit = budget.limit
        self.usd = budget.unit == names.UNIT_USD
        self.precheck = budget.precheck
        self.reserved = ZERO
        self.in_flight = 0

    def state(self, now: float) -> BudgetState:
        start, end, spent, unpriced = self.counter.snapshot(now)
        limit = self.limit
        remaining = max(_money.subtract(limit, spent), ZERO)
        return BudgetState(
            self.budget, start, end, spent, limit, remaining, self.reserved, self.in_flight, unpriced
        )


class _Reservation:
    __slots__ = ("holds", "settled")

    def __init__(self, holds: list[tuple[_Tally, Decimal]]) -> None:
        self.holds = holds
        self.settled = False

    def give_back(self) -> None:
        for tally, amount in self.holds:
            if amount:
                tally.reserved = _money.subtract(tally.reserved, amount)
            tally.in_flight -= 1
        self.holds = []


@dataclass(frozen=True)
class _Breach:
    tally: _Tally
    state: BudgetState
    projected: Decimal | None

    def error(self) -> BudgetExceededError:
        s = self.state
        return BudgetExceededError(s.budget, s.spent, s.limit, self.projected, s.window_start, s.window_end)


class BudgetBook:
    """Budgets and their spend, in memory.

    What is guaranteed when threads and tasks call it at once: a ``raise`` budget admits a call
    only while its spend is below the limit, and spend is charged when calls settle, so the limit
    can be passed only by the calls admitted before the spend reached it. With N threads or tasks
    each making one call at a time, that is the call that crossed the limit plus at most N - 1
    calls in flight. With ``precheck``, the worst cases of the calls in flight count as spent at
    admission, so spend stays within the limit as long as those worst cases were upper bounds.

    ``failure_mode`` says what a call gets when its budgets cannot be checked (an error inside
    the book, later an unreachable shared store): ``open`` (the default) sends it, ``closed``
    refuses it with `BudgetUnavailableError` (``budgets.gate`` applies it). It is the book's, not
    one budget's: whatever failed, it failed for every budget of the call.
    """

    def __init__(
        self,
        budgets: Iterable[Budget] = (),
        *,
        clock: Callable[[], float] = time.time,
        failure_mode: str = names.BUDGET_FAILURE_OPEN,
    ) -> None:
        self.failure_mode = failure_mode
        self._clock = clock
        self._lock = threading.Lock()
        self._tallies: tuple[_Tally, ...] = ()
        self.empty = True
        """No budget at all: what every call reads first (a plain attribute, kept with the tallies)."""
        for budget in budgets:
            self.add(budget)

    @property
    def failure_mode(self) -> str:
        """``open`` or ``closed``: see the class."""
        return self._failure_mode

    @failure_mode.setter
    def failure_mode(self, mode: str) -> None:
        if mode not in names.BUDGET_FAILURE_MODES:
            raise ValueError(f"budget failure mode must be open or closed, got {mode!r}")
        self._failure_mode = mode

    @property
    def budgets(self) -> tuple[Budget, ...]:
        return tuple(tally.budget for tally in self._tallies)

    def add(self, budget: Budget) -> None:
        """Add a budget, starting from zero spend (see `preload`). Names must be unique."""
        if not isinstance(budget, Budget):
            raise TypeError(f"expected a Budget, got {type(budget).__name__}")
        with self._lock:
            if any(tally.budget.name == budget.name for tally in self._tallies):
                raise ValueError(f"a budget named {budget.name!r} is already in the book")
            # Replaced, not appended in place, so check() can read the tuple before taking the lock.
            self._tallies = (*self._tallies, _Tally(budget))
            self.empty = False

    def remove(self, budget: Budget) -> None:
        with self._lock:
            kept = tuple(tally for tally in self._tallies if tally.budget != budget)
            if len(kept) == len(self._tallies):
                raise ValueError(f"budget {budget.name!r} is not in the book")
            self._tallies = kept
            self.empty = not kept

    def check(
        self,
        *,
        model: str | None,
        tracking_path: tuple[str, ...],
        worst_case_usd: WorstCaseUSD = None,
        worst_case_tokens: int | None = None,
    ) -> Decision:
        """Decide whether a call may be sent, and to which model. Call it before any I/O.

        Raises `BudgetExceededError` when a ``raise`` budget covering the call is exhausted (or,
        with ``precheck``, could be crossed by this call). An exhausted ``downgrade`` budget
        switches the call to its ``downgrade_to`` model, and the budgets covering that model are
        then checked once: their ``raise`` budgets still raise, and a ``downgrade`` budget there
        is satisfied if it points to the same model, else only reported (a call is downgraded at
        most once). The first matching budget in the book's order wins.

        Worst cases only matter to ``precheck`` budgets: the call reserves its worst case there
        until it is settled or released. A call without one reserves nothing, but is still
        refused once the spend and the reservations of other calls reach the limit.
        """
        tallies = self._tallies
        if not tallies:
            return Decision(model, reservation=_Reservation([]))
        worst_usd = self._worst_usd(tallies, model, tracking_path, worst_case_usd)
        tokens = Decimal(worst_case_tokens) if worst_case_tokens is not None else None
        trigger = None
        final_model = model
        warnings: tuple[BudgetState, ...] = ()
        with self._lock:
            now = self._clock()
            covering = [t for t in tallies if t.budget.covers((model,), tracking_path)]
            breaches = self._breaches(covering, now, worst_usd(model), tokens)
            if breaches:
                # A call already on a budget's cheaper model has nothing to switch to: it is satisfied.
                trigger = next((b for b in breaches if _switches(b.tally.budget, model)), None)
                if trigger is not None:
                    final_model = trigger.tally.budget.downgrade_to
                    covering = [t for t in tallies if t.budget.covers((final_model,), tracking_path)]
                    breaches = self._breaches(covering, now, worst_usd(final_model), tokens)
                # After a downgrade, a downgrade budget pointing elsewhere is only reported: no second hop.
                warnings = tuple(b.state for b in breaches if _reported(b.tally.budget, final_model))
            usd = worst_usd(final_model)
            holds = []
            for tally in covering:
                amount = self._worst_for(tally, usd, tokens)
                if amount:
                    tally.reserved = _money.add(tally.reserved, amount)
                tally.in_flight += 1
                holds.append((tally, amount))
        if trigger is None:
            return Decision(final_model, warnings=warnings, reservation=_Reservation(holds))
        return Decision(
            final_model,
            downgraded_from=model,
            downgraded_by=trigger.state,
            warnings=warnings,
            reservation=_Reservation(holds),
        )

    def settle(self, decision: Decision, record: CallRecord) -> None:
        """Charge a finished call and give back what `check` reserved for it (once per decision).

        USD budgets are charged ``record.cost``; a call whose cost is unknown (an unpriced model,
        no usage in the response) cannot be charged and adds 0 USD, counted in the state's
        ``unpriced_calls``. Token budgets are charged input plus output tokens. The spend counts
        in the window holding the call's start (a call started before midnight is yesterday's).
        """
        reservation = decision.reservation
        with self._lock:
            if isinstance(reservation, _Reservation):
                if reservation.settled:
                    return
                reservation.settled = True
                reservation.give_back()
            self._charge((decision.model, record.request_model, record.response_model), record)

    def release(self, decision: Decision) -> None:
        """Give back a reservation without charging: the call failed before it was sent.

        Once given back, a reservation is never given back twice; `settle` afterwards still charges.
        """
        reservation = decision.reservation
        if isinstance(reservation, _Reservation):
            with self._lock:
                reservation.give_back()

    def charge(self, record: CallRecord) -> None:
        """Charge a call that was not checked (made before its budgets were added, say); see `settle`."""
        with self._lock:
            self._charge((record.request_model, record.response_model), record)

    def states(self) -> list[BudgetState]:
        """Spend and what remains of every budget in its current window, in the book's order."""
        with self._lock:
            now = self._clock()
            return [tally.state(now) for tally in self._tallies]

    def preload(
        self,
        spent_by_budget: Callable[[Budget, float, float], Decimal | int],
        *,
        budgets: Iterable[Budget] | None = None,
    ) -> None:
        """Read what was already spent in the current windows (``spent_by_budget(budget, start,
        end)``, from the ledger), so a restart does not reset a monthly budget.

        The amounts replace what the book counted, so call it at start-up, before calls are
        checked. A rolling window is read one day at a time; each day's spend then counts until
        that whole day has slid out of the window (up to a day late, never early).
        """
        wanted = None if budgets is None else set(budgets)
        with self._lock:
            now = self._clock()
            chosen = [t for t in self._tallies if wanted is None or t.budget in wanted]
            plans = [(tally, tally.counter.slices(now)) for tally in chosen]
        # The reads are I/O (a database query each), so they run without the lock.
        loaded = []
        for tally, slices in plans:
            read = [spent_by_budget(tally.budget, start, end) for start, end in slices]
            what = f"the spend preloaded for budget {tally.budget.name!r}"
            loaded.append((tally, [parse_amount(value, what) for value in read]))
        with self._lock:
            for tally, amounts in loaded:
                tally.counter.load(now, amounts)

    def _worst_usd(
        self,
        tallies: tuple[_Tally, ...],
        model: str | None,
        tracking_path: tuple[str, ...],
        worst_case: WorstCaseUSD,
    ) -> Callable[[str | None], Decimal | None]:
        # Priced before taking the lock: the function may look up prices, which can be slow once.
        if not callable(worst_case):
            return lambda _model: worst_case
        if not any(t.budget.precheck for t in tallies):
            return lambda _model: None
        models = {model}
        models.update(
            t.budget.downgrade_to
            for t in tallies
            if t.budget.action == "downgrade" and t.budget.covers((model,), tracking_path)
        )
        return {name: worst_case(name) for name in models}.get

    @staticmethod
    def _worst_for(tally: _Tally, usd: Decimal | None, tokens: Decimal | None) -> Decimal:
        if not tally.precheck:
            return ZERO  # only a precheck budget counts calls in flight against its limit
        worst = usd if tally.usd else tokens
        return max(worst, ZERO) if worst is not None else ZERO

    def _breaches(
        self, covering: list[_Tally], now: float, usd: Decimal | None, tokens: Decimal | None
    ) -> list[_Breach]:
        """The covering budgets this call would find exhausted; raises for the first ``raise`` one."""
        found = []
        for tally in covering:
            spent = tally.counter.snapshot(now)[2]
            projected = None
            if spent < tally.limit:
                if not tally.precheck:
                    continue
                committed = _money.add(spent, tally.reserved)
                projected = _money.add(committed, self._worst_for(tally, usd, tokens))
                if committed < tally.limit and projected <= tally.limit:
                    continue
            breach = _Breach(tally, tally.state(now), projected)
            if tally.budget.action == "raise":
                raise breach.error()
            found.append(breach)
        return found

    def _charge(self, models: tuple[str | None, ...], record: CallRecord) -> None:
        now = self._clock()
        # A negative cost or count can only come from a provider bug; it must not refund a budget.
        usd = max(record.cost, ZERO) if record.cost is not None else ZERO
        tokens = Decimal(max(record.input_tokens or 0, 0) + max(record.output_tokens or 0, 0))
        unpriced = int(record.cost is None)
        for tally in self._tallies:
            if not tally.budget.covers(models, record.tracking_path):
                continue
            if tally.usd:
                tally.counter.add(record.timestamp, now, usd, unpriced)
            else:
                tally.counter.add(record.timestamp, now, tokens, 0)


def _switches(budget: Budget, model: str | None) -> bool:
    return budget.action == "downgrade" and budget.downgrade_to != model


def _reported(budget: Budget, final_model: str | None) -> bool:
    return budget.action == "warn" or _switches(budget, final_model)
