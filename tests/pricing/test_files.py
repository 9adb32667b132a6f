"""Price files as users write them: what loads, and what each mistake looks like."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest

from tokentrace.calls.records import Usage
from tokentrace.pricing import PriceBook, PriceFileError, PriceOverride, RateTier, load_price_file

D = Decimal

FULL_TOML = """\
# prices per 1M tokens, USD
[defaults]
provider = "gw.example.com"
date = 2026-11-01

[[price]]
model = "gpt-4.1"
input = 2.00
output = 8.00
cache_read = 0.50

[[price]]
model = "house-*"
provider = "127.0.0.1"
input = "0.1"
output = 0.42
date = "2026-01-15"

[[price]]
model = "long-context"
input = 1
output = 2
tiers = [{ above = 200000, input = 2, output = 4, cache_read = 0.5 }]

[[deployment]]
name = "prod-chat"
model = "gpt-4.1"
provider = "azure.ai.openai"
"""

FULL_YAML = """\
# prices per 1M tokens, USD
defaults:
  provider: gw.example.com
  date: 2026-11-01
price:
  - model: gpt-4.1
    input: 2.00
    output: 8.00
    cache_read: 0.50
  - model: house-*
    provider: 127.0.0.1
    input: "0.1"
    output: 0.42
    date: "2026-01-15"
  - model: long-context
    input: 1
    output: 2
    tiers:
      - {above: 200000, input: 2, output: 4, cache_read: 0.5}
deployment:
  - name: prod-chat
    model: gpt-4.1
    provider: azure.ai.openai
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def expected_overrides(path: Path) -> list[PriceOverride]:
    source = f"override:{path}"
    return [
        PriceOverride(
            "gpt-4.1",
            "gw.example.com",
            D("2.00"),
            D("8.00"),
            cache_read=D("0.50"),
            date="2026-11-01",
            source=source,
        ),
        PriceOverride("house-*", "127.0.0.1", D("0.1"), D("0.42"), date="2026-01-15", source=source),
        PriceOverride(
            "long-context",
            "gw.example.com",
            D(1),
            D(2),
            tiers=(RateTier(200_000, D(2), D(4), cache_read=D("0.5")),),
            date="2026-11-01",
            source=source,
        ),
        PriceOverride("prod-chat", "azure.ai.openai", deployment_of="gpt-4.1", source=source),
    ]


def test_toml_price_file_loads_exact_decimals(tmp_path: Path) -> None:
    path = write(tmp_path, "prices.toml", FULL_TOML)
    assert load_price_file(path) == expected_overrides(path)


def test_yaml_price_file_loads_the_same(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = write(tmp_path, "prices.yaml", FULL_YAML)
    assert load_price_file(path) == expected_overrides(path)


def test_loaded_file_prices_calls(tmp_path: Path) -> None:
    path = write(tmp_path, "prices.toml", FULL_TOML)
    book = PriceBook(load_price_file(path))
    cost = book.cost("gw.example.com", Usage(input_tokens=1000, output_tokens=500), "gpt-4.1", None)
    assert cost is not None
    assert (cost.amount, cost.date) == (D("0.006"), "2026-11-01")
    rates = book.rates("127.0.0.1", "house-llm")
    assert rates is not None
    assert (rates.source, rates.entry) == (f"override:{path}", "127.0.0.1/house-*")
    deployment = book.rates("azure.ai.openai", "prod-chat")
    assert deployment is not None
    assert (
        deployment.entry == "openai/gpt-4.1"
    )  # the defaults' provider scopes the gpt-4.1 price to the gateway


def test_yaml_without_pyyaml_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    path = write(tmp_path, "prices.yml", FULL_YAML)
    with pytest.raises(PriceFileError, match=r"pip install 'tokentrace\[yaml\]'"):
        load_price_file(path)


TOML_MISTAKES = [
    pytest.param(
        """\
        [[price]]
        model = "gpt-4.1"
        input = 2
        output = 8

        [[price]]
        model = "gpt-4.1-mini"
        input = 0.4
        output = 1.6
        cache_reed = 0.1
        """,
        10,
        'price #2 ("gpt-4.1-mini"): unknown key "cache_reed"; did you mean "cache_read"?',
        id="unknown key",
    ),
    pytest.param(
        """\
        [[price]]
        model = "a"
        input = 1
        output = 1

        [[price]]
        input = 1
        output = 1
        """,
        6,
        'price #2: missing "model"',
        id="missing model",
    ),
    pytest.param(
        """\
        [[price]]
        model = "gpt-4.1"
        input = 2
        output = -8
        """,
        4,
        'price #1 ("gpt-4.1"): output: a price cannot be negative',
        id="negative price",
    ),
    pytest.param(
        """\
        [[price]]
        model = "gpt-4.1"
        input = "two dollars"
        output = 8
        """,
        3,
        "input: expected a number, got 'two dollars'",
        id="non-numeric price",
    ),
    pytest.param(
        """\
        [[price]]
        model = "gpt-4.1"
        input = 2
        output = 8
        date = "2026-13-01"
        """,
        5,
        "date: expected a date as YYYY-MM-DD, got '2026-13-01'",
        id="bad date",
    ),
    pytest.param(
        """\
        [[price]]
        model = "gpt-4.1"
        input = 2
        output = 8 dollars
        """,
        4,
        "TOML syntax error",
        id="syntax error",
    ),
    pytest.param(
        """\
        [[price]]
        model = "gpt-4.1"
        input = 2
        """,
        1,
        'missing "output"',
        id="missing output",
    ),
    pytest.param(
        """\
        [[price]]
        model = "m"
        input = 1
        output = 1

        [[price]]
        model = "M"
        input = 2
        output = 2
        """,
        6,
        'price #2 ("M"): prices the same model and provider as price #1 ("m")',
        id="duplicate",
    ),
    pytest.param(
        """\
        [[prices]]
        model = "m"
        """,
        1,
        'unknown section "prices"; did you mean "price"?',
        id="unknown section",
    ),
    pytest.param(
        """\
        [[price]]
        model = "m"
        input = 1
        output = 1

        [[price.tiers]]
        above = -5
        input = 2
        output = 2
        """,
        6,
        '"above" must be a whole number of prompt tokens >= 0',
        id="bad tier",
    ),
    pytest.param(
        """\
        [[deployment]]
        name = "prod-chat"
        """,
        1,
        'deployment #1 ("prod-chat"): missing "model"',
        id="deployment without model",
    ),
    pytest.param(
        """\
        [[deployment]]
        name = "a"
        model = "b"

        [[deployment]]
        name = "b"
        model = "a"
        """,
        1,
        "deployments form a loop: a -> b -> a",
        id="deployment loop",
    ),
]


@pytest.mark.parametrize(("text", "line", "problem"), TOML_MISTAKES)
def test_toml_mistakes_name_file_line_entry_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, "prices.toml", text)
    with pytest.raises(PriceFileError) as caught:
        load_price_file(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message
    assert problem in message
    assert caught.value.line == line
    assert caught.value.path == str(path)


YAML_MISTAKES = [
    pytest.param(
        """\
        price:
          - model: gpt-4.1
            input: 2
            output: 8
          - model: gpt-4.1-mini
            input: 0.4
            outptu: 1.6
        """,
        7,
        'price #2 ("gpt-4.1-mini"): unknown key "outptu"; did you mean "output"?',
        id="unknown key",
    ),
    pytest.param(
        """\
        price:
          - model: gpt-4.1
            input: 2
            output: -8
        """,
        4,
        "output: a price cannot be negative",
        id="negative price",
    ),
    pytest.param(
        """\
        price:
          - input: 2
            output: 8
        """,
        2,
        'price #1: missing "model"',
        id="missing model",
    ),
    pytest.param(
        """\
        price:
          - model: gpt-4.1
            input: [2
            output: 8
        """,
        4,
        "YAML syntax error",
        id="syntax error",
    ),
    pytest.param(
        """\
        price:
          - model: gpt-4.1
            input: 2
            output: 8
            date: 2026-02-30
        """,
        5,
        "date:",
        id="bad date",
    ),
]


@pytest.mark.parametrize(("text", "line", "problem"), YAML_MISTAKES)
def test_yaml_mistakes_name_file_line_entry_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    pytest.importorskip("yaml")
    path = write(tmp_path, "prices.yaml", text)
    with pytest.raises(PriceFileError) as caught:
        load_price_file(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message
    assert problem in message


def test_every_problem_is_reported_and_nothing_loads(tmp_path: Path) -> None:
    text = """\
    [[price]]
    model = "good"
    input = 1
    output = 1

    [[price]]
    model = "bad"
    input = -1
    output = "x"
    """
    path = write(tmp_path, "prices.toml", text)
    with pytest.raises(PriceFileError) as caught:
        load_price_file(path)
    assert [problem.line for problem in caught.value.problems] == [8, 9]
    assert str(caught.value).startswith(f"{path}: 2 problems, nothing loaded:")


def test_unknown_file_type_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"prices\.json: unknown file type '\.json'"):
        load_price_file(tmp_path / "prices.json")
    with pytest.raises(PriceFileError, match=r"missing\.toml: cannot read it: No such file"):
        load_price_file(tmp_path / "missing.toml")


def test_empty_file_is_no_overrides(tmp_path: Path) -> None:
    assert load_price_file(write(tmp_path, "prices.toml", "# nothing yet\n")) == []
