"""The loopback server every peer talks to: ``python -m peers.loopback`` (in the tokentrace venv).

It runs in a process of its own, not as a thread of the measured process: a server thread would
share the peer's GIL and put the server's own Python work into every measurement. Two
``tokentrace.demo.server.DevServer`` instances bind 127.0.0.1:

* ``general`` answers chat and embeddings with its default, deterministic replies;
* ``streams`` answers each request with the next queued 50-chunk stream (``payloads``);

and a small control server takes ``POST /prime?n=N`` (queue N streams) and ``POST /reset``
(forget the requests recorded so far, so a long run does not grow the server). The first line
on stdout is a JSON object with the three URLs. It stops when stdin closes, or after
``--max-seconds`` at the latest.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tokentrace.demo.server import DevServer, sse

from . import payloads


def _control_server(general: DevServer, streams: DevServer) -> ThreadingHTTPServer:
    reply = sse(payloads.stream_events())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/prime":
                count = int(parse_qs(url.query).get("n", ["1"])[0])
                streams.script(*([reply] * count))
            elif url.path == "/reset":
                general.reset()
                streams.reset()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peers.loopback")
    parser.add_argument("--max-seconds", type=float, default=4 * 3600)
    args = parser.parse_args(argv)
    with DevServer() as general, DevServer() as streams:
        control = _control_server(general, streams)
        thread = threading.Thread(target=control.serve_forever, daemon=True)
        thread.start()
        port = control.server_address[1]
        urls = {
            "general": general.base_url,
            "streams": streams.base_url,
            "control": f"http://127.0.0.1:{port}",
        }
        print(json.dumps(urls), flush=True)
        stdin_closed = threading.Event()

        def wait_stdin() -> None:
            sys.stdin.read()
            stdin_closed.set()

        threading.Thread(target=wait_stdin, daemon=True).start()
        stdin_closed.wait(args.max_seconds)
        control.shutdown()
        control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
