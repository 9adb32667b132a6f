"""Tracking ids: on every span, on metrics through a cap, across threads and tasks."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client
from tokentrace.tracking import TrackingIdCap, current_path

MESSAGES = [{"role": "user", "content": "hi"}]


def client(async_: bool = False) -> Any:
    return make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())), async_=async_)


def tracking_ids(telemetry: Telemetry) -> list[Any]:
    return sorted(str(dict(s.attributes or {}).get("tokentrace.tracking_id")) for s in telemetry.spans())


def test_context_manager_and_nesting(instrumented: Telemetry) -> None:
    sdk = client()
    with tokentrace.track("checkout"):
        sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        with tokentrace.track("summary"):
            sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    first, nested, untracked = (dict(s.attributes or {}) for s in instrumented.spans())
    assert first["tokentrace.tracking_id"] == "checkout"
    assert "tokentrace.tracking_path" not in first
    assert nested["tokentrace.tracking_id"] == "summary"
    assert nested["tokentrace.tracking_path"] == ("checkout", "summary")
    assert "tokentrace.tracking_id" not in untracked
    assert current_path() == ()


def test_decorators_sync_and_async(instrumented: Telemetry) -> None:
    sdk, async_sdk = client(), client(async_=True)

    @tokentrace.track("sync-feature")
    def sync_work() -> None:
        sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    @tokentrace.track("async-feature")
    async def async_work() -> None:
        await async_sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    sync_work()
    asyncio.run(async_work())
    assert tracking_ids(instrumented) == ["async-feature", "sync-feature"]


def test_concurrent_threads_keep_their_own_ids(instrumented: Telemetry) -> None:
    sdk = client()

    def work(i: int) -> None:
        with tokentrace.track(f"tenant-{i % 4}"):
            sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(40)))
    ids = tracking_ids(instrumented)
    assert len(ids) == 40
    assert {i: ids.count(i) for i in set(ids)} == {f"tenant-{i}": 10 for i in range(4)}


def test_threads_started_inside_inherit_through_copied_context(instrumented: Telemetry) -> None:
    sdk = client()
    with tokentrace.track("batch"), ThreadPoolExecutor(max_workers=2) as pool:
        ctx = contextvars.copy_context()
        pool.submit(ctx.run, sdk.chat.completions.create, model="gpt-4.1", messages=MESSAGES).result()
    assert tracking_ids(instrumented) == ["batch"]


async def test_concurrent_tasks(instrumented: Telemetry) -> None:
    sdk = client(async_=True)

    async def work(name: str) -> None:
        async with tokentrace.track(name):
            await asyncio.sleep(0)
            await sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    with tokentrace.track("parent"):
        await asyncio.gather(*(work(f"task-{i}") for i in range(10)))
    spans: list[dict[str, Any]] = [dict(s.attributes or {}) for s in instrumented.spans()]
    assert sorted(s["tokentrace.tracking_id"] for s in spans) == sorted(f"task-{i}" for i in range(10))
    assert all(s["tokentrace.tracking_path"][0] == "parent" for s in spans)


def test_metric_cap_reports_overflow(instrument: Any, telemetry: Telemetry) -> None:
    instrument(max_tracking_ids=2)
    sdk = client()
    for name in ("a", "b", "c", "d", "a"):
        with tokentrace.track(name):
            sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    on_metrics = {
        p.attributes["tokentrace.tracking_id"]: p.count
        for p in telemetry.metrics()["gen_ai.client.operation.duration"]
    }
    assert on_metrics == {"a": 2, "b": 1, "_OTHER": 2}
    assert tracking_ids(telemetry) == ["a", "a", "b", "c", "d"]  # spans always carry the real id


def test_metric_allow_list(instrument: Any, telemetry: Telemetry, monkeypatch: Any) -> None:
    monkeypatch.setenv("TOKENTRACE_TRACKING_IDS", "checkout, search")
    instrument()
    sdk = client()
    for name in ("checkout", "user-123", "search"):
        with tokentrace.track(name):
            sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    seen = sorted(
        p.attributes["tokentrace.tracking_id"]
        for p in telemetry.metrics()["gen_ai.client.operation.duration"]
    )
    assert seen == ["_OTHER", "checkout", "search"]


def test_cap_memory_is_bounded() -> None:
    cap = TrackingIdCap(None, 10)
    results = {cap(f"id-{i}") for i in range(10_000)}
    assert len(results) == 11
    assert len(cap._seen) == 10


def test_long_ids_are_cut_and_empty_ids_refused() -> None:
    assert len(tokentrace.track("x" * 10_000).name) == 128
    with pytest.raises(ValueError, match="non-empty"):
        tokentrace.track("")
