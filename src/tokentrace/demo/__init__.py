"""``tokentrace demo``: the whole product on one machine, with no API key and no network.

Starts the local OpenAI-compatible server (``tokentrace.demo.server``, standard library only) on
127.0.0.1, instruments the process, runs a small workload through the real openai SDK and plain
``requests`` (OpenAI-compatible, Gemini and Anthropic Messages calls) under two tracking ids, lets a daily budget trip, writes a ledger in a temporary folder
and prints the report from it. The SDK and ``requests`` come with the ``demo`` extra; without them
``run_demo`` raises ``DemoUnavailableError`` before doing anything.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

__all__ = ["INSTALL_HINT", "DemoUnavailableError", "run_demo"]

INSTALL_HINT = "pip install 'tokentrace[demo]'"


class DemoUnavailableError(RuntimeError):
    """What the demo needs beyond tokentrace's own dependencies is not installed."""


QUESTIONS = (
    "My order 1042 has not arrived yet, what can I do?",
    "Can I change the delivery address of an order that already shipped?",
    "How do I get a refund for a damaged item?",
    "Do you deliver to Da Nang on weekends?",
    "Why was my card charged twice for one order?",
)
SUPPORT_BUDGET_USD = "0.0003"


def run_demo(out: TextIO = sys.stdout, keep: str | None = None) -> int:
    """Run the demo; ``keep`` names a folder to keep the ledger in (default: a temporary one).

    Raises ``DemoUnavailableError`` when the ``demo`` extra is not installed.
    """
    try:
        import openai
        import requests
    except ImportError as exc:
        raise DemoUnavailableError(
            f"the demo needs {exc.name or 'a module'}, which is not installed: {INSTALL_HINT}"
        ) from exc
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    import tokentrace
    from tokentrace import names
    from tokentrace.calls.records import CallRecord
    from tokentrace.report.command import DEFAULT_SINCE, build_report, write_report

    from .server import DevServer

    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="tokentrace-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    ledger = folder / "ledger.sqlite3"

    def show(record: CallRecord) -> None:
        if record.status == names.CALL_STATUS_REFUSED:
            print(
                f"  {record.tracking_id or '-':<15} {record.operation:<16} {record.model or '?':<26} refused by its budget",
                file=out,
            )
            return
        cost = f"${record.cost:.6f}" if record.cost is not None else "unknown"
        tokens = f"{record.input_tokens or 0:>4} in {record.output_tokens or 0:>4} out"
        print(
            f"  {record.tracking_id or '-':<15} {record.operation:<16} {record.model or '?':<26} {tokens}  {cost}",
            file=out,
        )

    with DevServer() as server:
        instrumentor = tokentrace.instrument(
            tracer_provider=TracerProvider(),
            meter_provider=MeterProvider(),
            ledger=str(ledger),
            stream_usage_hosts=["127.0.0.1"],
            budgets=[
                tokentrace.Budget(
                    limit_usd=SUPPORT_BUDGET_USD,
                    window="day",
                    tracking_id="support-bot",
                    name="support-bot daily",
                )
            ],
        )
        assert instrumentor.recorder is not None
        instrumentor.recorder.sinks.append(show)
        client = openai.OpenAI(base_url=server.base_url, api_key="no-key-needed", max_retries=0)
        print(f"local server (OpenAI-compatible, Gemini and Anthropic APIs) at {server.origin}", file=out)
        print(f"daily budget for support-bot: ${SUPPORT_BUDGET_USD}\n", file=out)
        try:
            with tokentrace.track("nightly-report"):
                requests.post(
                    f"{server.base_url}/chat/completions",
                    json={
                        "model": "deepseek-chat",
                        "messages": [{"role": "user", "content": "Summarise the day"}],
                    },
                    timeout=30,
                )
                client.embeddings.create(model="text-embedding-3-small", input=list(QUESTIONS))
                # The Gemini API (model in the path) and Anthropic's Messages API, as their SDKs send them
                late = "Which orders are late today?"
                requests.post(
                    f"{server.origin}/v1beta/models/gemini-2.5-flash:generateContent",
                    json={"contents": [{"role": "user", "parts": [{"text": late}]}]},
                    headers={"x-goog-api-key": "no-key-needed"},
                    timeout=30,
                )
                requests.post(
                    f"{server.origin}/v1/messages",
                    json={
                        "model": "claude-haiku-4-5",
                        "max_tokens": 200,
                        "messages": [{"role": "user", "content": late}],
                    },
                    headers={"x-api-key": "no-key-needed", "anthropic-version": "2023-06-01"},
                    timeout=30,
                )
            with tokentrace.track("support-bot"):
                for number, question in enumerate(QUESTIONS * 3, start=1):
                    messages: Any = [{"role": "user", "content": question}]
                    try:
                        if number % 3 == 0:
                            stream = client.chat.completions.create(
                                model="gpt-4.1", messages=messages, stream=True
                            )
                            for _chunk in stream:
                                pass
                        else:
                            client.chat.completions.create(model="gpt-4.1", messages=messages)
                    except tokentrace.BudgetExceededError as stop:
                        # the error's own message says it was refused before sending
                        print(f"\n  call {number}: {stop}\n", file=out)
                        break
        finally:
            tokentrace.uninstrument()  # flushes the ledger

    print(f"\nledger written to {ledger}\n", file=out)
    for by in ("tracking_id", "model"):
        write_report(build_report(ledger, DEFAULT_SINCE, None, by, utc=False), "table", out)
        print(file=out)
    print(f"open it again with: tokentrace report --ledger {ledger}", file=out)
    return 0
