"""Reading fields of provider data, whether the SDK's typed objects or decoded JSON.

Every reader here accepts both, so the SDK patch and the plain-HTTP patches share one body of
logic, and none raises on odd provider data: a field of the wrong type is treated as absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["MAX_MODEL_LENGTH", "MODEL_TYPES", "count", "get", "model_name", "money", "text", "view"]

MAX_TOKENS = 1 << 40  # anything above this is not a token count, it is a broken response

MAX_MODEL_LENGTH = 256
"""Model names longer than this (a caller's or a server's) are cut: they go on every sink."""


class _Attributes:
    """``.get`` over an object that is neither a dict nor a pydantic model: its attributes."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, key: str) -> Any:
        return getattr(self._obj, key, None)


_NOTHING: Mapping[str, Any] = {}

_MAPPING, _MODEL, _OBJECT = 0, 1, 2
_kinds_by_type: dict[type, int] = {}

MODEL_TYPES: set[type] = set()
"""The types of ``_kinds_by_type`` that are ``_MODEL``: one membership test per stream chunk."""


def _kind_of(cls: type, obj: Any) -> int:
    kind = _MAPPING if issubclass(cls, Mapping) else _MODEL if hasattr(obj, "__dict__") else _OBJECT
    if len(_kinds_by_type) < 4096:
        _kinds_by_type[cls] = kind
        if kind == _MODEL:
            MODEL_TYPES.add(cls)
    return kind


def view(obj: Any) -> Any:
    """Something with ``.get(key)`` (None when absent) over decoded JSON or an SDK model.

    SDK models are pydantic models whose declared fields live in ``__dict__`` and whose extra
    fields (a provider's additions, like OpenRouter's ``usage.cost``) live in
    ``__pydantic_extra__``. Reading those dicts directly avoids pydantic's slow ``__getattr__``;
    for the common model without extras the view is its ``__dict__`` itself. What kind of object
    a type is gets decided once per type.
    """
    cls = type(obj)
    if cls is dict:
        return obj
    if obj is None:
        return _NOTHING
    kind = _kinds_by_type.get(cls)
    if kind is None:
        kind = _kind_of(cls, obj)
    if kind == _MODEL:
        fields = obj.__dict__
        extra = getattr(obj, "__pydantic_extra__", None)
        if not extra:
            return fields
        merged = dict(fields)
        for key, value in extra.items():
            if merged.get(key) is None:
                merged[key] = value
        return merged
    return obj if kind == _MAPPING else _Attributes(obj)


def get(obj: Any, key: str) -> Any:
    """``obj[key]`` for decoded JSON, ``obj.key`` for SDK models; None when absent."""
    if type(obj) is dict:
        return obj.get(key)
    return view(obj).get(key)


def model_name(value: Any) -> str | None:
    """A model name as a request or a response states it, bounded; None when not a string."""
    return value[:MAX_MODEL_LENGTH] if isinstance(value, str) else None


def count(value: Any) -> int | None:
    """A token count, or None when the value is missing, not a count, negative or absurd."""
    if type(value) is int:
        return value if 0 <= value < MAX_TOKENS else None
    if type(value) is float and value.is_integer() and 0 <= value < MAX_TOKENS:
        return int(value)
    return None


def money(value: Any) -> Decimal | None:
    """A non-negative finite amount of money, or None."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return Decimal(repr(value)) if value >= 0 else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() and parsed >= 0 else None
    return None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
