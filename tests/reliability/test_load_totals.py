"""20,000 mixed calls from 16 threads and 1,000 asyncio tasks: every token and every cent accounted for.

The server (``_load_server``) keeps its own books of what it answered, per tracking id. After the
run, the spans, the metrics, the in-process summary, the ledger and the budget must each add up to
exactly those books: no call lost, none counted twice, no cost off by a fraction of a cent.

It checks counts and sums only, never how fast: on a busy two-core machine the 16 threads, the
event loop and the server's threads queue behind each other for the interpreter, and a call to the
test's own loopback server can wait seconds without anything being wrong. So no client here keeps
a library default timeout (the openai SDK's is 5 s to connect, httpx's 5 s for everything); each
waits up to ``LOOPBACK_TIMEOUT``, which only a server that stopped answering reaches.
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
from openai.types.chat import ChatCompletionMessageParam

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
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "count me"}]
# Each client's every wait (connect, read, write, a pooled connection): a bound for a hung server,
# not a pace. A number, not an httpx.Timeout: openai 3 runs on httpx2, whose Timeout is another type.
LOOPBACK_TIMEOUT = 300.0
HUNG_SECONDS = 600.0  # client threads or a ledger writer still busy this long after the tasks are stuck


def expected_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    rate_in, rate_out = RATES[model]
    return (input_tokens * rate_in + output_tokens * rate_out) / PER_MILLION


def plain_body(user: str) -> dict[str, Any]:
    """A chat request as plain HTTP clients send it (JSON, not the SDK's typed parameters)."""
    return {"model": CHAT_MODEL, "messages": MESSAGES, "user": user}


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
    client = openai.OpenAI(base_url=base_url, api_key="sk-load-test", max_retries=0, timeout=LOOPBACK_TIMEOUT)
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
                        json=plain_body(user),
                        headers={"Authorization": "Bearer sk-load-test"},
                        timeout=LOOPBACK_TIMEOUT,
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
                        json=plain_body(user),
                        headers={"Authorization": "Bearer sk-load-test"},
                    )
                    assert response.json()["usage"]["prompt_tokens"] > 0
            books.add(tracking_id, number, embeddings=kind == 2)


async def _all_tasks(base_url: str, books: Books) -> None:
    gate = asyncio.Semaphore(CONCURRENT_TASK_CALLS)
    async with (
        openai.AsyncOpenAI(
            base_url=base_url, api_key="sk-load-test", max_retries=0, timeout=LOOPBACK_TIMEOUT
        ) as client,
        httpx.AsyncClient(timeout=LOOPBACK_TIMEOUT) as plain,
    ):
        await asyncio.gather(*(_task_calls(base_url, i, client, plain, gate, books) for i in range(TASKS)))


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
    deadline = time.monotonic() + HUNG_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not [t.name for t in threads if t.is_alive()], "a client thread hung"
    wall = time.perf_counter() - started  # printed, never asserted
    assert not failures, failures[:3]
    assert instrumentor.ledger.flush(timeout=HUNG_SECONDS)

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
