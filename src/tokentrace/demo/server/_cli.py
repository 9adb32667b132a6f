"""Command line: ``python -m tokentrace.demo.server [--host H] [--port P] [--flavor F]``."""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Sequence

from ._server import DevServer
from ._shapes import FLAVORS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set); prints the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m tokentrace.demo.server",
        description="A local LLM API server (OpenAI-compatible, Anthropic Messages, Gemini) with deterministic answers.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="0 lets the OS choose (default 8000)")
    parser.add_argument("--flavor", choices=FLAVORS, default="openai", help="the provider to imitate")
    args = parser.parse_args(argv)
    with DevServer(host=args.host, port=args.port, flavor=args.flavor) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (stop or threading.Event()).wait()
    return 0
