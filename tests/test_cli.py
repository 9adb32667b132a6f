"""The command line, through ``main(argv)``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tokentrace.cli import main

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
