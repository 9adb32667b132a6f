"""Plain records that patches fill in and the recorder turns into telemetry.

Nothing here imports OpenTelemetry: a record is data about one LLM call, whatever transport made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

__all__ = ["CallRecord", "ResponseInfo", "Usage"]


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

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for."""
        return self.response_model or self.request_model

    @property
    def status(self) -> str:
        """``ok``, ``error`` or ``timeout``."""
        if self.timed_out:
            return "timeout"
        return "error" if self.error_type else "ok"
