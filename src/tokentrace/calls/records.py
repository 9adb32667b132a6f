"""Plain records of one LLM call, whatever transport made it: what its response said (``Usage``,
``ResponseInfo``), the call in flight (``LLMCall``, which the patches start and the recorder
finishes), and the finished call every sink receives (``CallRecord``).

Nothing here imports OpenTelemetry (``LLMCall`` holds its span as an opaque object).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import names
from .providers import OPENAI_PROVIDERS, Endpoint

if TYPE_CHECKING:
    from ..budgets.gate import BudgetGate
    from ..pricing import Cost

__all__ = ["NOT_BILLED", "CallRecord", "LLMCall", "ResponseInfo", "Usage"]


@dataclass(slots=True)
class Usage:
    """Token counts of one call, as the provider reported them.

    ``input_tokens`` includes cached input (read and written), and ``output_tokens`` includes
    reasoning tokens, as OpenAI-compatible APIs and the GenAI semantic conventions count them.
    ``None`` means the provider did not say, which is different from zero.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    provider_cost: Decimal | None = None
    """A cost in USD that the response itself carried (OpenRouter's ``usage.cost``)."""


@dataclass(slots=True)
class ResponseInfo:
    """What a response (or a whole stream) told us, apart from usage."""

    model: str | None = None
    id: str | None = None
    finish_reasons: list[str | None] = field(default_factory=list)
    service_tier: str | None = None
    system_fingerprint: str | None = None
    usage: Usage | None = None


NOT_BILLED = ResponseInfo()
"""What an attempt of a fallback chain got when the provider refused it with an HTTP error status
and no usage (a 429, a 5xx): nothing was billed, so it is priced at a known 0. Shared: never changed."""


class CallRecord(NamedTuple):
    """One finished call, as sinks (summaries, ledger, budgets) see it. Independent of sampling.

    A named tuple: immutable, and built for every call in a fraction of a frozen dataclass's time.
    """

    timestamp: float
    """Unix time (seconds) when the call started."""
    duration: float
    """Seconds from the request to the end of the response (the whole stream, for streams)."""
    operation: str
    provider: str
    server_address: str
    request_model: str | None
    response_model: str | None
    tracking_id: str | None
    tracking_path: tuple[str, ...]
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost: Decimal | None
    """USD; None when unknown (see ``cost_unknown_reason``)."""
    cost_source: str | None
    """``provider`` (the response carried it) or ``local`` (priced by tokentrace)."""
    cost_unknown_reason: str | None
    """``unpriced_model``, ``no_usage`` or ``error`` when ``cost`` is None."""
    error_type: str | None
    timed_out: bool
    stream: bool
    trace_id: str | None
    """32 hex digits, or None when the span was not recorded."""
    span_id: str | None
    fallback_from: str | None = None
    """The model this call replaced in its fallback chain (``tokentrace.Fallback``); None for a
    call that was not a fallback."""

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for."""
        return self.response_model or self.request_model

    @property
    def status(self) -> str:
        """``ok``, ``error``, ``timeout`` or ``refused`` (a budget refused it: it was never sent)."""
        if self.timed_out:
            return "timeout"
        error_type = self.error_type
        if error_type:
            return names.CALL_STATUS_REFUSED if error_type in names.REFUSAL_ERROR_TYPES else "error"
        return "ok"


class LLMCall:
    """One call in flight, then finished. Mutable only while the call runs."""

    __slots__ = (
        "budget",
        "content_attributes",
        "cost",
        "cost_unknown_reason",
        "duration",
        "endpoint",
        "error_type",
        "fallback_from",
        "metric_attributes",
        "openai_api",
        "operation",
        "peer",
        "peer_metrics",
        "request_model",
        "response",
        "secrets",
        "span",
        "start",
        "stream",
        "stream_end",
        "time_to_first_chunk",
        "tracking_path",
        "usage_injected",
        "wall_start",
    )
    peer_metrics: str
    """Set with ``peer``: whether that instrumentation records the token and duration histograms."""

    def __init__(
        self, operation: str, request_model: str | None, endpoint: Endpoint, stream: bool, span: Any
    ) -> None:
        self.operation = operation
        self.request_model = request_model
        self.endpoint = endpoint
        self.stream = stream
        self.span = span
        self.tracking_path: tuple[str, ...] = ()
        self.start = time.perf_counter()
        self.wall_start = time.time()
        self.cost_unknown_reason: str | None = None
        self.budget: BudgetGate | None = None
        self.duration = 0.0
        self.time_to_first_chunk: float | None = None
        self.response: ResponseInfo | None = None
        self.error_type: str | None = None
        self.stream_end: str | None = None
        self.usage_injected = False
        self.metric_attributes: dict[str, Any] = {}
        self.content_attributes: dict[str, str] | None = None
        self.cost: Cost | None = None
        self.secrets: tuple[str | None, ...] = ()
        """The client's own credentials, kept out of error messages (set by the patch on failure)."""
        self.openai_api = endpoint.provider in OPENAI_PROVIDERS
        self.fallback_from: str | None = None
        """The model this call replaces in its fallback chain (set by the call skeleton)."""
        self.peer: Any = None
        """Another instrumentation's open GenAI span of this call, which tokentrace enriches instead
        of opening its own (``span`` is then a non-recording span with the same ids)."""

    @property
    def tracking_id(self) -> str | None:
        return self.tracking_path[-1] if self.tracking_path else None
