"""Budgets shared by a fleet: the budget book's accounting kept in a store (Redis) instead of memory.

The book hands a call here when a store is configured (``BudgetBook.use_store``). The decision is
the local book's, on the fleet's figures: each budget covering the call is checked and reserved by
one server-side script, all of them in one pipelined round trip; the finished call is settled the
same way. Amounts travel as whole units: nano-dollars (rounded up) or tokens.

When the store cannot answer within its timeout, the book's ``failure_mode`` decides: ``open``
sends the call unchecked and keeps its spend here until the store answers again (then adds it
there), ``closed`` refuses it with `BudgetStoreError`. After a failure the store is left alone for
``retry_after`` seconds, so an outage costs one timeout now and then, not one per call.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from .. import _money, names
from .._guard import logger
from .._money import ZERO
from .book import Decision
from .budget import Budget, BudgetExceededError, BudgetState, BudgetStoreError
from .redis_store import Op, RedisStore, ReserveResult, StoreUnavailable
from .windows import HOUR, Window

if TYPE_CHECKING:
    from ..calls.records import CallRecord
    from .book import _Tally

__all__ = ["SharedBudgets", "SharedReservation"]

_USD_SCALE = 9  # amounts in the store are whole nano-dollars


class SharedReservation:
    """The leases one call holds in the store, one per budget (``offline``: none, store was down)."""

    __slots__ = ("holds", "settled")

    def __init__(self, holds: list[tuple[_Tally, str]]) -> None:
        self.holds = holds
        self.settled = False


class _Bounds:
    """Where a budget's window stands at one moment, in the store's terms."""

    __slots__ = ("bucket", "end", "oldest", "start", "ttl")

    def __init__(self, window: Window, now: float) -> None:
        if window.kind == "rolling":
            hour = math.floor(now / HOUR)
            self.bucket = hour
            self.oldest = hour - window.days * 24
            self.start, self.end = float(self.oldest * HOUR), float((hour + 1) * HOUR)
            self.ttl = (window.days * 24 + 2) * HOUR
        else:
            self.start, self.end = window.bounds(now)
            self.bucket = self.oldest = int(self.start)
            self.ttl = int(self.end - now) + HOUR

    def bucket_at(self, window: Window, at: float, now: float) -> int | None:
        """The bucket a call started at ``at`` counts in; None once its window has closed."""
        if window.kind == "rolling":
            hour = min(math.floor(min(at, now) / HOUR), self.bucket)
            return hour if hour >= self.oldest else None
        return None if min(at, now) < self.start else self.bucket


def _scale(tally: _Tally) -> int:
    return _USD_SCALE if tally.usd else 0


def _units(amount: Decimal, tally: _Tally) -> int:
    return int(amount.scaleb(_scale(tally)).to_integral_value(rounding=ROUND_CEILING))


_DIVISORS = {True: Decimal(10**_USD_SCALE), False: Decimal(1)}


def _amount(units: int, tally: _Tally) -> Decimal:
    return _money.MONEY.divide(Decimal(units), _DIVISORS[tally.usd])


class SharedBudgets:
    """The fleet's side of a `BudgetBook`: see the module."""

    def __init__(
        self,
        store: RedisStore,
        *,
        lease: float,
        clock: Callable[[], float],
        retry_after: float = 1.0,
    ) -> None:
        self.store = store
        self.seeder: Callable[[Budget, float, float], Decimal | int] | None = None
        """What the local ledger says a budget spent in a span of time: seeds a store found empty."""
        self._lease_ms = max(int(lease * 1000), 1)
        self._clock = clock
        self._retry_after = retry_after
        self._token = uuid.uuid4().hex[:12]
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._outage_reported = False
        self._pending: dict[tuple[str, int], tuple[_Tally, int, int]] = {}
        self._last_states: dict[str, BudgetState] = {}

    # -- before the call ---------------------------------------------------------------------

    def check(
        self,
        tallies: Sequence[_Tally],
        model: str | None,
        tracking_path: tuple[str, ...],
        worst_usd: Callable[[str | None], Decimal | None],
        tokens: Decimal | None,
        failure_mode: str,
    ) -> Decision:
        covering = [t for t in tallies if t.budget.covers((model,), tracking_path)]
        if not covering:
            return Decision(model, reservation=SharedReservation([]))
        if self._down_until and time.monotonic() < self._down_until:
            return self._unreachable(model, failure_mode, "still unreachable, retried shortly")
        try:
            decision = self._decide(tallies, covering, model, tracking_path, worst_usd, tokens)
        except StoreUnavailable as exc:
            self._went_down(exc)
            return self._unreachable(model, failure_mode, str(exc))
        if self._pending or self._outage_reported:
            self._came_back()
        return decision

    def _decide(
        self,
        tallies: Sequence[_Tally],
        covering: list[_Tally],
        model: str | None,
        tracking_path: tuple[str, ...],
        worst_usd: Callable[[str | None], Decimal | None],
        tokens: Decimal | None,
    ) -> Decision:
        now = self._clock()
        holds, breaches = self._reserve(covering, now, worst_usd(model), tokens)
        trigger = next((b for b in breaches if _switches(b[0].budget, model)), None)
        if trigger is None:
            warnings = tuple(state for tally, state, _ in breaches if _reported(tally.budget, model))
            return Decision(model, warnings=warnings, reservation=SharedReservation(holds))
        # An exhausted downgrade budget: the call goes to the cheaper model, checked once more there.
        self._give_back(holds)
        final_model = trigger[0].budget.downgrade_to
        covering = [t for t in tallies if t.budget.covers((final_model,), tracking_path)]
        holds, breaches = self._reserve(covering, now, worst_usd(final_model), tokens)
        warnings = tuple(state for tally, state, _ in breaches if _reported(tally.budget, final_model))
        return Decision(
            final_model,
            downgraded_from=model,
            downgraded_by=trigger[1],
            warnings=warnings,
            reservation=SharedReservation(holds),
        )

    def _reserve(
        self, covering: list[_Tally], now: float, usd: Decimal | None, tokens: Decimal | None
    ) -> tuple[list[tuple[_Tally, str]], list[tuple[_Tally, BudgetState, Decimal | None]]]:
        """Check and reserve every covering budget in one round trip; raise for a spent ``raise`` one."""
        ops = []
        plans = []
        for tally in covering:
            bounds = _Bounds(tally.window, now)
            worst = usd if tally.usd else tokens
            amount = _units(max(worst, ZERO), tally) if tally.precheck and worst is not None else 0
            lease_id = f"{self._token}:{next(self._ids)}"
            keys = self.store.keys(tally.budget.name or "")
            args = (bounds.oldest, _units(tally.limit, tally), amount, int(tally.precheck), lease_id)
            ops.append(Op("reserve", keys, (*args, self._lease_ms)))
            plans.append((tally, bounds, amount, lease_id))
        results = [RedisStore.reserve_result(raw) for raw in self.store.run(ops)]
        holds: list[tuple[_Tally, str]] = []
        breaches: list[tuple[_Tally, BudgetState, Decimal | None]] = []
        fresh = []
        for (tally, bounds, amount, lease_id), result in zip(plans, results, strict=True):
            state = self._state(tally, bounds, result)
            if result.fresh:
                fresh.append(tally)
            if result.admitted:
                holds.append((tally, lease_id))
                continue
            projected = None
            if result.spent < _units(tally.limit, tally):
                projected = _amount(result.spent + result.reserved + amount, tally)
            if tally.budget.action == "raise":
                self._give_back(holds)
                self._seed(fresh, now)
                s = state
                raise BudgetExceededError(s.budget, s.spent, s.limit, projected, s.window_start, s.window_end)
            breaches.append((tally, state, projected))
        self._seed(fresh, now)
        return holds, breaches

    def _state(self, tally: _Tally, bounds: _Bounds, result: ReserveResult) -> BudgetState:
        spent = _amount(result.spent, tally)
        remaining = max(_money.subtract(tally.limit, spent), ZERO)
        reserved = _amount(result.reserved, tally)
        state = BudgetState(
            tally.budget, bounds.start, bounds.end, spent, tally.limit, remaining, reserved, result.in_flight
        )
        self._last_states[tally.budget.name or ""] = state
        return state

    def _unreachable(self, model: str | None, failure_mode: str, cause: str) -> Decision:
        if failure_mode == names.BUDGET_FAILURE_CLOSED:
            raise BudgetStoreError(self.store.url, cause)
        return Decision(model, reservation=SharedReservation([]))

    # -- after the call ----------------------------------------------------------------------

    def settle(self, tallies: Sequence[_Tally], decision: Decision, record: CallRecord) -> None:
        reservation = decision.reservation
        holds: list[tuple[_Tally, str]] = []
        if isinstance(reservation, SharedReservation):
            if reservation.settled:
                return
            reservation.settled = True
            holds, reservation.holds = reservation.holds, []
        self._charge(tallies, (decision.model, record.request_model, record.response_model), record, holds)

    def charge(self, tallies: Sequence[_Tally], record: CallRecord) -> None:
        self._charge(tallies, (record.request_model, record.response_model), record, [])

    def release(self, decision: Decision) -> None:
        reservation = decision.reservation
        if isinstance(reservation, SharedReservation):
            holds, reservation.holds = reservation.holds, []
            self._give_back(holds)

    def _charge(
        self,
        tallies: Sequence[_Tally],
        models: tuple[str | None, ...],
        record: CallRecord,
        holds: list[tuple[_Tally, str]],
    ) -> None:
        now = self._clock()
        # A negative cost or count can only come from a provider bug; it must not refund a budget.
        usd = max(record.cost, ZERO) if record.cost is not None else ZERO
        tokens = Decimal(max(record.input_tokens or 0, 0) + max(record.output_tokens or 0, 0))
        leases = {id(tally): lease for tally, lease in holds}
        ops = []
        spends = []
        for tally in tallies:
            lease = leases.pop(id(tally), "")
            covered = tally.budget.covers(models, record.tracking_path)
            if not covered and not lease:
                continue
            bounds = _Bounds(tally.window, now)
            bucket = bounds.bucket_at(tally.window, record.timestamp, now) if covered else None
            amount = _units(usd if tally.usd else tokens, tally) if bucket is not None else 0
            keys = self.store.keys(tally.budget.name or "")
            ops.append(Op("settle", keys[:4], (lease, amount, "" if bucket is None else bucket, bounds.ttl)))
            if amount:
                spends.append((tally, bucket or 0, amount, bounds.ttl))
        if self._down_until and time.monotonic() < self._down_until:
            self._keep(spends)
            return
        try:
            if ops:
                self.store.run(ops)
        except StoreUnavailable as exc:
            self._went_down(exc)
            self._keep(spends)

    def _give_back(self, holds: list[tuple[_Tally, str]]) -> None:
        if not holds:
            return
        ops = [
            Op("settle", self.store.keys(t.budget.name or "")[:4], (lease, 0, "", 0)) for t, lease in holds
        ]
        try:
            self.store.run(ops)
        except StoreUnavailable as exc:  # the leases expire by themselves
            self._went_down(exc)

    # -- outages -----------------------------------------------------------------------------

    def _keep(self, spends: list[tuple[_Tally, int, int, int]]) -> None:
        with self._lock:
            for tally, bucket, amount, ttl in spends:
                key = (tally.budget.name or "", bucket)
                held = self._pending.get(key)
                self._pending[key] = (tally, (held[1] if held else 0) + amount, ttl)

    def _went_down(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + self._retry_after
        if not self._outage_reported:
            self._outage_reported = True
            logger.warning(
                "tokentrace: the budget store %s cannot be reached (%s); budget_failure_mode decides "
                "what calls get meanwhile, and spend is kept here until it answers. Said once per outage.",
                self.store.url,
                exc,
            )

    def _came_back(self) -> None:
        """The store answers again: hand it the spend kept meanwhile (said once, if any)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            was_down, self._outage_reported = self._outage_reported, False
            self._down_until = 0.0
        ops = [
            Op("settle", self.store.keys(name)[:4], ("", amount, bucket, ttl))
            for (name, bucket), (_tally, amount, ttl) in pending.items()
        ]
        try:
            if ops:
                self.store.run(ops)
        except StoreUnavailable as exc:
            self._keep(
                [(tally, bucket, amount, ttl) for (_, bucket), (tally, amount, ttl) in pending.items()]
            )
            self._went_down(exc)
            return
        if was_down and ops:
            logger.warning(
                "tokentrace: the budget store %s answers again; %d spend(s) kept meanwhile were added to it",
                self.store.url,
                len(ops),
            )

    def _seed(self, fresh: list[_Tally], now: float) -> None:
        """A store that has never seen these budgets (new, or restarted empty) starts from what this
        host's ledger says they spent in their current windows, if that is more than it holds."""
        seeder = self.seeder
        if seeder is None or not fresh:
            return
        ops = []
        for tally in fresh:
            bounds = _Bounds(tally.window, now)
            key = self.store.keys(tally.budget.name or "")[:1]
            for start, end, bucket in _seed_slices(tally.window, bounds):
                try:
                    amount = Decimal(seeder(tally.budget, start, end))
                except Exception as exc:  # a ledger we cannot read must not fail the call
                    logger.warning("tokentrace: could not read the ledger to seed the budget store (%s)", exc)
                    return
                if amount > 0:
                    ops.append(Op("seed", key, (bucket, _units(amount, tally), bounds.ttl)))
        if ops:
            self.store.run(ops)

    # -- reading -----------------------------------------------------------------------------

    def states(self, tallies: Sequence[_Tally]) -> list[BudgetState]:
        """The fleet's figures (one read-only round trip); the last known ones while unreachable."""
        now = self._clock()
        if not (self._down_until and time.monotonic() < self._down_until):
            ops = []
            plans = []
            for tally in tallies:
                bounds = _Bounds(tally.window, now)
                keys = self.store.keys(tally.budget.name or "")
                ops.append(Op("reserve", keys, (bounds.oldest, 0, 0, 0, "", self._lease_ms)))
                plans.append((tally, bounds))
            try:
                results = self.store.run(ops) if ops else []
                if self._pending or self._outage_reported:
                    self._came_back()
                read = [RedisStore.reserve_result(raw) for raw in results]
                self._seed(
                    [tally for (tally, _), result in zip(plans, read, strict=True) if result.fresh], now
                )
                return [
                    self._state(tally, bounds, result)
                    for (tally, bounds), result in zip(plans, read, strict=True)
                ]
            except StoreUnavailable as exc:
                self._went_down(exc)
        return [self._last_states.get(t.budget.name or "") or t.state(now) for t in tallies]


def _seed_slices(window: Window, bounds: _Bounds) -> list[tuple[float, float, int]]:
    """The spans the ledger is read over, and the bucket each one's total goes in."""
    if window.kind != "rolling":
        return [(bounds.start, bounds.end, bounds.bucket)]
    slices = []
    for day in range(window.days):
        end_hour = bounds.bucket + 1 - 24 * day
        start_hour = end_hour - 24 if day < window.days - 1 else bounds.oldest
        # A day's total sits in its last hour: it counts until the whole day has slid out.
        slices.append((float(start_hour * HOUR), float(end_hour * HOUR), end_hour - 1))
    return slices


def _switches(budget: Budget, model: str | None) -> bool:
    return budget.action == "downgrade" and budget.downgrade_to != model


def _reported(budget: Budget, final_model: str | None) -> bool:
    return budget.action == "warn" or _switches(budget, final_model)
