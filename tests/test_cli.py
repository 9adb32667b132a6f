"""The command line, through ``main(argv)``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ledger._helpers import record
from tokentrace.cli import main
from tokentrace.ledger import LedgerSink

SEED = Path(__file__).parent.parent / "examples" / "prices-seed.toml"


def test_prices_shows_list_price_and_source(capsys: Any) -> None:
    assert main(["prices", "gpt-4.1", "--provider", "openai"]) == 0
    out = capsys.readouterr().out
    assert "openai/gpt-4.1" in out
    assert "genai-prices" in out
    assert "input         2" in out
    assert "output        8" in out


def test_prices_with_override_file(capsys: Any) -> None:
    assert main(["prices", "deepseek-v3.2", "--provider", "gateway.example.com", "--prices", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "0.42" in out
    assert "prices-seed.toml" in out


def test_prices_unknown_model_says_so(capsys: Any) -> None:
    assert main(["prices", "no-such-model-anywhere"]) == 0
    assert "no price known" in capsys.readouterr().out


def test_prices_bad_file_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[[price]]\nmodel = 'x'\ninptu = 1\n")
    assert main(["prices", "x", "--prices", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "p.toml" in err
    assert "inptu" in err


# What `tokentrace report` and `tokentrace prices` must never load: they read price data and
# ledgers, so neither the patches, the telemetry rooms, wrapt, OpenTelemetry nor the SDK they patch.
_NOT_FOR_THE_CLI = ("tokentrace.patches", "tokentrace.telemetry", "opentelemetry", "wrapt", "openai")

# Makes `import openai` / `import requests` fail in a child process as if they were not installed.
_HIDE_MODULES = """
import sys

class _NotInstalled:
    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled(set(sys.argv[1].split(","))))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def small_ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(record(timestamp=time.time() - 60))
        sink(record(timestamp=time.time() - 30, tracking_id="support-bot", tracking_path=("support-bot",)))
    return path


@pytest.mark.parametrize(
    "argv",
    [["report", "--ledger", "LEDGER"], ["prices", "gpt-4.1"]],
    ids=["report", "prices"],
)
def test_report_and_prices_load_nothing_of_the_instrumentation(small_ledger: Path, argv: list[str]) -> None:
    argv = [str(small_ledger) if arg == "LEDGER" else arg for arg in argv]
    code = (
        "import sys\n"
        "import tokentrace.cli\n"
        f"code = tokentrace.cli.main({argv!r})\n"
        f"loaded = sorted(m for m in sys.modules if m.partition('.')[0] in {_NOT_FOR_THE_CLI!r} "
        f"or m.startswith({_NOT_FOR_THE_CLI!r}))\n"
        "print('LOADED', loaded)\n"
        "raise SystemExit(code)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout.splitlines()[-1]


@pytest.mark.parametrize("hidden", ["openai", "requests", "openai,requests"])
def test_demo_without_its_extra_says_how_to_install_it(hidden: str) -> None:
    code = _HIDE_MODULES + "from tokentrace.cli import main\nraise SystemExit(main(['demo']))\n"
    result = _python(code, hidden)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"tokentrace: the demo needs {hidden.partition(',')[0]}, which is not installed: "
        "pip install 'tokentrace[demo]'"
    ]


def test_demo_prints_its_report_to_its_stream_without_the_cli(tmp_path: Path) -> None:
    code = (
        "import io, sys\n"
        "from tokentrace.demo import run_demo\n"
        "out = io.StringIO()\n"
        f"assert run_demo(out=out, keep={str(tmp_path)!r}) == 0\n"
        "assert 'tokentrace.cli' not in sys.modules, 'the demo imported the CLI'\n"
        "sys.stderr.write(out.getvalue())\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # everything went to the stream it was given
    assert "By tracking id" in result.stderr
    assert "By model" in result.stderr
    assert f"tokentrace report --ledger {tmp_path / 'ledger.sqlite3'}" in result.stderr


@pytest.mark.parametrize("spelling", ["tracking_id", "tracking-id"])
def test_report_by_tracking_id_either_spelling(
    small_ledger: Path, spelling: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--ledger", str(small_ledger), "--format", "json", "--by", spelling]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["by"] == "tracking_id"
    assert [group["key"] for group in document["groups"]] == ["checkout-summary", "support-bot"]


def test_report_help_names_the_canonical_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "tracking_id" in out
    assert "tracking-id" not in out


def test_an_unknown_breakdown_is_refused(small_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--ledger", str(small_ledger), "--by", "tenant"])
    assert exit_.value.code == 2
    assert "tracking_id" in capsys.readouterr().err
