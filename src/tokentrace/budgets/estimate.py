"""A call's worst-case cost before it is sent: a rough prompt size and the output cap, priced.

`BudgetBook.check` needs it only for budgets with ``precheck``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from ..calls.records import Usage
from ..pricing.rates import Rates

__all__ = ["estimate_prompt_tokens", "worst_case_cost"]

# Chat formats wrap each message in a few tokens of their own (role markers, separators).
_PER_MESSAGE = 4
# Deeper nesting than this is not a prompt; stop rather than recurse without end.
_MAX_DEPTH = 32


def estimate_prompt_tokens(messages_or_input: object, *, count: Callable[[str], int] | None = None) -> int:
    """About how many input tokens a prompt is: every text in it, at 4 bytes of UTF-8 per token.

    Accepts what the SDKs take: a string, chat messages (dicts or SDK objects), content parts,
    Responses-API input items. Four bytes per token is about right for English and code;
    counting bytes rather than characters keeps Vietnamese or Chinese text (2-3 bytes a
    character, and fewer characters per token) from being badly under-counted. It is an
    estimate, off by tens of percent either way. Inline images and files (``data:`` URLs) are
    not counted: they are priced by size, not text.

    Pass ``count`` for real counts, e.g. ``lambda text: len(encoding.encode(text))`` with a
    tiktoken encoding. tiktoken is not used on its own: it downloads an encoding on first use,
    and a surprise network fetch before every first call is worse than a rough estimate.
    """
    texts: list[str] = []
    messages = _collect(messages_or_input, texts, 0)
    if count is not None:
        tokens = sum(count(text) for text in texts)
    else:
        size = sum(len(text.encode("utf-8", "replace")) for text in texts)
        tokens = -(-size // 4)
    return tokens + _PER_MESSAGE * messages


def _collect(value: object, texts: list[str], depth: int) -> int:
    """Append the texts in ``value`` to ``texts``; return how many messages it holds."""
    if depth > _MAX_DEPTH:
        return 0
    if isinstance(value, str):
        if not value.startswith("data:"):
            texts.append(value)
        return 0
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, Mapping):
        value = dump()  # an SDK's pydantic message object
    messages = 0
    if isinstance(value, Mapping):
        messages = int("role" in value)
        for item in value.values():
            messages += _collect(item, texts, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            messages += _collect(item, texts, depth + 1)
    return messages


def worst_case_cost(rates: Rates, prompt_tokens_estimate: int, max_output_tokens: int) -> Decimal:
    """The most a call can cost at ``rates``: the prompt estimate in, ``max_output_tokens`` out.

    Takes the dearer of plain and cache-write input, and of plain and reasoning output, so the
    result bounds the real cost as long as the prompt estimate does.
    """
    if prompt_tokens_estimate < 0 or max_output_tokens < 0:
        raise ValueError("token counts cannot be negative")
    prompt, output = prompt_tokens_estimate, max_output_tokens
    usages = (
        Usage(input_tokens=prompt, output_tokens=output),
        Usage(input_tokens=prompt, output_tokens=output, cache_write_tokens=prompt),
        Usage(input_tokens=prompt, output_tokens=output, reasoning_tokens=output),
        Usage(input_tokens=prompt, output_tokens=output, cache_write_tokens=prompt, reasoning_tokens=output),
    )
    return max(rates.cost(usage).amount for usage in usages)
