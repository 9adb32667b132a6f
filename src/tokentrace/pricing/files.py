"""Price files: a reseller's price list or an Azure deployment map, in TOML or (with PyYAML) YAML.

Neither parser reports where a value was written, so errors are located by scanning the TOML text
and by walking YAML's node marks; a message names the file, the line, the entry and the problem.
A file with any problem loads nothing.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tokentrace.pricing._schema import Locator, Problem, build_overrides
from tokentrace.pricing.overrides import PriceOverride

__all__ = ["PriceFileError", "load_price_file"]

_TOML_SUFFIXES = (".toml",)
_YAML_SUFFIXES = (".yaml", ".yml")


class PriceFileError(ValueError):
    """A price file that cannot be used; ``problems`` lists every problem found, in file order."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        lines = [self._format(problem) for problem in self.problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{path}: {len(lines)} problems, nothing loaded:\n" + "\n".join(lines)
        super().__init__(message)

    @property
    def line(self) -> int | None:
        """The line of the first problem, if known."""
        return self.problems[0].line if self.problems else None

    def _format(self, problem: Problem) -> str:
        place = f"{self.path}:{problem.line}" if problem.line else self.path
        where = f" {problem.where}:" if problem.where else ""
        return f"{place}:{where} {problem.message}"


def load_price_file(path: str | os.PathLike[str]) -> list[PriceOverride]:
    """Overrides from a ``.toml``, ``.yaml`` or ``.yml`` price file (prices in USD per 1M tokens).

    Raises `PriceFileError` (a ``ValueError``) naming the file, line, entry and problem.
    """
    name = os.fspath(path)
    suffix = Path(name).suffix.lower()
    if suffix not in _TOML_SUFFIXES + _YAML_SUFFIXES:
        raise PriceFileError(
            name, [Problem(None, "", f"unknown file type {suffix!r}: use .toml, .yaml or .yml")]
        )
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as error:
        raise PriceFileError(
            name, [Problem(None, "", f"cannot read it: {error.strerror or error}")]
        ) from error
    except UnicodeDecodeError as error:
        raise PriceFileError(name, [Problem(None, "", f"not UTF-8 text: {error.reason}")]) from error
    locator: Locator
    if suffix in _TOML_SUFFIXES:
        data, locator = _parse_toml(text, name)
    else:
        data, locator = _parse_yaml(text, name)
    overrides, problems = build_overrides(data, name, locator)
    if problems:
        raise PriceFileError(name, problems)
    return overrides


# ---- TOML -------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_LINE_IN_MESSAGE = re.compile(r"line (\d+)")


def _parse_toml(text: str, path: str) -> tuple[object, _TomlLocator]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        try:
            import tomli as tomllib
        except ImportError:
            problem = Problem(None, "", "reading TOML on Python < 3.11 needs tomli: pip install tomli")
            raise PriceFileError(path, [problem]) from None
    try:
        # Decimal, not float: 0.42 in the file is exactly 0.42 USD.
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None)
        if line is None:
            found = _LINE_IN_MESSAGE.search(str(error))
            line = int(found.group(1)) if found else None
        if line is None and "end of document" in str(error):  # a file cut short, half-written say
            line = max(len(text.splitlines()), 1)
        raise PriceFileError(path, [Problem(line, "", f"TOML syntax error: {error}")]) from None
    return data, _TomlLocator(text)


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(r"""^\s*["']?""" + re.escape(key) + r"""["']?\s*=""")


class _TomlLocator:
    """Finds lines by reading the text: headers mark entries, ``key =`` lines mark keys."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._headers: list[tuple[int, str, bool]] = []  # (0-based line, dotted name, array table)
        for number, line in enumerate(self._lines):
            match = _HEADER.match(line)
            if match:
                name = ".".join(part.strip().strip("\"'") for part in match.group(2).split("."))
                self._headers.append((number, name, match.group(1) == "[["))

    def section(self, name: str) -> int | None:
        for number, header, _ in self._headers:
            if header == name:
                return number + 1
        pattern = _key_pattern(name)
        first_header = self._headers[0][0] if self._headers else len(self._lines)
        for number in range(first_header):
            if pattern.match(self._lines[number]):
                return number + 1
        return None

    def _block(self, section: str, index: int | None) -> tuple[int, int] | None:
        wanted = [
            (n, i)
            for i, (n, name, array) in enumerate(self._headers)
            if name == section and array == (index is not None)
        ]
        position = 0 if index is None else index
        if position >= len(wanted):
            return None
        start, header_index = wanted[position]
        end = len(self._lines)
        for number, name, _ in self._headers[header_index + 1 :]:
            if not name.startswith(section + "."):
                end = number
                break
        return start, end

    def entry(self, section: str, index: int | None) -> int | None:
        block = self._block(section, index)
        return block[0] + 1 if block else self.section(section)

    def key(self, section: str, index: int | None, key: str) -> int | None:
        block = self._block(section, index)
        if block is None:
            return None
        pattern = _key_pattern(key)
        for number in range(block[0] + 1, block[1]):
            if pattern.match(self._lines[number]):
                return number + 1
        for number, name, _ in self._headers:
            if block[0] < number < block[1] and name == f"{section}.{key}":
                return number + 1
        return None


# ---- YAML -------------------------------------------------------------------------------------


def _parse_yaml(text: str, path: str) -> tuple[object, _YamlLocator]:
    try:
        import yaml
    except ImportError:
        message = (
            "reading YAML price files needs PyYAML: pip install 'tokentrace[yaml]' (or use a .toml file)"
        )
        raise PriceFileError(path, [Problem(None, "", message)]) from None

    class DecimalLoader(yaml.SafeLoader):  # type: ignore[misc]
        """SafeLoader that reads floats as exact Decimals."""

    def construct_decimal(loader: Any, node: Any) -> object:
        try:
            number = Decimal(str(node.value).replace("_", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            return loader.construct_yaml_float(node)  # .inf / .nan: rejected later with a clear message
        return number

    def construct_date_text(loader: Any, node: Any) -> object:
        return str(node.value)  # checked later, so a bad date gets a line number, not a traceback

    DecimalLoader.add_constructor("tag:yaml.org,2002:float", construct_decimal)
    DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_date_text)
    loader = None
    try:
        loader = DecimalLoader(text)  # its reader refuses control characters already here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else _reader_line(text, error)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PriceFileError(path, [Problem(line, "", f"YAML syntax error: {problem}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, _YamlLocator(node)


def _reader_line(text: str, error: Exception) -> int | None:
    """The line of a character YAML's reader refused (its error has a position, not a mark)."""
    position = getattr(error, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else None


class _YamlLocator:
    """Finds lines from the marks YAML keeps on every node."""

    def __init__(self, root: Any) -> None:
        self._root = root

    @staticmethod
    def _pairs(node: Any) -> list[tuple[Any, Any]]:
        value = getattr(node, "value", None)
        if isinstance(value, list) and all(isinstance(item, tuple) for item in value):
            return value
        return []

    def _child(self, node: Any, key: str) -> tuple[Any, Any] | None:
        for key_node, value_node in self._pairs(node):
            if getattr(key_node, "value", None) == key:
                return key_node, value_node
        return None

    def _entry_node(self, section: str, index: int | None) -> Any:
        found = self._child(self._root, section)
        if found is None:
            return None
        node = found[1]
        if index is None:
            return node
        items = getattr(node, "value", None)
        if isinstance(items, list) and index < len(items) and not isinstance(items[index], tuple):
            return items[index]
        return None

    def section(self, name: str) -> int | None:
        found = self._child(self._root, name)
        return found[0].start_mark.line + 1 if found else None

    def entry(self, section: str, index: int | None) -> int | None:
        node = self._entry_node(section, index)
        return node.start_mark.line + 1 if node is not None else self.section(section)

    def key(self, section: str, index: int | None, key: str) -> int | None:
        pending = [self._entry_node(section, index)]
        while pending:  # breadth-first, so an entry's own key wins over one inside its tiers
            node = pending.pop(0)
            if node is None:
                continue
            found = self._child(node, key)
            if found is not None:
                return int(found[0].start_mark.line) + 1
            children = getattr(node, "value", None)
            if isinstance(children, list):
                for child in children:
                    pending.extend(child if isinstance(child, tuple) else (child,))
        return None
