"""Chat completions (``/chat/completions``): what a response and a stream of chunks say.

Legacy completions share these shapes (``completions``). Finish reasons are one per choice, in
index order, since ``n > 1`` choices may arrive in any order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fields import MODEL_TYPES, get, model_name, text, view
from ..records import ResponseInfo
from .openai_usage import usage_from

if TYPE_CHECKING:
    from .stream import StreamAccumulator

__all__ = ["read_chunk", "response_info"]


def response_info(response: Any) -> ResponseInfo:
    """Model, id, finish reasons, service tier, fingerprint and usage of a complete response."""
    fields = view(response)
    field = fields.get
    info = ResponseInfo(model=model_name(field("model")))
    info.usage = usage_from(field("usage"))
    info.id = text(field("id"))
    info.service_tier = text(field("service_tier"))
    choices = field("choices")
    if isinstance(choices, (list, tuple)):
        reasons = info.finish_reasons
        ordered = True
        indexes: list[int] = []
        for position, choice in enumerate(choices):
            choice_fields = view(choice)
            index = choice_fields.get("index")
            index = index if type(index) is int else position
            ordered = ordered and (not indexes or indexes[-1] < index)
            indexes.append(index)
            reasons.append(text(choice_fields.get("finish_reason")))
        if not ordered:  # n > 1 choices may come in any order: report them by index
            info.finish_reasons = [
                reason for _, reason in sorted(zip(indexes, reasons, strict=True), key=lambda p: p[0])
            ]
    info.system_fingerprint = text(field("system_fingerprint"))
    return info


def read_chunk(acc: StreamAccumulator, chunk: Any) -> bool:
    """Note one chat or legacy completions chunk; True means hide it (a usage chunk we asked for).

    This runs for every chunk of every stream. For an SDK model, its declared fields are its
    ``__dict__``; a provider's extra fields (``__pydantic_extra__``) are never any of the ones read
    here but ``x_groq``, which is looked up on its own below, so no per-chunk merge of the extras.
    """
    info = acc.info
    fields = chunk.__dict__ if type(chunk) in MODEL_TYPES else view(chunk)
    field = fields.get
    if not info.model:  # Azure's first chunk (prompt filter results) has an empty model and id
        info.model = model_name(field("model")) or None
        info.id = text(field("id")) or None
        info.system_fingerprint = text(field("system_fingerprint"))
        info.service_tier = text(field("service_tier"))
    choices = field("choices")
    if choices:
        if not isinstance(choices, (list, tuple)):
            choices = ()
        elif acc.texts is not None:
            _collect_text(acc.texts, choices)
        for choice in choices:
            choice_fields = choice.__dict__ if type(choice) in MODEL_TYPES else view(choice)
            reason = choice_fields.get("finish_reason")
            if reason is not None:
                _note_reason(acc, chunk, choice, reason)
    raw_usage = field("usage")
    if raw_usage is not None:
        info.usage = usage_from(raw_usage)
        return acc.hide_usage_chunk and not choices
    return False


def _note_reason(acc: StreamAccumulator, chunk: Any, choice: Any, reason: Any) -> None:
    index = get(choice, "index")
    acc.reasons[index if type(index) is int else len(acc.reasons)] = text(reason)
    groq = get(chunk, "x_groq")  # Groq puts usage here on the last chunk
    if groq is not None:
        acc.info.usage = usage_from(get(groq, "usage")) or acc.info.usage


def _collect_text(texts: dict[int, list[str]], choices: Any) -> None:
    for position, choice in enumerate(choices):
        index = get(choice, "index")
        delta = get(choice, "delta")
        piece = get(delta, "content") if delta is not None else get(choice, "text")
        if isinstance(piece, str):
            texts.setdefault(index if type(index) is int else position, []).append(piece)
