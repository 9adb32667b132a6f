"""Anthropic's Messages API shape (``/v1/messages``), served by Anthropic and many gateways.

Anthropic counts cached input apart from ``input_tokens``; the GenAI conventions count it inside,
so input here is uncached + cache reads + cache writes. Stop reasons map to the chat vocabulary.
As for every API, one field that holds no count makes the usage unknown (``fields.count``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fields import InvalidUsage, count, get, model_name, text, view
from ..records import ResponseInfo, Usage

if TYPE_CHECKING:
    from .stream import StreamAccumulator

__all__ = ["anthropic_usage", "read_event", "response_info"]

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def anthropic_usage(raw: Any) -> Usage | None:
    """Usage of a Messages response, with cached input counted inside the input tokens; None
    when absent or invalid."""
    if raw is None:
        return None
    try:
        uncached = count(get(raw, "input_tokens"))
        cache_read = count(get(raw, "cache_read_input_tokens"))
        cache_write = count(get(raw, "cache_creation_input_tokens"))
        output = count(get(raw, "output_tokens"))
    except InvalidUsage:
        return None
    if uncached is None and output is None:
        return None
    total_input = None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
    return Usage(
        input_tokens=total_input,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _stop_reason(reason: Any) -> str | None:
    return _STOP_REASONS.get(reason, reason) if isinstance(reason, str) else None


def response_info(response: Any) -> ResponseInfo:
    """Model, id, finish reason and usage of a complete Messages response."""
    fields = view(response)
    field = fields.get
    info = ResponseInfo(model=model_name(field("model")))
    info.id = text(field("id"))
    info.usage = anthropic_usage(field("usage"))
    reason = _stop_reason(field("stop_reason"))
    if reason is not None:
        info.finish_reasons.append(reason)
    return info


def read_event(acc: StreamAccumulator, event: Any) -> bool:
    """Note one stream event: the start has model, id and input usage; the delta the output."""
    event_type = get(event, "type")
    info = acc.info
    if event_type == "message_start":
        message = get(event, "message")
        info.model = model_name(get(message, "model"))
        info.id = text(get(message, "id"))
        info.usage = anthropic_usage(get(message, "usage"))
    elif event_type == "message_delta":
        reason = _stop_reason(get(get(event, "delta"), "stop_reason"))
        if reason is not None:
            acc.reasons[0] = reason
        try:
            output = count(get(get(event, "usage"), "output_tokens"))
        except InvalidUsage:
            info.usage = None  # a count that is not one: the stream's usage is unknown
        else:
            if output is not None:
                if info.usage is None:
                    info.usage = Usage()
                info.usage.output_tokens = output
    elif event_type == "content_block_delta" and acc.texts is not None:
        piece = get(get(event, "delta"), "text")
        if isinstance(piece, str):
            acc.texts.setdefault(0, []).append(piece)
    return False
