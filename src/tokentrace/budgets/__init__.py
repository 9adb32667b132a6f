"""Budgets: USD or token limits per day, month or rolling days, checked before a call is sent.

Pure accounting, without OpenTelemetry or I/O: the patches call `BudgetBook.check` before
sending and `BudgetBook.settle` with the finished `CallRecord`.

    book = BudgetBook([Budget(limit_usd="50", window="month", tracking_id="checkout")])
    decision = book.check(model="gpt-4.1", tracking_path=("checkout",))  # may raise
    ...  # send the request to decision.model
    book.settle(decision, record)
"""

from __future__ import annotations

from .book import BudgetBook, Decision, WorstCaseUSD
from .budget import (
    Action,
    Budget,
    BudgetError,
    BudgetExceededError,
    BudgetState,
    BudgetUnavailableError,
    format_amount,
)
from .estimate import estimate_prompt_tokens, worst_case_cost
from .windows import Window

__all__ = [
    "Action",
    "Budget",
    "BudgetBook",
    "BudgetError",
    "BudgetExceededError",
    "BudgetState",
    "BudgetUnavailableError",
    "Decision",
    "Window",
    "WorstCaseUSD",
    "estimate_prompt_tokens",
    "format_amount",
    "worst_case_cost",
]
