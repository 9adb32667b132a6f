"""Checks a parsed price file and turns it into overrides, collecting every problem with its line.

The parsers (TOML, YAML) live in `files`; this module sees plain dicts and lists plus a locator
that knows on which line a section, an entry or a key was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from tokentrace.pricing.overrides import PriceOverride, as_date, as_price
from tokentrace.pricing.rates import RateTier

__all__ = ["Locator", "Problem", "build_overrides"]

PRICE_KEYS = ("input", "output", "cache_read", "cache_write", "reasoning", "request")
_TIER_PRICE_KEYS = ("input", "output", "cache_read", "cache_write", "reasoning")
_ALLOWED: dict[str, tuple[str, ...]] = {
    "": ("price", "deployment", "defaults"),
    "defaults": ("provider", "date"),
    "price": ("model", "provider", *PRICE_KEYS, "date", "tiers"),
    "tiers": ("above", *_TIER_PRICE_KEYS),
    "deployment": ("name", "model", "provider"),
}
# Names people reach for from other price tables; suggested when the close-match search misses.
_SYNONYMS = {
    "prompt": "input",
    "input_price": "input",
    "completion": "output",
    "output_price": "output",
    "cached_input": "cache_read",
    "cached": "cache_read",
    "cache_creation": "cache_write",
    "thinking": "reasoning",
    "per_request": "request",
    "threshold": "above",
    "target": "model",
    "deployment_of": "model",
}


@dataclass(frozen=True)
class Problem:
    line: Optional[int]
    where: str
    message: str


class Locator(Protocol):
    """Where things were written in the file (1-based lines; ``None`` when it cannot tell)."""

    def section(self, name: str) -> int | None: ...

    def entry(self, section: str, index: int | None) -> int | None: ...

    def key(self, section: str, index: int | None, key: str) -> int | None: ...


def suggest(key: str, allowed: tuple[str, ...]) -> str:
    guess = _SYNONYMS.get(key.lower())
    if guess not in allowed:
        import difflib  # only a misspelt key needs it

        close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
        guess = close[0] if close else None
    return f'; did you mean "{guess}"?' if guess else f"; allowed keys: {', '.join(allowed)}"


class _Checker:
    def __init__(self, source: str, locate: Locator) -> None:
        self.source = source
        self.locate = locate
        self.problems: list[Problem] = []

    def fail(self, line: int | None, where: str, message: str) -> None:
        self.problems.append(Problem(line, where, message))

    def table(self, value: object, line: int | None, where: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(line, where, f"expected a table of keys, got {value!r}")
        return None

    def unknown_keys(
        self, table: Mapping[Any, Any], kind: str, section: str, index: int | None, where: str
    ) -> None:
        allowed = _ALLOWED[kind]
        for key in table:
            if key in allowed:
                continue
            if not section:  # top level: the key is itself a section of the file
                self.fail(
                    self.locate.section(str(key)), "", f'unknown section "{key}"{suggest(str(key), allowed)}'
                )
                continue
            line = self.locate.key(section, index, str(key)) or self.locate.entry(section, index)
            self.fail(line, where, f'unknown key "{key}"{suggest(str(key), allowed)}')

    def text(
        self, table: Mapping[str, Any], key: str, section: str, index: int | None, where: str
    ) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.fail(
            self.locate.key(section, index, key), where, f"{key}: expected a non-empty string, got {value!r}"
        )
        return None

    def price(self, table: Mapping[str, Any], key: str, line: int | None, where: str) -> Any:
        try:
            return as_price(table[key])
        except ValueError as error:
            self.fail(line, where, f"{key}: {error}")
            return None

    def date(self, value: object, line: int | None, where: str) -> str | None:
        try:
            return as_date(value)
        except ValueError as error:
            self.fail(line, where, f"date: {error}")
            return None


def _describe(section: str, index: int, table: Mapping[str, Any] | None) -> str:
    where = f"{section} #{index + 1}"
    name = table.get("model" if section == "price" else "name") if table is not None else None
    return f'{where} ("{name}")' if isinstance(name, str) else where


def _entries(check: _Checker, data: Mapping[str, Any], section: str) -> list[Any]:
    value = data.get(section, [])
    if isinstance(value, list):
        return value
    check.fail(check.locate.section(section), section, f"expected a list of {section} entries")
    return []


def build_overrides(data: object, source: str, locate: Locator) -> tuple[list[PriceOverride], list[Problem]]:
    """Overrides from a parsed file, or the problems that stop it from loading (never a partial load)."""
    check = _Checker(source, locate)
    root = check.table(data, None, "file")
    if root is None:
        return [], check.problems
    check.unknown_keys(root, "", "", None, "file")
    default_provider, default_date = _defaults(check, root)
    overrides: list[PriceOverride] = []
    seen: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(_entries(check, root, "price")):
        override = _price(check, raw, index, default_provider, default_date, seen)
        if override is not None:
            overrides.append(override)
    aliases: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(_entries(check, root, "deployment")):
        override = _deployment(check, raw, index, default_provider, seen)
        if override is not None and override.deployment_of is not None:
            overrides.append(override)
            aliases[((override.provider or "").lower(), override.model.lower())] = override.deployment_of
    _check_loops(check, aliases)
    return (overrides if not check.problems else []), check.problems


def _defaults(check: _Checker, root: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if "defaults" not in root:
        return None, None
    table = check.table(root["defaults"], check.locate.section("defaults"), "defaults")
    if table is None:
        return None, None
    check.unknown_keys(table, "defaults", "defaults", None, "defaults")
    provider = check.text(table, "provider", "defaults", None, "defaults")
    day = None
    if "date" in table:
        day = check.date(table["date"], check.locate.key("defaults", None, "date"), "defaults")
    return provider, day


def _price(
    check: _Checker,
    raw: object,
    index: int,
    default_provider: str | None,
    default_date: str | None,
    seen: dict[tuple[str, str], str],
) -> PriceOverride | None:
    locate = check.locate
    table = raw if isinstance(raw, Mapping) else None
    where = _describe("price", index, table)
    table = check.table(raw, locate.entry("price", index), where)
    if table is None:
        return None
    before = len(check.problems)
    check.unknown_keys(table, "price", "price", index, where)
    model = check.text(table, "model", "price", index, where)
    if model is None and "model" not in table:
        check.fail(
            locate.entry("price", index), where, 'missing "model" (the model name or pattern it prices)'
        )
    provider = check.text(table, "provider", "price", index, where) or default_provider
    prices: dict[str, Any] = {}
    for key in PRICE_KEYS:
        if key in table:
            prices[key] = check.price(table, key, locate.key("price", index, key), where)
    for key in ("input", "output"):
        if key not in table:
            check.fail(locate.entry("price", index), where, f'missing "{key}" (USD per 1M tokens)')
    day = default_date
    if "date" in table:
        day = check.date(table["date"], locate.key("price", index, "date"), where)
    tiers = _tiers(check, table.get("tiers", []), index, where)
    if model is not None:
        identity = ((provider or "").lower(), model.lower())
        if identity in seen:
            check.fail(
                locate.entry("price", index), where, f"prices the same model and provider as {seen[identity]}"
            )
        seen[identity] = where
    if len(check.problems) > before or model is None:
        return None
    try:
        return PriceOverride(
            model=model, provider=provider, tiers=tiers, date=day, source=f"override:{check.source}", **prices
        )
    except ValueError as error:
        check.fail(locate.entry("price", index), where, str(error))
        return None


def _tiers(check: _Checker, raw: object, index: int, where: str) -> tuple[RateTier, ...]:
    line = check.locate.key("price", index, "tiers") or check.locate.entry("price", index)
    if not isinstance(raw, list):
        check.fail(
            line, where, "tiers: expected a list of tables like { above = 200000, input = 1, output = 2 }"
        )
        return ()
    tiers: list[RateTier] = []
    for number, item in enumerate(raw, start=1):
        tier_where = f"{where} tier {number}"
        table = check.table(item, line, tier_where)
        if table is None:
            continue
        check.unknown_keys(table, "tiers", "price", index, tier_where)
        above = table.get("above")
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            check.fail(
                line, tier_where, f'"above" must be a whole number of prompt tokens >= 0, got {above!r}'
            )
            continue
        prices = {key: check.price(table, key, line, tier_where) for key in _TIER_PRICE_KEYS if key in table}
        if "input" not in table or "output" not in table:
            check.fail(line, tier_where, 'a tier needs both "input" and "output"')
        elif None not in prices.values():
            tiers.append(RateTier(above=above, **prices))
    if len({tier.above for tier in tiers}) != len(tiers):
        check.fail(line, where, "two tiers start above the same number of tokens")
    return tuple(tiers)


def _deployment(
    check: _Checker, raw: object, index: int, default_provider: str | None, seen: dict[tuple[str, str], str]
) -> PriceOverride | None:
    locate = check.locate
    table = raw if isinstance(raw, Mapping) else None
    where = _describe("deployment", index, table)
    table = check.table(raw, locate.entry("deployment", index), where)
    if table is None:
        return None
    before = len(check.problems)
    check.unknown_keys(table, "deployment", "deployment", index, where)
    name = check.text(table, "name", "deployment", index, where)
    target = check.text(table, "model", "deployment", index, where)
    for key, value in (("name", name), ("model", target)):
        if value is None and key not in table:
            what = "the deployment name calls use" if key == "name" else "the model it runs"
            check.fail(locate.entry("deployment", index), where, f'missing "{key}" ({what})')
    provider = check.text(table, "provider", "deployment", index, where) or default_provider
    if name is not None:
        identity = ((provider or "").lower(), name.lower())
        if identity in seen:
            check.fail(
                locate.entry("deployment", index), where, f"{name!r} is already named by {seen[identity]}"
            )
        seen[identity] = where
    if len(check.problems) > before or name is None or target is None:
        return None
    return PriceOverride(
        model=name, provider=provider, deployment_of=target, source=f"override:{check.source}"
    )


def _check_loops(check: _Checker, aliases: dict[tuple[str, str], str]) -> None:
    for (provider, name), _target in aliases.items():
        chain = [name]
        current = name
        while (provider, current) in aliases:
            current = aliases[(provider, current)].lower()
            if current == name:
                line = check.locate.section("deployment")
                check.fail(line, "deployment", f"deployments form a loop: {' -> '.join([*chain, name])}")
                return
            if current in chain:
                break
            chain.append(current)
