"""The tracking id follows the work: into thread pools, along the OpenTelemetry context, in baggage.

``litellm.batch_completion`` and ``dspy.Parallel`` run their calls on a ``ThreadPoolExecutor``; so
do an app's own pools and ``loop.run_in_executor``. Python runs pool work in the worker's own
context, so without tokentrace's help the calls lose the tracking id of the ``track()`` they were
submitted from. Every call here is a real openai SDK call over an in-process transport.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client
from tokentrace.tracking import current_path

MESSAGES = [{"role": "user", "content": "hi"}]
ORIGINAL_SUBMIT = ThreadPoolExecutor.submit


def client(async_: bool = False) -> Any:
    return make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())), async_=async_)


def tracking_ids(telemetry: Telemetry) -> list[str | None]:
    return [
        None if (value := dict(span.attributes or {}).get("tokentrace.tracking_id")) is None else str(value)
        for span in telemetry.spans()
    ]


def call(sdk: Any) -> str:
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    return "done"


def pool_work(sdk: Any) -> None:
    """What batch_completion and dspy.Parallel do: submit and map on a ThreadPoolExecutor."""
    with tokentrace.track("batch"), ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(call, sdk) for _ in range(3)]
        assert [f.result() for f in futures] == ["done"] * 3
        assert list(pool.map(call, [sdk] * 3)) == ["done"] * 3


async def executor_work(sdk: Any) -> None:
    loop = asyncio.get_running_loop()
    async with tokentrace.track("async-batch"):
        await asyncio.gather(*(loop.run_in_executor(None, call, sdk) for _ in range(2)))
        with ThreadPoolExecutor(max_workers=2) as pool:
            await asyncio.gather(*(loop.run_in_executor(pool, call, sdk) for _ in range(2)))


def test_pool_work_submitted_inside_track_carries_the_tracking_id(
    instrument: Any, telemetry: Telemetry
) -> None:
    instrument()
    pool_work(client())
    assert tracking_ids(telemetry) == ["batch"] * 6


def test_run_in_executor_inside_track_carries_the_tracking_id(instrument: Any, telemetry: Telemetry) -> None:
    instrument()
    asyncio.run(executor_work(client()))
    assert tracking_ids(telemetry) == ["async-batch"] * 4


def test_the_span_around_the_submit_is_the_parent_in_the_pool(instrument: Any, telemetry: Telemetry) -> None:
    instrument()
    tracer = telemetry.tracer_provider.get_tracer("app")
    sdk = client()
    with (
        tokentrace.track("batch"),
        tracer.start_as_current_span("handle request") as parent,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        pool.submit(call, sdk).result()
    llm = next(span for span in telemetry.spans() if span.name.startswith("chat"))
    assert llm.parent is not None
    assert llm.parent.span_id == parent.get_span_context().span_id


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_with_the_setting_off_pools_run_as_python_runs_them(
    instrument: Any, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "argument":
        instrument(pool_context=False)
    else:
        monkeypatch.setenv("TOKENTRACE_POOL_CONTEXT", "off")
        instrument()
    assert ThreadPoolExecutor.submit is ORIGINAL_SUBMIT
    sdk = client()
    pool_work(sdk)
    asyncio.run(executor_work(sdk))
    assert tracking_ids(telemetry) == [None] * 10


def test_untracked_submits_keep_the_workers_own_context(instrumented: Telemetry) -> None:
    mark: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="worker's own")
    mark.set("submitter's")
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(mark.get).result() == "worker's own"
        with tokentrace.track("x"):
            assert pool.submit(mark.get).result() == "submitter's"  # the whole context, as asyncio
            assert pool.submit(current_path).result() == ("x",)


def test_the_patch_keeps_the_class_and_signature_and_uninstrument_restores_it(instrument: Any) -> None:
    signature = inspect.signature(ORIGINAL_SUBMIT)
    instrument()
    assert ThreadPoolExecutor.submit is not ORIGINAL_SUBMIT
    assert inspect.signature(ThreadPoolExecutor.submit) == signature

    class Pool(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            return super().submit(fn, *args, **kwargs)

    with Pool(max_workers=1) as pool, tokentrace.track("sub"):
        assert isinstance(pool, ThreadPoolExecutor)
        assert pool.submit(current_path).result() == ("sub",)
        assert ThreadPoolExecutor.submit(pool, current_path).result() == ("sub",)
        with pytest.raises(TypeError):
            pool.submit()  # type: ignore[call-arg]  # the original's own error
    tokentrace.uninstrument()
    assert ThreadPoolExecutor.submit is ORIGINAL_SUBMIT
    with ThreadPoolExecutor(max_workers=1) as plain, tokentrace.track("after"):
        assert plain.submit(current_path).result() == ()


def test_the_tracking_path_travels_in_the_opentelemetry_context(instrumented: Telemetry) -> None:
    # What opentelemetry-instrumentation-threading does for a thread: take the submitter's
    # OpenTelemetry context along and attach it in the worker, nothing else.
    sdk = client()
    seen: list[tuple[str, ...]] = []

    def worker(carried: otel_context.Context) -> None:
        token = otel_context.attach(carried)
        try:
            seen.append(current_path())
            call(sdk)
            with tokentrace.track("inner"):
                call(sdk)
        finally:
            otel_context.detach(token)

    with tokentrace.track("outer"), tokentrace.track("job"):
        thread = threading.Thread(target=worker, args=(otel_context.get_current(),))
        thread.start()
        thread.join()
    assert seen == [("outer", "job")]
    plain, nested = (dict(span.attributes or {}) for span in instrumented.spans())
    assert plain["tokentrace.tracking_id"] == "job"
    assert plain["tokentrace.tracking_path"] == ("outer", "job")
    assert nested["tokentrace.tracking_path"] == ("outer", "job", "inner")
    assert otel_context.get_current() == otel_context.Context()  # track() left nothing attached


def test_baggage_takes_the_tracking_id_downstream_when_asked(instrument: Any, telemetry: Telemetry) -> None:
    instrument(tracking_baggage=True)
    headers: dict[str, str] = {}
    with tokentrace.track("checkout"), tokentrace.track("summary"):
        assert baggage.get_baggage("tokentrace.tracking_id") == "summary"
        W3CBaggagePropagator().inject(headers)  # what an instrumented HTTP client sends
    assert headers == {"baggage": "tokentrace.tracking_id=summary"}
    assert baggage.get_baggage("tokentrace.tracking_id") is None

    # The service downstream: its server instrumentation extracts the headers into its context.
    token = otel_context.attach(W3CBaggagePropagator().extract(headers))
    try:
        assert current_path() == ("summary",)
        call(client())
    finally:
        otel_context.detach(token)
    assert tracking_ids(telemetry) == ["summary"]


def test_baggage_stays_out_unless_asked(instrument: Any, telemetry: Telemetry) -> None:
    instrument()
    headers: dict[str, str] = {}
    with tokentrace.track("checkout"):
        W3CBaggagePropagator().inject(headers)
    assert headers == {}
    token = otel_context.attach(baggage.set_baggage("tokentrace.tracking_id", "from-upstream"))
    try:
        call(client())
    finally:
        otel_context.detach(token)
    assert tracking_ids(telemetry) == [None]


def test_an_id_from_upstream_baggage_is_cut_like_any_other(instrument: Any, telemetry: Telemetry) -> None:
    instrument(tracking_baggage=True)
    token = otel_context.attach(baggage.set_baggage("tokentrace.tracking_id", "x" * 500))
    try:
        call(client())
    finally:
        otel_context.detach(token)
    assert tracking_ids(telemetry) == ["x" * 128]


def test_nothing_goes_into_the_opentelemetry_context_while_not_instrumented() -> None:
    with tokentrace.track("x"):
        assert current_path() == ("x",)
        assert otel_context.get_current() == otel_context.Context()
    assert trace.get_current_span() is trace.INVALID_SPAN
