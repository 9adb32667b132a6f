"""genai-prices lookups saved on disk: a new process prices its first call without loading them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tokentrace.pricing import _genai, _saved

from ._helpers import OFF_PEAK, PEAK, clock_at

# Models whose lookups cover what a saved entry must carry: plain rates, cache and reasoning rates,
# prompt-size tiers, time-of-day windows (DeepSeek), a request fee (Perplexity), no price at all.
MODELS = [
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4o-mini"),
    ("openai", "o3"),
    ("gcp.gemini", "gemini-2.5-pro"),
    ("anthropic", "claude-sonnet-4-5"),
    ("deepseek", "deepseek-chat"),
    ("perplexity", "sonar"),
    ("llm.internal", "house-model-7b"),
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(_saved.ENV_PRICE_CACHE, str(tmp_path / "cache"))
    _saved._stores.clear()
    yield tmp_path / "cache"
    _saved._stores.clear()


def saved_file(folder: Path) -> Path:
    (path,) = folder.glob("genai-prices-*.json")
    return path


@pytest.mark.parametrize("moment", [PEAK, OFF_PEAK])
def test_a_saved_lookup_is_the_lookup(folder: Path, moment: str) -> None:
    now = clock_at(moment)()
    direct = {m: _genai._lookup(p, m, None, now) for p, m in MODELS}
    assert any(rates is not None and rates.tiers for rates, _, _ in direct.values())
    assert direct[("house-model-7b")][0] is None
    for provider, model in MODELS:  # first: looked up and saved
        assert _genai.lookup(provider, model, None, now) == direct[model]
    entries = json.loads(saved_file(folder).read_text())["lookups"]
    assert len(entries) == len(MODELS)
    _saved._stores.clear()  # as a new process would: read back from the file only
    for provider, model in MODELS:
        key = f"{provider}\n{model}\n"
        assert _saved.saved_lookups().get(key, now) == direct[model]  # type: ignore[union-attr]


def test_a_lookup_outside_its_window_is_looked_up_again(folder: Path) -> None:
    peak, off_peak = clock_at(PEAK)(), clock_at(OFF_PEAK)()
    at_peak = _genai.lookup("deepseek", "deepseek-chat", None, peak)
    assert at_peak[2] < math.inf  # DeepSeek's off-peak hours end the peak price's window
    at_night = _genai.lookup("deepseek", "deepseek-chat", None, off_peak)
    assert at_night == _genai._lookup("deepseek", "deepseek-chat", None, off_peak)
    assert at_night[0] != at_peak[0]
    assert not at_night[1] <= peak < at_night[2]


def test_damaged_files_and_entries_are_ignored_then_rewritten(folder: Path) -> None:
    now = time.time()
    expected = _genai._lookup("openai", "gpt-4.1", None, now)
    _genai.lookup("openai", "gpt-4.1", None, now)
    path = saved_file(folder)
    key = "openai\ngpt-4.1\n"
    damages: list[Any] = [
        "not json at all {",
        json.dumps({"format": 999, "lookups": {}}),
        json.dumps(["a", "list"]),
        json.dumps({"format": 1, "lookups": {key: [{"rates": ["x", "1"]}, None, None]}}),
        json.dumps({"format": 1, "lookups": {key: [{"rates": [None, None, None, None, None]}, None, None]}}),
        json.dumps({"format": 1, "lookups": {key: ["not", "three", "items", "long"]}}),
        json.dumps({"format": 1, "lookups": {key: [None, "soon", None]}}),
    ]
    for damage in damages:
        path.write_text(damage)
        _saved._stores.clear()
        assert _genai.lookup("openai", "gpt-4.1", None, now) == expected, damage
        _saved._stores.clear()
        assert _saved.saved_lookups().get(key, now) == expected  # type: ignore[union-attr]


def test_an_unwritable_folder_only_costs_the_saving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("where the folder should be")
    monkeypatch.setenv(_saved.ENV_PRICE_CACHE, str(blocker / "cache"))
    _saved._stores.clear()
    try:
        now = time.time()
        assert _genai.lookup("openai", "gpt-4.1", None, now) == _genai._lookup("openai", "gpt-4.1", None, now)
    finally:
        _saved._stores.clear()


def test_off_saves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_saved.ENV_PRICE_CACHE, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    _saved._stores.clear()
    assert _saved.saved_lookups() is None
    _genai.lookup("openai", "gpt-4.1", None, time.time())
    assert not list(tmp_path.rglob("*.json"))


def test_data_genai_prices_updated_at_run_time_is_never_saved_nor_answered(folder: Path) -> None:
    from genai_prices.data_snapshot import get_snapshot, set_custom_snapshot

    now = time.time()
    _genai.lookup("openai", "gpt-4.1", None, now)
    saved = saved_file(folder).read_bytes()
    set_custom_snapshot(get_snapshot())  # what UpdatePrices does with fresh data
    try:
        assert not _saved.bundled_data_in_use()
        _genai.lookup("openai", "o3", None, now)
        assert saved_file(folder).read_bytes() == saved
    finally:
        set_custom_snapshot(None)


def test_a_new_process_prices_its_first_call_without_loading_genai_prices(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from tokentrace.pricing import PriceBook
        from tokentrace.calls.records import Usage
        cost = PriceBook().cost("openai", Usage(input_tokens=1000, output_tokens=200), "gpt-4.1", None)
        print(json.dumps({"amount": str(cost.amount), "entry": cost.entry,
                          "loaded": "genai_prices" in sys.modules}))
        """
    )
    env = {**os.environ, _saved.ENV_PRICE_CACHE: str(tmp_path / "cache")}
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs[0]["loaded"] and not runs[1]["loaded"]
    assert runs[0]["amount"] == runs[1]["amount"]  # the same Decimal, digit for digit
    assert Decimal(runs[0]["amount"]) == Decimal("0.0036")  # gpt-4.1: $2 in, $8 out per 1M
    assert runs[0]["entry"] == runs[1]["entry"] == "openai/gpt-4.1"
