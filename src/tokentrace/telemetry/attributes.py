"""A finished call's span attributes: what its response said, and why it failed.

Span attributes and the low-cardinality metric attributes are filled in one pass; only the
response model and OpenAI's service tier go on metrics too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Status, StatusCode

from .. import names

if TYPE_CHECKING:
    from ..calls.records import LLMCall, ResponseInfo

__all__ = ["add_error", "add_response_attributes"]


def add_response_attributes(
    attributes: dict[str, Any],
    metric_attributes: dict[str, Any],
    response: ResponseInfo,
    openai_api: bool,
    cache_write_attribute: str,
) -> None:
    """Model, id, finish reasons, OpenAI's own fields and the usage counts of a response."""
    if response.model:
        attributes[names.GEN_AI_RESPONSE_MODEL] = metric_attributes[names.GEN_AI_RESPONSE_MODEL] = (
            response.model
        )
    if response.id:
        attributes[names.GEN_AI_RESPONSE_ID] = response.id
    if response.finish_reasons:
        attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = [r or "" for r in response.finish_reasons]
    if openai_api:  # the openai.* attributes belong to OpenAI's own API only
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
            attributes[cache_write_attribute] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            attributes[names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens


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
