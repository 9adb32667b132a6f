"""genai-prices lookups saved on disk, so a new process prices its first call without loading them.

Loading genai-prices' data (importing the package, then building its snapshot) costs a new process
far more CPU than reading this small file. A saved lookup is used only while it is valid (its price
window covers the call) and only for the bundled data of the very install that produced it: the
file is named after the data file's size and modification time and tokentrace's version, so an
upgrade of either starts a new file. Lookups made from data genai-prices updated at run time are
never saved, and never answered from here.

Where: ``TOKENTRACE_PRICE_CACHE`` (a folder, or ``off``), else the user's cache folder. Any
failure to read or write the file is ignored: pricing then simply loads genai-prices.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import threading
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokentrace import config, names
from tokentrace._dirs import user_cache_dir
from tokentrace._version import __version__
from tokentrace.pricing.rates import Rates, RateTier

__all__ = ["ENV_PRICE_CACHE", "SavedLookups", "bundled_data_in_use", "saved_lookups"]

ENV_PRICE_CACHE = names.ENV_PRICE_CACHE
_FORMAT = 1
_MAX_ENTRIES = 2000
_OFF = frozenset({"off", "false", "0", "no"})

Lookup = tuple[Rates | None, float, float]


def _cache_folder() -> Path | None:
    setting = config.environment_value(ENV_PRICE_CACHE).strip()
    if setting.lower() in _OFF:
        return None
    if setting:
        return Path(setting).expanduser()
    return user_cache_dir()


def _data_identity() -> str | None:
    """Size and modification time of genai-prices' bundled data file, found without importing it."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        data = Path(location) / "data.py"
        try:
            stat = data.stat()
        except OSError:
            continue
        return f"{data.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return None


def bundled_data_in_use() -> bool:
    """False once something (genai-prices' UpdatePrices, the app) set a snapshot of its own."""
    snapshots = sys.modules.get("genai_prices.data_snapshot")
    return snapshots is None or getattr(snapshots, "_custom_snapshot", None) is None


class SavedLookups:
    """One file of lookups: loaded on first use, written again (atomically) after each new one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, list[Any]] | None = None

    def _load(self) -> dict[str, list[Any]]:
        entries: dict[str, list[Any]] = {}
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and document.get("format") == _FORMAT:
                found = document.get("lookups")
                if isinstance(found, dict):
                    entries = {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, list)}
        except (OSError, ValueError):
            pass
        return entries

    def get(self, key: str, now: float) -> Lookup | None:
        with self._lock:
            if self._entries is None:
                self._entries = self._load()
            saved = self._entries.get(key)
        if saved is None:
            return None
        try:
            lookup = _decode(saved)
        except (TypeError, ValueError, ArithmeticError, IndexError):
            return None  # a damaged entry is looked up again, and overwritten
        return lookup if lookup[1] <= now < lookup[2] else None

    def put(self, key: str, lookup: Lookup) -> None:
        with self._lock:
            if self._entries is None:
                self._entries = self._load()
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = _encode(lookup)
            document = json.dumps({"format": _FORMAT, "lookups": self._entries}, separators=(",", ":"))
        import tempfile  # only when something new is saved

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".prices-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(document)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            pass  # a read-only home or a full disk: the next process loads genai-prices again


_stores: dict[Path, SavedLookups] = {}
_stores_lock = threading.Lock()
_identity: list[str | None] = []


def saved_lookups() -> SavedLookups | None:
    """The file for this install's genai-prices data, or None when saving is off or impossible."""
    folder = _cache_folder()
    if folder is None:
        return None
    with _stores_lock:
        if not _identity:
            _identity.append(_data_identity())
        identity = _identity[0]
        if identity is None:
            return None
        digest = zlib.crc32(f"{identity}|{__version__}|{_FORMAT}".encode())
        path = folder / f"genai-prices-{digest:08x}.json"
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = SavedLookups(path)
        return store


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("a saved rate is a string")
    return Decimal(value)


def _bound(value: float) -> float | None:
    return None if math.isinf(value) else value


def _encode(lookup: Lookup) -> list[Any]:
    rates, start, end = lookup
    encoded: dict[str, Any] | None = None
    if rates is not None:
        encoded = {
            "rates": [
                _number(v)
                for v in (rates.input, rates.output, rates.cache_read, rates.cache_write, rates.reasoning)
            ],
            "tiers": [
                [
                    t.above,
                    *(_number(v) for v in (t.input, t.output, t.cache_read, t.cache_write, t.reasoning)),
                ]
                for t in rates.tiers
            ],
            "request": _number(rates.request),
            "source": rates.source,
            "entry": rates.entry,
            "date": rates.date,
        }
    return [encoded, _bound(start), _bound(end)]


def _decode(saved: list[Any]) -> Lookup:
    encoded, start, end = saved
    start = -math.inf if start is None else float(start)
    end = math.inf if end is None else float(end)
    if encoded is None:
        return (None, start, end)
    base = [_decimal(v) for v in encoded["rates"]]
    if base[0] is None or base[1] is None:
        raise ValueError("a saved price has no input or output rate")
    tiers = []
    for tier in encoded["tiers"]:
        values = [_decimal(v) for v in tier[1:]]
        if values[0] is None or values[1] is None or type(tier[0]) is not int:
            raise ValueError("a saved tier is incomplete")
        tiers.append(RateTier(tier[0], values[0], values[1], values[2], values[3], values[4]))
    request = _decimal(encoded["request"])
    rates = Rates(
        base[0],
        base[1],
        base[2],
        base[3],
        base[4],
        tiers=tuple(tiers),
        request=request if request is not None else Decimal(0),
        source=str(encoded["source"]),
        entry=str(encoded["entry"]),
        date=None if encoded["date"] is None else str(encoded["date"]),
    )
    return (rates, start, end)
