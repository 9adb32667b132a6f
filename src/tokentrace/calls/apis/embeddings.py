"""Embeddings (``/embeddings``): a response says its model and usage, nothing else we record."""

from __future__ import annotations

from typing import Any

from ..fields import model_name, view
from ..records import ResponseInfo
from .openai_usage import usage_from

__all__ = ["response_info"]


def response_info(response: Any) -> ResponseInfo:
    fields = view(response)
    return ResponseInfo(model=model_name(fields.get("model")), usage=usage_from(fields.get("usage")))
