"""The Responses API (``/responses``): a response object, or a stream of named events.

A Responses object has a status instead of finish reasons; ``finish_reason`` maps it to the chat
vocabulary. A stream's usage and final state arrive with its ``response.completed`` (or
``incomplete`` / ``failed``) event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fields import get, model_name, text, view
from ..records import ResponseInfo
from .openai_usage import usage_from

if TYPE_CHECKING:
    from .stream import StreamAccumulator

__all__ = ["finish_reason", "read_event", "response_info"]

_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed", "response.created")


def finish_reason(response: Any) -> str | None:
    """A chat-style finish reason for a Responses API object (it has a status instead)."""
    status = get(response, "status")
    if status == "completed":
        output = get(response, "output")
        if isinstance(output, (list, tuple)) and any(get(item, "type") == "function_call" for item in output):
            return "tool_calls"
        return "stop"
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(reason, reason) if isinstance(reason, str) else "incomplete"
    if status == "failed":
        return "error"
    return status if isinstance(status, str) else None


def response_info(response: Any) -> ResponseInfo:
    """Model, id, service tier, finish reason and usage of a Responses object."""
    fields = view(response)
    field = fields.get
    info = ResponseInfo(model=model_name(field("model")))
    info.usage = usage_from(field("usage"))
    info.id = text(field("id"))
    info.service_tier = text(field("service_tier"))
    reason = finish_reason(response)
    if reason is not None:
        info.finish_reasons.append(reason)
    return info


def read_event(acc: StreamAccumulator, event: Any) -> bool:
    """Note one stream event; the final events carry the whole response. Never hides an event."""
    event_type = get(event, "type")
    if event_type in _FINAL_EVENTS:
        response = get(event, "response")
        final = response_info(response)
        if event_type == "response.created":
            final.finish_reasons.clear()
        if final.usage is None:
            final.usage = acc.info.usage
        acc.info = final
        if acc.texts is not None:
            acc.final_response = response
    return False
