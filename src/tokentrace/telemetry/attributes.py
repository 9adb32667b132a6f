"""A failed call's span: its ``error.type``, HTTP status and a status description without secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Status, StatusCode

from .. import names

if TYPE_CHECKING:
    from ..calls.records import LLMCall

__all__ = ["add_error"]


def add_error(
    call: LLMCall, attributes: dict[str, Any], error: BaseException | None, status_code: int | None
) -> str:
    """Mark the span failed: an exception, or an HTTP status of 400 or more; returns ``error.type``.

    The status description is the exception's text without the client's secrets or anything
    shaped like a credential.
    """
    span = call.span
    if error is not None:
        error_type = type(error).__qualname__
        code = getattr(error, "status_code", None)
        if type(code) is int:
            attributes[names.HTTP_RESPONSE_STATUS_CODE] = code
        from ..redact import redact  # failures only

        span.set_status(Status(StatusCode.ERROR, redact(str(error)[:2048], call.secrets)[:512]))
    else:
        error_type = str(status_code)
        attributes[names.HTTP_RESPONSE_STATUS_CODE] = status_code
        span.set_status(Status(StatusCode.ERROR, f"HTTP {status_code}"))
    attributes[names.ERROR_TYPE] = error_type
    return error_type
