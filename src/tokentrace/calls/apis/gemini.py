"""The Gemini API (``models/{model}:generateContent``, ``:streamGenerateContent``, ``:embedContent``,
``:batchEmbedContents``), of Google's Developer API and Vertex AI alike.

Its usage (``usageMetadata``) counts differently from the GenAI conventions, so it is mapped here:

- input is ``promptTokenCount`` (which already holds ``cachedContentTokenCount``, the cache reads)
  plus ``toolUsePromptTokenCount`` (tool results fed back in, billed as input);
- output is ``candidatesTokenCount`` plus ``thoughtsTokenCount``: thoughts are billed as output,
  and recorded apart as reasoning tokens.

The API speaks protobuf's JSON, which leaves out a field whose value is zero: within a usage object
that exists, a count that is absent is 0 (a blocked prompt has no ``candidatesTokenCount``). A
stream repeats the usage so far on its chunks, so the last one seen is the call's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fields import InvalidUsage, count, get, model_name, text, view
from ..records import ResponseInfo, Usage

if TYPE_CHECKING:
    from .stream import StreamAccumulator

__all__ = ["embedding_info", "gemini_usage", "read_chunk", "response_info"]

_FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
}
_USAGE_FIELDS = (
    "promptTokenCount",
    "cachedContentTokenCount",
    "toolUsePromptTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
)


def gemini_usage(raw: Any) -> Usage | None:
    """Usage of a Gemini response (see the module's docstring); None when absent or invalid."""
    if raw is None:
        return None
    try:
        prompt, cached, tool_use, candidates, thoughts = (count(get(raw, name)) for name in _USAGE_FIELDS)
    except InvalidUsage:
        return None
    if prompt is None and candidates is None and thoughts is None:
        return None  # an empty usage object says nothing; other fields alone cannot be priced
    return Usage(
        input_tokens=(prompt or 0) + (tool_use or 0),
        output_tokens=(candidates or 0) + (thoughts or 0),
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def _finish_reason(reason: Any) -> str | None:
    if not isinstance(reason, str) or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    return _FINISH_REASONS.get(reason, reason.lower())


def response_info(response: Any) -> ResponseInfo:
    """Model version, response id, finish reasons (one per candidate) and usage of a response."""
    fields = view(response)
    field = fields.get
    info = ResponseInfo(model=model_name(field("modelVersion")))
    info.id = text(field("responseId"))
    info.usage = gemini_usage(field("usageMetadata"))
    candidates = field("candidates")
    if isinstance(candidates, (list, tuple)):
        info.finish_reasons = [_finish_reason(get(candidate, "finishReason")) for candidate in candidates]
    return info


def read_chunk(acc: StreamAccumulator, chunk: Any) -> bool:
    """Note one chunk of a stream: each is a response of its own, with the usage so far; a
    candidate's finish reason is the stream's last word for it (``acc.ended``)."""
    fields = view(chunk)
    field = fields.get
    info = acc.info
    if info.model is None:
        info.model = model_name(field("modelVersion"))
        info.id = text(field("responseId"))
    raw_usage = field("usageMetadata")
    if raw_usage is not None:
        acc.last_usage = raw_usage  # read once, when the stream has ended (``settle``)
    candidates = field("candidates")
    if isinstance(candidates, (list, tuple)):
        for position, candidate in enumerate(candidates):
            index = get(candidate, "index")
            index = index if type(index) is int else position
            if acc.texts is not None:
                _collect_text(acc.texts, index, candidate)
            reason = _finish_reason(get(candidate, "finishReason"))
            if reason is not None:
                acc.reasons[index] = reason
                acc.ended = True
    return False


def _collect_text(texts: dict[int, list[str]], index: int, candidate: Any) -> None:
    parts = get(get(candidate, "content"), "parts")
    if isinstance(parts, (list, tuple)):
        for part in parts:
            piece = get(part, "text")
            if isinstance(piece, str) and get(part, "thought") is not True:
                texts.setdefault(index, []).append(piece)


def embedding_info(response: Any) -> ResponseInfo:
    """An ``embedContent`` / ``batchEmbedContents`` response: usage where it carries one (the
    Developer API's ``embedContent`` may not: the call's usage is then unknown)."""
    raw = get(response, "usageMetadata")
    usage = None
    if raw is not None:
        try:
            prompt = count(get(raw, "promptTokenCount"))
        except InvalidUsage:
            prompt = None
        if prompt is not None:
            usage = Usage(input_tokens=prompt)
    return ResponseInfo(model=model_name(get(response, "modelVersion")), usage=usage)
