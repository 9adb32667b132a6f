"""Reading fields of provider data, whether the SDK's typed objects or decoded JSON.

Every reader here accepts both, so the SDK patch and the plain-HTTP patches share one body of
logic, and none raises on odd provider data: a field of the wrong type is treated as absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "MAX_MODEL_LENGTH",
    "MAX_TOKENS",
    "MODEL_TYPES",
    "InvalidUsage",
    "count",
    "get",
    "model_name",
    "money",
    "text",
    "view",
]

MAX_TOKENS = 1_000_000_000
"""The largest token count one usage field may hold: a hundred times the longest context window
any model offers. Anything above is not a count but a broken response."""

_MAX_COUNT_DIGITS = len(str(MAX_TOKENS))
_MAX_MONEY_TEXT = 64
_SMALLEST_MONEY_EXPONENT = -20
"""A provider's cost below 1e-20 USD (and not zero) is not an amount anyone bills."""
_NO_COST = Decimal(0)

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


class InvalidUsage(ValueError):
    """A usage field is present but holds no token count: the whole usage is unknown."""


def count(value: Any) -> int | None:
    """A token count, or None when the field is absent (missing or null).

    A count is an int from 0 to ``MAX_TOKENS``, a float with an integral value in that range, or a
    string of ASCII digits (surrounding blanks allowed), which is what the openai SDK's own models
    make of ``"12"``; so the SDK and a plain HTTP call read the same JSON the same way. Anything
    else present (a negative, fractional or absurd number, a boolean, other text, a list) raises
    `InvalidUsage`: a usage with one such field is unknown, not partly known.
    """
    if type(value) is int:
        if 0 <= value <= MAX_TOKENS:
            return value
    elif value is None:
        return None
    elif type(value) is float:
        if value.is_integer() and 0 <= value <= MAX_TOKENS:
            return int(value)
    elif type(value) is str:
        digits = value.strip()
        if len(digits) <= _MAX_COUNT_DIGITS and digits.isascii() and digits.isdigit():
            number = int(digits)
            if number <= MAX_TOKENS:
                return number
    raise InvalidUsage(value)


def money(value: Any) -> Decimal | None:
    """A provider's cost: a finite amount >= 0 (a number, or a number as text), else None.

    Booleans, text longer than a number needs and amounts below 1e-20 USD (other than zero) are
    not costs. Whether the amount is plausible for the call is the pricing's to judge.
    """
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        if value < 0:
            return None
        # repr: Decimal(0.1) would keep the float's binary error; an int converts exactly.
        parsed = Decimal(value) if type(value) is int else Decimal(repr(value))
    elif type(value) is str and len(value) <= _MAX_MONEY_TEXT:
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            return None
        if not parsed.is_finite() or parsed < 0:
            return None
    else:
        return None
    if not parsed:
        return _NO_COST  # -0.0 and 0E-30 alike
    return None if parsed.adjusted() < _SMALLEST_MONEY_EXPONENT else parsed


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
