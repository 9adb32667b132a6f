"""The ``tokentrace`` command line. ``main(argv) -> int`` so every command is testable.

``prices`` and ``report`` read price data and ledgers only: they import neither the patches, wrapt
nor OpenTelemetry. ``demo`` (the ``demo`` extra) is the one command that switches tracing on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import config, names
from ._version import __version__

__all__ = ["main"]


def _prices(args: argparse.Namespace) -> int:
    from .pricing import PriceBook, PriceFileError, describe, load_price_file

    path = args.prices or config.environment_setting("prices")
    try:
        overrides = load_price_file(path) if path else []
    except PriceFileError as exc:
        print(f"tokentrace: {exc}", file=sys.stderr)
        return 2
    book = PriceBook(overrides)
    for model in args.model:
        print(describe(args.provider, model, book))
        if path:
            print(f"  overrides read from {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report.command import run

    return run(args)


def _demo(args: argparse.Namespace) -> int:
    from .demo import DemoUnavailableError, run_demo

    try:
        return run_demo(keep=args.keep)
    except DemoUnavailableError as exc:
        print(f"tokentrace: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokentrace", description="What every LLM call costs.")
    parser.add_argument("--version", action="version", version=f"tokentrace {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    prices = commands.add_parser("prices", help="what a model costs, and where that price comes from")
    prices.add_argument("model", nargs="+", help="model name, e.g. gpt-4.1")
    prices.add_argument("--provider", help="gen_ai.provider.name or host, e.g. openai, api.deepseek.com")
    prices.add_argument("--prices", metavar="FILE", help=f"a price file (default: ${names.ENV_PRICES})")
    prices.set_defaults(run=_prices)

    from .report.command import add_arguments as add_report_arguments

    report = commands.add_parser(
        "report", help="what the calls in the ledger cost, by model, tracking id or day"
    )
    add_report_arguments(report)
    report.set_defaults(run=_report)

    demo = commands.add_parser("demo", help="the whole thing on this machine: no API key, no network")
    demo.add_argument(
        "--keep", metavar="DIR", help="write the demo's ledger here (default: a temporary folder)"
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
