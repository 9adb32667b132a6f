"""Records and small subprocess programs shared by the ledger tests."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokentrace.calls.records import CallRecord

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC


def record(**changes: Any) -> CallRecord:
    """A priced, successful chat call; any field can be changed."""
    fields: dict[str, Any] = {
        "timestamp": T0,
        "duration": 0.5,
        "operation": "chat",
        "provider": "openai",
        "server_address": "api.openai.com",
        "request_model": "gpt-4.1",
        "response_model": "gpt-4.1-2025-04-14",
        "tracking_id": "checkout-summary",
        "tracking_path": ("checkout-summary",),
        "input_tokens": 1000,
        "output_tokens": 100,
        "cache_read_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "cost": Decimal("0.0028"),
        "cost_source": "local",
        "cost_unknown_reason": None,
        "error_type": None,
        "timed_out": False,
        "stream": False,
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "span_id": "b7ad6b7169203331",
    }
    fields.update(changes)
    return CallRecord(**fields)


def run_python(code: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``python -c code args`` with the test environment (src on the path, no pytest markers)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


RECORDER = """
import sys
from decimal import Decimal
from tokentrace.ledger import LedgerSink
from tokentrace.calls.records import CallRecord

path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
flush_every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
sink = LedgerSink(path, interval=0.05)
for n in range(first, first + count):
    sink(CallRecord(
        timestamp=1_790_000_000.0 + n, duration=0.25, operation="chat", provider="openai",
        server_address="api.openai.com", request_model="gpt-4.1", response_model="gpt-4.1",
        tracking_id=f"call-{n}", tracking_path=(f"call-{n}",), input_tokens=n, output_tokens=1,
        cache_read_tokens=None, cache_write_tokens=None, reasoning_tokens=None,
        cost=Decimal(n) / Decimal(10**6), cost_source="local", cost_unknown_reason=None,
        error_type=None, timed_out=False, stream=False, trace_id=None, span_id=None,
    ))
    if flush_every and (n - first + 1) % flush_every == 0:
        assert sink.flush(10)
        print(n - first + 1, flush=True)
print("done", flush=True)
"""
"""``python -c RECORDER LEDGER FIRST COUNT [FLUSH_EVERY]``: records calls FIRST.. (input_tokens = n),
printing the count committed after each flush; exits normally without flushing or closing."""
