"""The one place that turns an LLM call into telemetry: span, metrics, cost, sinks.

Patches describe a call (``LLMCall``) and hand it here at its start and its end; they never touch
the tracer or the meter. Everything that can be decided once (instruments, names, settings) is
decided when the recorder is built at ``instrument()`` time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Meter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation import _SPAN_KEY

from .. import names
from .._guard import internal_error
from ..budgets import BudgetBook
from ..budgets.gate import BudgetGate
from ..calls.providers import Endpoint
from ..calls.records import CallRecord, LLMCall, ResponseInfo, Usage
from ..config import Settings
from ..fallback import FallbackBook
from ..pricing import PriceBook
from ..pricing.calls import CallPricer
from ..tracking import IN_RECORDED_CALL, TrackingIdCap, current_path
from .attributes import add_error
from .budget_metrics import add_budget_events, register_budget_metrics
from .coexist import (
    activate_suppressing,
    beside_records,
    end_enriching,
    out_of_sight,
    peer_records,
    start_enriching,
)
from .cost_metrics import CostMetrics
from .fallback_metrics import FallbackCounter
from .instruments import make_instruments
from .model_cap import ModelCap

__all__ = ["LLMCall", "Recorder"]  # LLMCall: calls.records, re-exported for the patches


Sink = Callable[[CallRecord], None]


class Recorder:
    """Owns the tracer, the instruments and the sinks; shared by every patch."""

    def __init__(
        self,
        tracer: Tracer,
        meter: Meter,
        settings: Settings,
        prices: PriceBook | None = None,
        budgets: BudgetBook | None = None,
        fallbacks: FallbackBook | None = None,
    ) -> None:
        prices = prices if prices is not None else PriceBook()
        budgets = budgets if budgets is not None else BudgetBook()
        self.tracer = tracer
        self.settings = settings
        metric_names = names.LATEST if settings.latest_semconv else names.STABLE
        self._cache_write_attribute = metric_names.cache_write_attribute
        self._cap = TrackingIdCap(settings.tracking_ids, settings.max_tracking_ids)
        self._models = ModelCap(settings.max_models, _priced(prices))
        self._instruments = make_instruments(meter, settings.latest_semconv)
        self.prices = prices
        self.budgets = budgets
        self._pricer = CallPricer(prices)
        self._costs = CostMetrics(meter, settings.cost_breakdown, settings.cost_histogram)
        register_budget_metrics(meter, budgets)
        self.fallbacks = fallbacks if fallbacks is not None else FallbackBook()
        """The fallback chains calls are resent along (``tokentrace.Fallback``)."""
        self.fallback_counter = FallbackCounter(meter, self._models)
        coexist = settings.coexist
        self._enrich = coexist == names.COEXIST_ENRICH
        if coexist == names.COEXIST_OWN:
            self.activate = activate_suppressing  # type: ignore[method-assign]
        self.sinks: list[Sink] = []
        """Called in order with the ``CallRecord`` of every finished call: the in-process summary,
        the ledger, and any the app adds (the demo, tests)."""

    # -- start ------------------------------------------------------------------------------------

    def start(
        self,
        operation: str,
        request_model: str | None,
        endpoint: Endpoint,
        stream: bool,
        request_attributes: dict[str, Any],
        gate: BudgetGate | None = None,
        path: tuple[str, ...] | None = None,
    ) -> LLMCall:
        """Open the span of a call; the caller makes it current with ``activate``.

        ``gate`` is what the call's budgets decided (``budgets.gate``), already applied to the
        request by the patch: a downgraded model is ``request_model`` here. ``path`` is the
        tracking path when the patch already read it (the calling context's otherwise).
        """
        if path is None:
            path = current_path()
        context = None
        beside = None
        if self._enrich:  # another instrumentation's GenAI span of this call open? (DESIGN §7a)
            # The current context read once, and handed to start_span, which would read it again:
            # the check costs about 1,300 instructions a call when no span is current.
            context = otel_context.get_current()
            parent = context.get(_SPAN_KEY)
            if isinstance(parent, ReadableSpan):  # an SDK span: one whose kind and scope can be read
                records = peer_records(parent)
                if records is not None:
                    if records != names.PEER_RECORDS_ALL:
                        records = beside_records(parent, records)
                    return start_enriching(
                        parent,
                        records,
                        operation,
                        request_model,
                        endpoint,
                        stream,
                        gate,
                        path,
                        request_attributes,
                    )
            # One lookup: only the providers' SDKs have instrumentations whose span is out of sight.
            beside = _OUT_OF_SIGHT.get(endpoint.provider)
        attributes = request_attributes
        if gate is not None and gate.downgraded_from is not None:
            attributes[names.BUDGET_DOWNGRADED_FROM] = gate.downgraded_from
        attributes[names.GEN_AI_OPERATION_NAME] = operation
        attributes[names.GEN_AI_PROVIDER_NAME] = endpoint.provider
        attributes[names.SERVER_ADDRESS] = endpoint.address
        attributes[names.SERVER_PORT] = endpoint.port
        if request_model:
            attributes[names.GEN_AI_REQUEST_MODEL] = request_model
        if path:
            attributes[names.TRACKING_ID] = path[-1]
            if len(path) > 1:
                attributes[names.TRACKING_PATH] = path
        span = self.tracer.start_span(
            f"{operation} {request_model}" if request_model else operation,
            context,
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        call = LLMCall(operation, request_model, endpoint, stream, span)
        call.tracking_path = path
        if gate is not None:
            call.budget = gate
            add_budget_events(span, gate)
        if beside is not None and out_of_sight(beside):  # its histograms are theirs: end_enriching
            call.peer = span
            call.peer_metrics = names.PEER_RECORDS_ALL
        return call

    @staticmethod
    def activate(call: LLMCall) -> tuple[object, object]:
        """Make the call's span current (so HTTP spans nest under it) and flag a recorded call."""
        return otel_context.attach(trace.set_span_in_context(call.span)), IN_RECORDED_CALL.set(True)

    @staticmethod
    def deactivate(tokens: tuple[object, object]) -> None:
        IN_RECORDED_CALL.reset(tokens[1])  # type: ignore[arg-type]
        otel_context.detach(tokens[0])  # type: ignore[arg-type]

    # -- end ------------------------------------------------------------------------------------

    def end(
        self,
        call: LLMCall,
        response: ResponseInfo | None,
        error: BaseException | None = None,
        *,
        status_code: int | None = None,
        superseded: bool = False,
    ) -> None:
        """Finish a call once: its cost, its span, its metrics, then its record to every sink.

        A failure is an exception (``error``) or, for plain HTTP calls, an HTTP status of 400 or
        more (``status_code``), whose ``error.type`` is the status code as the HTTP conventions say.
        ``superseded``: a failed attempt of a fallback chain that the next attempt replaces; on
        another instrumentation's span of the call it leaves only tokentrace's own attributes.
        """
        call.duration = time.perf_counter() - call.start
        call.response = response
        endpoint = call.endpoint
        # Span and metric attributes in one pass; metrics get only the low-cardinality ones.
        metric_attributes: dict[str, Any] = {
            names.GEN_AI_OPERATION_NAME: call.operation,
            names.GEN_AI_PROVIDER_NAME: endpoint.provider,
            names.SERVER_ADDRESS: endpoint.address,
            names.SERVER_PORT: endpoint.port,
        }
        # Model names from input are capped on metrics (telemetry/model_cap.py): one set lookup.
        models = self._models
        seen = models.seen
        model = call.request_model
        if model:
            metric_attributes[names.GEN_AI_REQUEST_MODEL] = (
                model if model in seen else models.admit(endpoint.provider, model)
            )
        attributes: dict[str, Any] = {}
        usage = None
        if response is not None:  # only the response model and OpenAI's service tier go on metrics
            model = response.model
            if model:
                attributes[names.GEN_AI_RESPONSE_MODEL] = model
                metric_attributes[names.GEN_AI_RESPONSE_MODEL] = (
                    model if model in seen else models.admit(endpoint.provider, model)
                )
            if response.id:
                attributes[names.GEN_AI_RESPONSE_ID] = response.id
            if response.finish_reasons:
                attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = [r or "" for r in response.finish_reasons]
            if call.openai_api:  # the openai.* attributes belong to OpenAI's own API only
                if response.service_tier:
                    attributes[names.OPENAI_RESPONSE_SERVICE_TIER] = metric_attributes[
                        names.OPENAI_RESPONSE_SERVICE_TIER
                    ] = response.service_tier
                if response.system_fingerprint:
                    attributes[names.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = response.system_fingerprint
            usage = response.usage
            if usage is not None:
                if usage.input_tokens is not None:
                    attributes[names.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
                if usage.output_tokens is not None:
                    attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
                # Cache and reasoning counts only when there are some: most providers send zeros for
                # every call, and the span says nothing new with them (the ledger keeps them).
                if usage.cache_read_tokens:
                    attributes[names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
                if usage.cache_write_tokens:
                    attributes[self._cache_write_attribute] = usage.cache_write_tokens
                if usage.reasoning_tokens:
                    attributes[names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        if call.time_to_first_chunk is not None:
            attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = call.time_to_first_chunk
        if call.stream_end is not None:
            attributes[names.STREAM_END] = call.stream_end
        if call.usage_injected:
            attributes[names.STREAM_USAGE_INJECTED] = True
        if call.content_attributes:
            attributes.update(call.content_attributes)
        if error is not None or (status_code is not None and status_code >= 400):
            call.error_type = add_error(call, attributes, error, status_code)
            metric_attributes[names.ERROR_TYPE] = call.error_type
        if call.tracking_path:
            metric_attributes[names.TRACKING_ID] = self._cap(call.tracking_path[-1])
        call.metric_attributes = metric_attributes
        gate = call.budget
        refused = gate is not None and gate.refusal is not None
        # A call a budget refused was never sent: it cost nothing, and its cost is not "unknown".
        if not refused:
            cost, reason = self._pricer.price(
                endpoint.provider, call.request_model, response, call.error_type is not None
            )
            call.cost = cost
            call.cost_unknown_reason = reason
            self._costs.record(attributes, metric_attributes, cost, reason)
        if call.peer is None:
            span = call.span
            span.set_attributes(attributes)
            span.end()
            self._instruments.record(
                call.operation, call.duration, call.time_to_first_chunk, usage, metric_attributes
            )
        else:
            end_enriching(self._instruments, call, attributes, usage, metric_attributes, superseded)
        record = _call_record(call, usage)
        if gate is not None or not self.budgets.empty:
            _charge_budgets(self.budgets, gate, record)
        for sink in self.sinks:
            try:
                sink(record)
            except Exception as exc:
                internal_error(f"passing a call to {type(sink).__name__}", exc)


_ZERO = Decimal(0)
_OUT_OF_SIGHT = names.PEERS_OUT_OF_SIGHT_BY_PROVIDER


def _priced(prices: PriceBook) -> Callable[[str, str], bool]:
    def known(provider: str, model: str) -> bool:
        return prices.rates(provider, model) is not None

    return known


def _charge_budgets(book: BudgetBook, gate: BudgetGate | None, record: CallRecord) -> None:
    try:
        if gate is None:
            book.charge(record)
        elif gate.decision is not None:
            book.settle(gate.decision, record)
        # a refused call was never sent: nothing to charge
    except Exception as exc:
        internal_error("charging a call to its budgets", exc)


def _call_record(call: LLMCall, usage: Usage | None) -> CallRecord:
    context = call.span.get_span_context()
    valid = context.is_valid and context.trace_flags & 1  # sampled: an unsampled id leads nowhere
    response = call.response
    cost = call.cost
    error_type = call.error_type
    endpoint = call.endpoint
    path = call.tracking_path
    if cost is not None:
        amount: Decimal | None = cost.amount
    else:  # unknown, or zero when a budget refused the call (it was never sent)
        gate = call.budget
        amount = _ZERO if gate is not None and gate.refusal is not None else None
    if usage is None:
        usage = _NO_USAGE
    # The tuple built directly: the same record, without the named tuple's Python-level __new__.
    return _new_record(
        CallRecord,
        (
            call.wall_start,
            call.duration,
            call.operation,
            endpoint.provider,
            endpoint.address,
            call.request_model,
            response.model if response is not None else None,
            path[-1] if path else None,
            path,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.reasoning_tokens,
            amount,
            cost.source if cost is not None else None,
            call.cost_unknown_reason,
            error_type,
            error_type is not None and "Timeout" in error_type,  # timed out
            call.stream,
            # printf-style: half the work of format() for these hex ids (benchmarks/RESULTS.md notes)
            "%032x" % context.trace_id if valid else None,  # noqa: UP031
            "%016x" % context.span_id if valid else None,  # noqa: UP031
            call.fallback_from,
        ),
    )


_NO_USAGE = Usage()
_new_record = tuple.__new__
