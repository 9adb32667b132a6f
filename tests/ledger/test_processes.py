"""Real processes: rows survive a normal exit and a kill -9; two writers share one ledger."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.ledger._helpers import RECORDER, run_python
from tokentrace.ledger import read_calls


def test_a_normal_exit_writes_every_call(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    child = run_python(RECORDER, str(path), "0", "2500")  # exits without flush() or close()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.strip() == "done"
    assert sorted(row.input_tokens or 0 for row in read_calls(path)) == list(range(2500))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_keeps_every_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with run_python(RECORDER, str(path), "0", "10000000", "200") as child:  # closes its pipes
        assert child.stdout is not None
        committed = 0
        for line in child.stdout:
            committed = int(line)
            if committed >= 2000:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    numbers = sorted(row.input_tokens or 0 for row in read_calls(path))  # the file still opens
    assert len(numbers) >= committed
    assert numbers[:committed] == list(range(committed))  # every row flushed before the kill is there
    assert numbers == list(range(len(numbers)))  # and nothing half-written


def test_two_processes_write_one_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    writers = [run_python(RECORDER, str(path), str(first), "3000", "500") for first in (0, 100_000)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    numbers = sorted(row.input_tokens or 0 for row in read_calls(path))
    assert numbers == list(range(3000)) + list(range(100_000, 103_000))
