"""A small OpenAI-compatible HTTP server for load runs, on 127.0.0.1, that keeps its own books.

Every request names its caller and call number in ``user`` (``"<tracking id>:<n>"``); the usage it
answers with is a function of that number, and the server adds what it sent to a tally per
tracking id. A load test can then compare what tokentrace recorded with what the server said,
exactly. HTTP/1.1 keep-alive, a thread per connection; ``GET /ready`` answers without counting.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoadServer", "Tally", "usage_for"]


def usage_for(number: int, embeddings: bool) -> tuple[int, int]:
    """Input and output tokens the server reports for call ``number``."""
    return 7 + number % 53, 0 if embeddings else 3 + number % 29


@dataclass
class Tally:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/ready":
            self.send_error(404)
            return
        self._send(b"ready", "text/plain")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        tracking_id, number_text = str(body["user"]).rsplit(":", 1)
        number = int(number_text)
        embeddings = self.path.endswith("/embeddings")
        input_tokens, output_tokens = usage_for(number, embeddings)
        self.server.count(tracking_id, input_tokens, output_tokens)
        model = body["model"]
        if embeddings:
            payload = {
                "object": "list",
                "model": model,
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}],
                "usage": {"prompt_tokens": input_tokens, "total_tokens": input_tokens},
            }
            self._send(json.dumps(payload).encode(), "application/json")
        elif body.get("stream"):
            self._send(_sse(model, number, input_tokens, output_tokens), "text/event-stream")
        else:
            payload = {
                "id": f"chatcmpl-load-{number}",
                "object": "chat.completion",
                "created": 1_763_856_000,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"answer {number}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": input_tokens,
                    "completion_tokens": output_tokens,
                    "total_tokens": input_tokens + output_tokens,
                },
            }
            self._send(json.dumps(payload).encode(), "application/json")

    def _send(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _sse(model: str, number: int, input_tokens: int, output_tokens: int) -> bytes:
    base = {"id": f"chatcmpl-load-{number}", "object": "chat.completion.chunk", "created": 1, "model": model}
    chunks: list[dict[str, Any]] = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": f"piece {k} "}, "finish_reason": None}]}
        for k in range(4)
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }
    )
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return "".join(events).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog. A load run holds up to about 160 connections (16 threads with two clients
    # each, up to 64 pooled on each of the two async clients) and may open many of them while this
    # thread waits for the interpreter. A full backlog drops connection attempts, which the kernel resends after 1 s,
    # 3 s, ...: what a client's connect timeout would catch. The kernel caps it (net.core.somaxconn).
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()

    def count(self, tracking_id: str, input_tokens: int, output_tokens: int) -> None:
        with self._lock:
            tally = self.tallies.setdefault(tracking_id, Tally())
            tally.calls += 1
            tally.input_tokens += input_tokens
            tally.output_tokens += output_tokens


class LoadServer:
    """The running server: ``base_url`` (``.../v1``) and ``tallies`` (tracking id -> what it sent)."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    @property
    def tallies(self) -> dict[str, Tally]:
        return self._server.tallies

    def wait_until_serving(self, timeout: float = 300.0) -> None:
        """Return once the accept loop answers a request (the timeout is for a server that never will)."""
        ready = self.base_url.removesuffix("/v1") + "/ready"
        with urllib.request.urlopen(ready, timeout=timeout) as reply:
            if reply.status != 200:
                raise RuntimeError(f"load server not ready: HTTP {reply.status}")

    @staticmethod
    @contextmanager
    def running() -> Iterator[LoadServer]:
        server = _Server()  # bound and listening from here on: early connections wait in the backlog
        thread = threading.Thread(target=server.serve_forever, name="load-server", daemon=True)
        thread.start()
        try:
            running = LoadServer(server)
            running.wait_until_serving()
            yield running
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
