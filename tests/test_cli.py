"""The command line, through ``main(argv)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
