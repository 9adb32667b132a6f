"""Which metric and label names a PromQL expression uses, and where our PromQL lives.

A small scanner, not a full parser: it is enough for the expressions in our dashboard, alert rules
and docs (the live Prometheus checks that each of them parses). Grafana's ``$variables`` are
replaced by values Prometheus accepts before an expression is scanned or run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Grafana's built-in and our dashboard's variables, as a query would see them on a live page.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "${datasource}": "prometheus",
    "$model": ".*",
    "$tracking_id": ".*",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_NUMBER = re.compile(r"(?<![\w:])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)\w*")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_IN_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "start", "end"})


def substitute_grafana_variables(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names selected by ``expr`` (not functions, aggregations, keywords or labels)."""
    text = _without_strings(expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        rest = text[match.end() :].lstrip()
        if name.lower() in _WORDS or rest.startswith("("):
            continue
        names.add(name)
    return names


def label_names(expr: str) -> set[str]:
    """Label names ``expr`` matches on or groups by (``le`` included)."""
    text = _without_strings(expr)
    labels: set[str] = set()
    for block in _MATCHERS.findall(text):
        labels.update(_LABEL_IN_MATCHER.findall(block))
    for _keyword, names in _GROUPING.findall(text):
        labels.update(n.strip() for n in names.split(",") if n.strip())
    labels.discard("__name__")
    return labels


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it was found."""

    where: str
    expr: str


def dashboard_queries(path: Path) -> Iterator[Query]:
    """Every panel target and query variable of a Grafana dashboard, variables substituted."""
    dashboard = json.loads(path.read_text())
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield Query(f"panel {panel.get('title')!r}", substitute_grafana_variables(target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        found = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_]\w*\s*\)\s*", text)
        assert found, f"variable {variable['name']}: unexpected query {text!r}"
        yield Query(f"variable ${variable['name']}", substitute_grafana_variables(found.group(1)))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # panels folded inside a row


def rule_queries(path: Path) -> Iterator[Query]:
    """Every alert and recording rule expression of a Prometheus rules file."""
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            yield Query(f"rule {rule.get('alert') or rule.get('record')}", rule["expr"])


def recorded_names(path: Path) -> set[str]:
    """Series names a rules file's recording rules create."""
    return {
        rule["record"]
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def markdown_queries(path: Path) -> Iterator[Query]:
    """Every PromQL block (```promql fences) of a Markdown document."""
    for number, block in enumerate(re.findall(r"```promql\n(.*?)```", path.read_text(), re.DOTALL), 1):
        # a block may hold several queries, each after its own "# ..." comment line
        for paragraph in re.split(r"\n\s*\n", block):
            lines = [line for line in paragraph.splitlines() if not line.lstrip().startswith("#")]
            if any(line.strip() for line in lines):
                expr = substitute_grafana_variables("\n".join(lines).strip())
                yield Query(f"{path.name} PromQL block {number}", expr)
