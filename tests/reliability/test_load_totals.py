"""20,000 mixed calls from 16 threads and 1,000 asyncio tasks: every token and every cent accounted for.

The server (``_load_server``) keeps its own books of what it answered, per tracking id. After the
run, the spans, the metrics, the in-process summary, the ledger and the budget must each add up to
exactly those books: no call lost, none counted twice, no cost off by a fraction of a cent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import requests

import tokentrace
from tests.conftest import Telemetry
from tests.reliability._load_server import LoadServer, Tally, usage_for
from tokentrace.activation import set_budgets
from tokentrace.activation import summary_sink as default_sink
from tokentrace.ledger import read_calls

THREADS = 16
CALLS_PER_THREAD = 625  # 10,000 from threads
TASKS = 1000
CALLS_PER_TASK = 10  # 10,000 from tasks
TOTAL = THREADS * CALLS_PER_THREAD + TASKS * CALLS_PER_TASK
CONCURRENT_TASK_CALLS = 64  # tasks all run at once; this many are in flight on the wire

CHAT_MODEL = "load-chat-model"
EMBED_MODEL = "load-embed-model"
RATES = {CHAT_MODEL: (Decimal("1.25"), Decimal("10")), EMBED_MODEL: (Decimal("0.02"), Decimal("0"))}
PER_MILLION = Decimal(1_000_000)
MESSAGES = [{"role": "user", "content": "count me"}]


def expected_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    rate_in, rate_out = RATES[model]
    return (input_tokens * rate_in + output_tokens * rate_out) / PER_MILLION


class Books:
    """What the clients asked for, per tracking id: calls, tokens, exact cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tallies: dict[str, Tally] = defaultdict(Tally)
        self.cost: dict[str, Decimal] = defaultdict(Decimal)

    def add(self, tracking_id: str, number: int, embeddings: bool) -> None:
        input_tokens, output_tokens = usage_for(number, embeddings)
        cost = expected_cost(EMBED_MODEL if embeddings else CHAT_MODEL, input_tokens, output_tokens)
        with self._lock:
            tally = self.tallies[tracking_id]
            tally.calls += 1
            tally.input_tokens += input_tokens
            tally.output_tokens += output_tokens
            self.cost[tracking_id] += cost


@pytest.fixture
def server() -> Iterator[LoadServer]:
    with LoadServer.running() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    default_sink().reset()  # the process-wide summary: only this run's calls
    yield
    set_budgets([])
    default_sink().reset()


@pytest.fixture(autouse=True)
def load_prices() -> Iterator[None]:
    tokentrace.set_prices(
        [
            {"model": model, "input": str(rate_in), "output": str(rate_out)}
            for model, (rate_in, rate_out) in RATES.items()
        ]
    )
    yield
    tokentrace.set_prices([])


def _thread_calls(base_url: str, index: int, books: Books, failures: list[BaseException]) -> None:
    tracking_id = f"team-{index % 8}"
    client = openai.OpenAI(base_url=base_url, api_key="sk-load-test", max_retries=0)
    session = requests.Session()
    try:
        with tokentrace.track(tracking_id):
            for offset in range(CALLS_PER_THREAD):
                number = index * CALLS_PER_THREAD + offset
                user = f"{tracking_id}:{number}"
                kind = number % 4
                if kind == 0:
                    reply = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, user=user)
                    assert reply.usage is not None
                elif kind == 1:
                    stream = client.chat.completions.create(
                        model=CHAT_MODEL,
                        messages=MESSAGES,
                        user=user,
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                    assert sum(1 for _ in stream) == 7
                elif kind == 2:
                    client.embeddings.create(model=EMBED_MODEL, input="count me", user=user)
                else:
                    response = session.post(
                        f"{base_url}/chat/completions",
                        json={"model": CHAT_MODEL, "messages": MESSAGES, "user": user},
                        headers={"Authorization": "Bearer sk-load-test"},
                    )
                    assert response.json()["usage"]["prompt_tokens"] > 0
                books.add(tracking_id, number, embeddings=kind == 2)
    except BaseException as exc:  # the test reports it; a thread would swallow it
        failures.append(exc)
    finally:
        session.close()
        client.close()


async def _task_calls(
    base_url: str,
    index: int,
    client: openai.AsyncOpenAI,
    plain: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    books: Books,
) -> None:
    tracking_id = f"task-{index % 12}"
    async with tokentrace.track(tracking_id):
        for offset in range(CALLS_PER_TASK):
            number = THREADS * CALLS_PER_THREAD + index * CALLS_PER_TASK + offset
            user = f"{tracking_id}:{number}"
            kind = number % 4
            async with gate:
                if kind == 0:
                    await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, user=user)
                elif kind == 1:
                    stream = await client.chat.completions.create(
                        model=CHAT_MODEL,
                        messages=MESSAGES,
                        user=user,
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                    assert len([chunk async for chunk in stream]) == 7
                elif kind == 2:
                    await client.embeddings.create(model=EMBED_MODEL, input="count me", user=user)
                else:
                    response = await plain.post(
                        f"{base_url}/chat/completions",
                        json={"model": CHAT_MODEL, "messages": MESSAGES, "user": user},
                        headers={"Authorization": "Bearer sk-load-test"},
                    )
                    assert response.json()["usage"]["prompt_tokens"] > 0
            books.add(tracking_id, number, embeddings=kind == 2)


async def _all_tasks(base_url: str, books: Books) -> None:
    gate = asyncio.Semaphore(CONCURRENT_TASK_CALLS)
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-load-test", max_retries=0)
    async with httpx.AsyncClient() as plain:
        await asyncio.gather(*(_task_calls(base_url, i, client, plain, gate, books) for i in range(TASKS)))
    await client.close()


def _points(telemetry: Telemetry, name: str) -> list[Any]:
    return telemetry.metrics().get(name, [])


def test_twenty_thousand_mixed_calls_add_up_exactly(
    instrument: Any, telemetry: Telemetry, server: LoadServer, tmp_path: Path
) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    budget = tokentrace.Budget(limit_usd=1_000_000, window="day")
    instrumentor = instrument(ledger=str(ledger_path), budgets=[budget])
    books = Books()
    failures: list[BaseException] = []

    started = time.perf_counter()
    threads = [
        threading.Thread(target=_thread_calls, args=(server.base_url, i, books, failures))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    asyncio.run(_all_tasks(server.base_url, books))
    for thread in threads:
        thread.join(600)
    wall = time.perf_counter() - started
    assert not failures, failures[:3]
    assert instrumentor.ledger.flush(timeout=60)

    expected = books.tallies
    assert sum(t.calls for t in expected.values()) == TOTAL
    # The server's books and the clients' books agree: every call reached it exactly once.
    assert server.tallies == expected

    # Spans: one per call, none lost, none twice.
    spans = [s for s in telemetry.spans() if (s.attributes or {}).get("gen_ai.operation.name")]
    assert len(spans) == TOTAL
    assert len({s.context.span_id for s in spans}) == TOTAL
    span_tokens: dict[str, Counter[str]] = defaultdict(Counter)
    for span in spans:
        attributes = span.attributes or {}
        counter = span_tokens[str(attributes["tokentrace.tracking_id"])]
        counter["calls"] += 1
        counter["input"] += int(attributes["gen_ai.usage.input_tokens"])  # type: ignore[arg-type]
        counter["output"] += int(attributes.get("gen_ai.usage.output_tokens", 0))  # type: ignore[arg-type]
    for tracking_id, tally in expected.items():
        assert span_tokens[tracking_id] == Counter(
            calls=tally.calls, input=tally.input_tokens, output=tally.output_tokens
        ), tracking_id

    # Metrics: token histogram sums, call counts and the cost counter, per tracking id.
    tokens: dict[tuple[str, str], float] = defaultdict(float)
    for point in _points(telemetry, "gen_ai.client.token.usage"):
        tokens[(point.attributes["tokentrace.tracking_id"], point.attributes["gen_ai.token.type"])] += (
            point.sum
        )
    durations: Counter[str] = Counter()
    for point in _points(telemetry, "gen_ai.client.operation.duration"):
        durations[point.attributes["tokentrace.tracking_id"]] += point.count
    costs: dict[str, float] = defaultdict(float)
    for point in _points(telemetry, "gen_ai.client.cost"):
        costs[point.attributes["tokentrace.tracking_id"]] += point.value
    for tracking_id, tally in expected.items():
        assert tokens[(tracking_id, "input")] == tally.input_tokens
        assert tokens[(tracking_id, "output")] == tally.output_tokens
        assert durations[tracking_id] == tally.calls
        assert costs[tracking_id] == pytest.approx(float(books.cost[tracking_id]), rel=1e-9)
    assert "tokentrace.calls.cost_unknown" not in telemetry.metrics()

    # The in-process summary: exact tokens and exact decimal cost.
    summary = {group.key[0]: group for group in tokentrace.summary(by=("tracking_id",))}
    for tracking_id, tally in expected.items():
        group = summary[tracking_id]
        assert (group.requests, group.input_tokens, group.output_tokens) == (
            tally.calls,
            tally.input_tokens,
            tally.output_tokens,
        )
        assert group.cost == books.cost[tracking_id]
        assert (group.errors, group.timeouts, group.unknown_cost_calls) == (0, 0, 0)

    # The ledger: one row per call, exact sums.
    rows = list(read_calls(ledger_path))
    assert len(rows) == TOTAL
    assert len({row.span_id for row in rows}) == TOTAL
    ledger: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for row in rows:
        entry = ledger[str(row.tracking_id)]
        entry[0] += 1
        entry[1] += row.input_tokens or 0
        entry[2] += row.output_tokens or 0
        entry[3] += row.cost
    for tracking_id, tally in expected.items():
        assert ledger[tracking_id] == [
            tally.calls,
            tally.input_tokens,
            tally.output_tokens,
            books.cost[tracking_id],
        ]

    # The budget was charged every call's exact cost.
    total_cost = sum(books.cost.values(), Decimal(0))
    (state,) = tokentrace.budget_states()
    assert state.spent == total_cost

    print(
        f"\nload: {TOTAL} calls ({THREADS} threads x {CALLS_PER_THREAD}, {TASKS} tasks x {CALLS_PER_TASK}) "
        f"in {wall:.1f} s ({TOTAL / wall:.0f} calls/s); {len(expected)} tracking ids; "
        f"{sum(t.input_tokens for t in expected.values())} input and "
        f"{sum(t.output_tokens for t in expected.values())} output tokens; ${total_cost} "
        "- equal in spans, metrics, summary, ledger and budget"
    )
