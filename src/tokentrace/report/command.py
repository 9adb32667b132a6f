"""``tokentrace report``: read the ledger, add the period up, print it (and write an HTML page).

Exit codes: 0 with a report (also when the period holds no calls: "no calls"), 1 when there is
no ledger file or the HTML file cannot be written, 2 for a file that is not a usable ledger or a
bad argument. Reading more than ``PROGRESS_OVER`` calls shows a counter on stderr, only when stderr
is a terminal.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from .. import config, names
from ..ledger import CallFigures, LedgerError, count_calls, default_ledger_path, read_figures
from .aggregate import BY_ALIASES, BY_CHOICES, Report, summarize
from .html import render_html
from .machine import render_csv, render_json
from .period import parse_period
from .text import render_text

__all__ = [
    "DEFAULT_SINCE",
    "PROGRESS_OVER",
    "add_arguments",
    "build_report",
    "ledger_location",
    "run",
    "write_report",
]

DEFAULT_SINCE = "30d"
PROGRESS_OVER = 100_000
_PROGRESS_EVERY = 25_000


def ledger_location() -> Path:
    """The ledger an instrumented app writes: ``$TOKENTRACE_LEDGER`` when it names a file, else the
    default location."""
    value = config.environment_setting("ledger")
    if isinstance(value, str):
        return Path(value).expanduser()
    return default_ledger_path()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="PATH",
        help=f"the ledger file (default: ${names.ENV_LEDGER}, else {default_ledger_path()})",
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="read the fleet's cost and token counters from this Prometheus (e.g. http://prometheus:9090) "
        "instead of the local ledger; --by model, tracking_id or provider",
    )
    parser.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        metavar="WHEN",
        help="start: a span back from now (30d, 12h, 15m, 2w), a date (2026-11-01), a date and time, "
        "today, yesterday, month (this month) or all (default: 30d)",
    )
    parser.add_argument(
        "--until", metavar="WHEN", help="end, same forms; a date includes that whole day (default: now)"
    )
    parser.add_argument(
        "--by",
        type=_by_key,
        choices=BY_CHOICES,
        default="model",
        help="breakdown (default: model)",
    )
    parser.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="stdout format (default: table)"
    )
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with a chart")
    parser.add_argument("--utc", action="store_true", help="dates and days in UTC rather than local time")


def _by_key(text: str) -> str:
    # The report once spelled it tracking-id; tracking_id is the one name everywhere now.
    return BY_ALIASES.get(text, text)


def _with_progress(rows: Iterable[CallFigures], expected: int, stream: TextIO) -> Iterator[CallFigures]:
    for done, row in enumerate(rows, 1):
        yield row
        if done % _PROGRESS_EVERY == 0:
            stream.write(f"\rreading the ledger: {done:,} of {expected:,} calls ({done * 100 // expected}%)")
            stream.flush()
    stream.write("\r\033[K")
    stream.flush()


def build_report(path: Path, since: str, until: str | None, by: str, utc: bool) -> Report:
    """The report of one ledger file; raises FileNotFoundError, LedgerError or ValueError."""
    period = parse_period(since, until, utc=utc)
    rows: Iterable[CallFigures] = read_figures(path, period.since, period.until)
    if sys.stderr.isatty():
        expected = count_calls(path, period.since, period.until)
        if expected > PROGRESS_OVER:
            rows = _with_progress(rows, expected, sys.stderr)
    return summarize(rows, by, utc=utc, period=period, source=str(path))


def _ascii_only(stream: TextIO) -> bool:
    try:
        "█▏".encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _run_prometheus(args: argparse.Namespace) -> Report | int:
    from .prometheus import PrometheusError, build_prometheus_report

    try:
        return build_prometheus_report(args.prometheus, args.since, args.until, args.by, args.utc)
    except ValueError as exc:
        print(f"tokentrace: {exc}", file=sys.stderr)
        return 2
    except PrometheusError as exc:
        print(f"tokentrace: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    if getattr(args, "prometheus", None):
        fleet = _run_prometheus(args)
        if isinstance(fleet, int):
            return fleet
        return _output(fleet, args)
    path = Path(args.ledger).expanduser() if args.ledger else ledger_location()
    if not path.exists():
        print(
            f"tokentrace: no ledger at {path}; it is written by an instrumented app with the ledger on"
            + ("" if args.ledger else " (or name one with --ledger)"),
            file=sys.stderr,
        )
        return 1
    try:
        report = build_report(path, args.since, args.until, args.by, args.utc)
    except FileNotFoundError as exc:
        print(f"tokentrace: {exc}", file=sys.stderr)
        return 1
    except (ValueError, LedgerError) as exc:
        print(f"tokentrace: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"tokentrace: cannot read the ledger {path}: {exc}", file=sys.stderr)
        return 2
    return _output(report, args)


def _output(report: Report, args: argparse.Namespace) -> int:
    write_report(report, args.format, sys.stdout)
    if args.html:
        target = Path(args.html).expanduser()
        try:
            target.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            print(f"tokentrace: cannot write {target}: {exc}", file=sys.stderr)
            return 1
        print(f"tokentrace: wrote {target}", file=sys.stderr)
    return 0


def write_report(report: Report, form: str, out: TextIO) -> None:
    """Write the report to ``out`` as ``table`` (fitted to the terminal), ``json`` or ``csv``."""
    ascii_only = _ascii_only(out)
    if form == "json":
        text = render_json(report, ascii_only=ascii_only)
    elif form == "csv":
        text = render_csv(report)
    else:
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
        text = render_text(report, width, ascii_only=ascii_only)
    try:
        out.write(text)
    except UnicodeEncodeError:  # a name from the ledger the output cannot encode
        encoding = out.encoding or "ascii"
        out.write(text.encode(encoding, "replace").decode(encoding))
