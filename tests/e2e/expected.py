"""What the app's workload should cost, computed independently of tokentrace.

The inputs are the token counts the local server answered (each call's ``usage``, as the app saw it
in the response) and the providers' published list prices below, written out by hand: not
tokentrace's price data, so a wrong price lookup or a wrong sum in tokentrace shows up here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# USD per 1M tokens (input, output), OpenAI's list prices.
LIST_PRICES = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
}
PER_TOKEN = 1_000_000


def call_cost(call: dict[str, Any]) -> float | None:
    """USD of one successful call of a priced model; None when it has no price."""
    prices = LIST_PRICES.get(call["model"])
    if prices is None or call["error"] is not None:
        return None
    input_price, output_price = prices
    tokens_in: int = call["input_tokens"]
    tokens_out: int = call["output_tokens"]
    return (tokens_in * input_price + tokens_out * output_price) / PER_TOKEN


@dataclass
class Expected:
    cost_by_model: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    cost_by_tracking_id: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    tokens_by_type: Counter[str] = field(default_factory=Counter)
    tokens_by_tracking_id_and_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls_by_model: Counter[str] = field(default_factory=Counter)
    errors_by_type: Counter[str] = field(default_factory=Counter)
    unknown_by_reason: Counter[str] = field(default_factory=Counter)
    priced_calls: int = 0

    @property
    def total_cost(self) -> float:
        return sum(self.cost_by_model.values())


def expected_from(calls: Iterable[dict[str, Any]]) -> Expected:
    expected = Expected()
    for call in calls:
        expected.calls_by_model[call["model"]] += 1
        if call["error"] is not None:
            expected.errors_by_type[call["error"]] += 1
            expected.unknown_by_reason["error"] += 1
            continue
        for token_type in ("input", "output"):
            tokens = call[f"{token_type}_tokens"]
            expected.tokens_by_type[token_type] += tokens
            expected.tokens_by_tracking_id_and_type[call["tracking_id"], token_type] += tokens
        cost = call_cost(call)
        if cost is None:
            expected.unknown_by_reason["unpriced_model"] += 1
            continue
        expected.priced_calls += 1
        expected.cost_by_model[call["model"]] += cost
        expected.cost_by_tracking_id[call["tracking_id"]] += cost
    return expected
