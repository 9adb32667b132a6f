"""Resolved prices of one model (`Rates`), what one call cost (`Cost`), and the arithmetic between them.

Everything here is ``Decimal`` arithmetic in the money context (``tokentrace._money``), so a host
application that changes its decimal precision or rounding cannot change a price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from tokentrace import names
from tokentrace._money import MONEY, ZERO
from tokentrace._money import add as _add
from tokentrace._money import multiply as _mul

if TYPE_CHECKING:
    from tokentrace.calls.records import Usage

__all__ = ["ZERO", "Cost", "RateTier", "Rates"]


@dataclass(frozen=True)
class RateTier:
    """Rates that replace the base rates when the prompt has more than ``above`` input tokens.

    As in genai-prices, crossing a threshold reprices *all* tokens of the call, not only those
    above it. ``None`` falls back within the tier: cache rates to this tier's input rate, the
    reasoning rate to this tier's output rate.
    """

    above: int
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None


# One price band as per-token rates: (threshold, input, output, cache_read, cache_write, reasoning).
_Band = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


def _band(
    above: int,
    input: Decimal,
    output: Decimal,
    cache_read: Decimal | None,
    cache_write: Decimal | None,
    reasoning: Decimal | None,
) -> _Band:
    def per_token(per_million: Decimal) -> Decimal:
        return per_million.scaleb(-6, MONEY)

    return (
        above,
        per_token(input),
        per_token(output),
        per_token(input if cache_read is None else cache_read),
        per_token(input if cache_write is None else cache_write),
        per_token(output if reasoning is None else reasoning),
    )


@dataclass(frozen=True)
class Rates:
    """What a model costs, in USD per 1M tokens, and where that price came from.

    ``cache_read`` and ``cache_write`` of ``None`` mean "billed as plain input"; ``reasoning`` of
    ``None`` means "billed as plain output". ``request`` is a flat USD fee per call (a few
    providers charge one, e.g. Perplexity's per-request search fee), zero for most models.
    ``source`` is ``"genai-prices"`` or ``"override:<file path or 'code'>"``; ``entry`` names the
    price entry used (``"openai/gpt-4.1"``); ``date`` is the day the price is valid from, if known.
    """

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    tiers: tuple[RateTier, ...] = ()
    request: Decimal = ZERO
    source: str = "override:code"
    entry: str = ""
    date: str | None = None
    # Per-token bands, highest threshold first, so pricing a call is a short scan and five products.
    _bands: tuple[_Band, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bands = [_band(-1, self.input, self.output, self.cache_read, self.cache_write, self.reasoning)]
        bands.extend(
            _band(t.above, t.input, t.output, t.cache_read, t.cache_write, t.reasoning) for t in self.tiers
        )
        bands.sort(key=lambda band: band[0], reverse=True)
        object.__setattr__(self, "_bands", tuple(bands))

    def cost(self, usage: Usage) -> Cost:
        """Price ``usage`` with these rates (source ``local``).

        Counts follow `Usage`: input includes cache reads and writes, output includes reasoning.
        Missing counts are zero; inconsistent ones are clamped (a part larger than its whole is
        billed as reported, and the remainder never goes below zero) so pricing never raises.
        """
        # None (not reported) and negative counts (a buggy provider or patch) count as zero.
        input_tokens = usage.input_tokens or 0
        output_tokens = usage.output_tokens or 0
        cache_read = usage.cache_read_tokens or 0
        cache_write = usage.cache_write_tokens or 0
        reasoning = usage.reasoning_tokens or 0
        if min(input_tokens, output_tokens, cache_read, cache_write, reasoning) < 0:
            input_tokens, output_tokens, cache_read, cache_write, reasoning = (
                max(count, 0) for count in (input_tokens, output_tokens, cache_read, cache_write, reasoning)
            )

        for band in self._bands:  # the last band (threshold -1) always matches
            if input_tokens > band[0]:
                break
        plain_input = input_tokens - cache_read - cache_write
        plain_output = output_tokens - reasoning
        # Only non-zero parts are priced and added: the common call (no cache, no reasoning) is
        # two products and one sum, and its zero parts stay a tidy 0.
        amount = input_part = _mul(plain_input, band[1]) if plain_input > 0 else ZERO
        output_part = read_part = write_part = reasoning_part = ZERO
        if plain_output > 0:
            output_part = _mul(plain_output, band[2])
            amount = _add(amount, output_part)
        if cache_read:
            read_part = _mul(cache_read, band[3])
            amount = _add(amount, read_part)
        if cache_write:
            write_part = _mul(cache_write, band[4])
            amount = _add(amount, write_part)
        if reasoning:
            reasoning_part = _mul(reasoning, band[5])
            amount = _add(amount, reasoning_part)
        request = self.request
        if request:
            amount = _add(amount, request)
        return _cost(
            amount,
            input_part,
            output_part,
            read_part,
            write_part,
            reasoning_part,
            request,
            names.COST_SOURCE_LOCAL,
            self.entry,
            self.date,
        )


@dataclass(frozen=True)
class Cost:
    """What one call cost, in USD, with its breakdown.

    ``amount`` is the total. ``input`` is uncached input only and ``output`` excludes reasoning, so
    for a local price the parts add up to ``amount``. ``source`` is ``"provider"`` when the
    response carried its own cost (then ``amount`` is that cost, and the breakdown is our local
    estimate, or zeros if we have no price) and ``"local"`` otherwise.
    """

    amount: Decimal
    input: Decimal = ZERO
    output: Decimal = ZERO
    cache_read: Decimal = ZERO
    cache_write: Decimal = ZERO
    reasoning: Decimal = ZERO
    request: Decimal = ZERO
    source: str = names.COST_SOURCE_LOCAL
    entry: str | None = None
    date: str | None = None


_new_object = object.__new__
_set_dict = object.__setattr__


def _cost(
    amount: Decimal,
    input: Decimal,
    output: Decimal,
    cache_read: Decimal,
    cache_write: Decimal,
    reasoning: Decimal,
    request: Decimal,
    source: str,
    entry: str | None,
    date: str | None,
) -> Cost:
    """``Cost(...)`` for the per-call path: the same frozen object, its fields set in one step.

    A frozen dataclass's ``__init__`` sets each of its ten fields through ``object.__setattr__``;
    handing the instance its ``__dict__`` whole is one step instead of ten.
    """
    cost = _new_object(Cost)
    _set_dict(
        cost,
        "__dict__",
        {
            "amount": amount,
            "input": input,
            "output": output,
            "cache_read": cache_read,
            "cache_write": cache_write,
            "reasoning": reasoning,
            "request": request,
            "source": source,
            "entry": entry,
            "date": date,
        },
    )
    return cost
