"""Start ``phoenix serve`` with its OTLP gRPC listener on loopback only.

Phoenix binds its HTTP server to ``PHOENIX_HOST`` but always opens the gRPC trace receiver on every
interface (``[::]:PHOENIX_GRPC_PORT``). This launcher runs in Phoenix's own virtual environment and
rewrites that bind address to ``127.0.0.1`` before Phoenix starts, so nothing it opens is reachable
from outside the machine. Arguments are passed to the ``phoenix`` command line (default ``serve``).

    .venv-phoenix/bin/python tests/e2e/phoenix_loopback.py serve
"""

from __future__ import annotations

import sys
from typing import Any

import grpc.aio

LOOPBACK = "127.0.0.1"
_ANY_INTERFACE_PREFIXES = ("[::]:", "0.0.0.0:", ":")


def _on_loopback(address: str) -> str:
    for prefix in _ANY_INTERFACE_PREFIXES:
        if address.startswith(prefix):
            return f"{LOOPBACK}:{address[len(prefix) :]}"
    return address


_make_server = grpc.aio.server


def _loopback_server(*args: Any, **kwargs: Any) -> Any:
    server = _make_server(*args, **kwargs)
    add_insecure, add_secure = server.add_insecure_port, server.add_secure_port
    server.add_insecure_port = lambda address: add_insecure(_on_loopback(address))
    server.add_secure_port = lambda address, credentials: add_secure(_on_loopback(address), credentials)
    return server


def main() -> None:
    grpc.aio.server = _loopback_server
    from phoenix.server.main import main as phoenix_main

    sys.argv = ["phoenix", *(sys.argv[1:] or ["serve"])]
    phoenix_main()


if __name__ == "__main__":
    main()
