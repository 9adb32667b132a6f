"""The text behind ``tokentrace prices MODEL``: rates, where they came from, and since when."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tokentrace.pricing import PriceBook, PriceOverride, describe, load_price_file

from ._helpers import PEAK, clock_at


def test_list_price_with_entry_source_and_tiers() -> None:
    text = describe("gcp.gemini", "gemini-2.5-pro", PriceBook(clock=clock_at(PEAK)))
    assert text.startswith("gemini-2.5-pro at gcp.gemini\n")
    assert "price entry   google/gemini-2.5-pro (genai-prices " in text
    assert "    input         1.25\n" in text
    assert "    output        10\n" in text
    assert "    cache write   1.25 (as input)" in text
    assert "above 200,000 prompt tokens" in text


def test_dated_price_shows_its_date() -> None:
    text = describe("openai", "o3", PriceBook(clock=clock_at(PEAK)))
    assert "valid from    2025-06-10" in text


def test_time_of_day_price_says_until_when() -> None:
    text = describe("deepseek", "deepseek-chat", PriceBook(clock=clock_at(PEAK)))
    assert "    input         0.27\n" in text
    assert "applies until 2026-11-23 16:30 UTC" in text


def test_guessed_provider_is_admitted() -> None:
    text = describe(None, "gpt-4.1", PriceBook(clock=clock_at(PEAK)))
    assert "openai/gpt-4.1" in text
    assert "provider guessed from the host or model name" in text


def test_override_from_a_file_and_deployment_alias(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[[price]]\nmodel = "gpt-4.1"\ninput = 1.80\noutput = 7.2\ndate = 2026-11-01\n\n'
        '[[deployment]]\nname = "prod-chat"\nmodel = "gpt-4.1"\n',
        encoding="utf-8",
    )
    text = describe("azure.ai.openai", "prod-chat", PriceBook(load_price_file(path)))
    assert f"prod-chat is a deployment of gpt-4.1 (override:{path})" in text
    assert f"price entry   gpt-4.1 (override:{path})" in text
    assert "valid from    2026-11-01" in text
    assert "    input         1.8\n" in text


def test_unpriced_model_shows_how_to_price_it() -> None:
    book = PriceBook([PriceOverride("other", input=Decimal(1), output=Decimal(1))], genai_prices=False)
    text = describe("my-gateway.example.com", "house-llm", book)
    assert "no price known" in text
    assert 'model = "house-llm"' in text
    assert 'provider = "my-gateway.example.com"' in text
