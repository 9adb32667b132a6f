"""Next to another instrumentation (DESIGN §7a): its GenAI span of the call becomes the call's span.

``Recorder.start`` asks ``peer_records`` whether the current span is another instrumentation's
GenAI span of the call (an open SDK span: a CLIENT span with a GenAI attribute, or one of a scope
in ``names.PEER_SCOPES``); if so, under ``coexist="enrich"`` (the default), ``start_enriching``
makes the call's record point at it, and ``end_enriching`` puts tokentrace's attributes on it and
records only the histograms that instrumentation does not. ``activate_suppressing`` is
``Recorder.activate`` under ``coexist="own"``.

Some instrumentations of the providers' SDKs record the histograms from a span tokentrace cannot
reach when the request is sent (``names.PEERS_OUT_OF_SIGHT``: OpenLLMetry's, never current; the
official anthropic one, under the anthropic SDK's own span). ``out_of_sight`` says whether one of
them is switched on: then the histograms are theirs, and the cost goes on the span tokentrace can
reach (``beside_records``: the current one, such as the SDK's own) or, with no GenAI span
current, on a span of tokentrace's own, which ``end_enriching`` ends.
"""

from __future__ import annotations

import sys
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanKind

from .. import names
from ..budgets.gate import BudgetGate
from ..calls.providers import Endpoint
from ..calls.records import LLMCall, Usage
from ..config import environment_value
from ..tracking import IN_RECORDED_CALL
from .budget_metrics import add_budget_events
from .instruments import LatestInstruments, StableInstruments

__all__ = [
    "activate_suppressing",
    "beside_records",
    "end_enriching",
    "out_of_sight",
    "peer_records",
    "start_enriching",
]


def end_enriching(
    instruments: StableInstruments | LatestInstruments,
    call: LLMCall,
    attributes: dict[str, Any],
    usage: Usage | None,
    metric_attributes: dict[str, Any],
    superseded: bool = False,
) -> None:
    """The end of a call whose span is another instrumentation's: its attributes go on that span
    (tokentrace's own always, the rest where it has none), which its owner ends. The histograms
    are the owner's, but for tokens it cannot have seen: a stream's usage chunk that tokentrace
    asked for and kept from its caller. A ``superseded`` fallback attempt leaves only its own
    attributes: the span is the caller's whole call, and the next attempt answers for it."""
    peer = call.peer
    if peer is call.span:  # tokentrace's own span, beside an instrumentation whose span is out of sight
        peer.set_attributes(attributes)
        peer.end()
    elif peer.end_time is None:  # still open (an owner that ended it first loses nothing else)
        present = peer.attributes or {}
        peer.set_attributes(
            {
                key: value
                for key, value in attributes.items()
                if (key not in present and not superseded) or key.startswith(names.OWN_ATTRIBUTE_PREFIXES)
            }
        )
    recorded = call.peer_metrics
    if recorded == names.PEER_RECORDS_NONE:
        instruments.record(call.operation, call.duration, call.time_to_first_chunk, usage, metric_attributes)
        return
    if recorded == names.PEER_RECORDS_TOKENS:
        instruments.record_duration(call.operation, call.duration, metric_attributes)
    if call.usage_injected:
        instruments.record_usage(call.operation, usage, metric_attributes)


def peer_records(span: ReadableSpan) -> str | None:
    """Whether an open SDK span is another instrumentation's GenAI span of the call (None if not),
    and if so which histograms that instrumentation records (``names.PEER_RECORDS_*``)."""
    if span.end_time is not None:
        return None
    scope = span.instrumentation_scope
    if scope is not None:
        known = names.PEER_SCOPES.get(scope.name)
        if known is not None:
            return known
        if scope.name == names.SCOPE:
            return None
    if span.kind is SpanKind.CLIENT:
        attributes = span.attributes
        if attributes and (names.GEN_AI_OPERATION_NAME in attributes or names.GEN_AI_SYSTEM in attributes):
            return names.PEER_RECORDS_ALL
    return None


def out_of_sight(peers: tuple[tuple[str, str, str], ...]) -> bool:
    """Whether one of ``peers`` (a ``names.PEERS_OUT_OF_SIGHT`` entry) is switched on and records
    its histograms: its module imported, its instrumentor (a ``BaseInstrumentor``, one instance
    per class) instrumenting, and its metrics not switched off. Read at each such call, so an
    instrumentation switched on or off after ``instrument()`` counts as it is then."""
    modules = sys.modules
    for module_name, class_name, metrics_switch in peers:
        module = modules.get(module_name)
        if module is None:
            continue
        instrumentor = getattr(getattr(module, class_name, None), "_instance", None)
        if not getattr(instrumentor, "_is_instrumented_by_opentelemetry", False):
            continue
        if metrics_switch and (environment_value(metrics_switch) or "true").lower() != "true":
            continue  # OpenLLMetry's own switch: read when it was instrumented, "true" unless set
        return True
    return False


def beside_records(span: ReadableSpan, records: str) -> str:
    """Which histograms are recorded beside tokentrace for a call whose current GenAI span records
    ``records`` (not all): all of them when an instrumentation of the same SDK that records them
    is switched on out of sight (``names.PEERS_OUT_OF_SIGHT``, by the span's scope)."""
    scope = span.instrumentation_scope
    peers = names.PEERS_OUT_OF_SIGHT.get(scope.name) if scope is not None else None
    return names.PEER_RECORDS_ALL if peers is not None and out_of_sight(peers) else records


def start_enriching(
    peer: Any,
    records: str,
    operation: str,
    request_model: str | None,
    endpoint: Endpoint,
    stream: bool,
    gate: BudgetGate | None,
    path: tuple[str, ...],
    request_attributes: dict[str, Any],
) -> LLMCall:
    """A call whose span is another instrumentation's: tokentrace's span is a non-recording one with
    that span's ids (so the ledger and HTTP spans point at it), and the tracking id, budget
    decisions and fallback attempt go on the other span now, while it is surely open.

    The attempts of a fallback chain all happen inside that instrumentation's one span of the
    call: each enriches it, so it shows the latest attempt's model replaced, number and reason."""
    call = LLMCall(operation, request_model, endpoint, stream, NonRecordingSpan(peer.get_span_context()))
    call.peer = peer
    call.peer_metrics = records
    call.tracking_path = path
    attributes: dict[str, Any] = {}
    if path:
        attributes[names.TRACKING_ID] = path[-1]
        if len(path) > 1:
            attributes[names.TRACKING_PATH] = path
    if gate is not None:
        call.budget = gate
        if gate.downgraded_from is not None:
            attributes[names.BUDGET_DOWNGRADED_FROM] = gate.downgraded_from
        add_budget_events(peer, gate)
    if names.FALLBACK_FROM in request_attributes:  # a fallback attempt after the first (patches/_call.py)
        for name in _FALLBACK_ATTRIBUTES:
            if name in request_attributes:
                attributes[name] = request_attributes[name]
    if attributes:
        peer.set_attributes(attributes)
    return call


_FALLBACK_ATTRIBUTES = (names.FALLBACK_FROM, names.FALLBACK_ATTEMPT, names.FALLBACK_REASON)


def activate_suppressing(call: LLMCall) -> tuple[object, object]:
    """``Recorder.activate`` under ``coexist="own"``: OpenTelemetry's suppression key is set too, so
    instrumentations under the call that honour it step aside while it runs."""
    context = trace.set_span_in_context(call.span)
    context = otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, context)
    context = otel_context.set_value(names.SUPPRESS_INSTRUMENTATION_PLAIN, True, context)
    return otel_context.attach(context), IN_RECORDED_CALL.set(True)
