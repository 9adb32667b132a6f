"""Plain records that patches fill in and the recorder turns into telemetry.

Nothing here imports OpenTelemetry: a record is data about one LLM call, whatever transport made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["Usage", "ResponseInfo"]


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
