"""The HTTP side: a threaded loopback server, and writing replies to the wire.

HTTP/1.1 throughout: JSON replies carry ``content-length`` so clients keep the connection alive
between calls; SSE replies use ``transfer-encoding: chunked``, one chunk per event, each written
(and so flushed) as soon as it is ready. What to answer is not decided here but by ``Hooks``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from ._scripted import Scripted
from ._scripted import json as json_reply

__all__ = ["HTTPServer", "Hooks", "RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as the client sent it."""

    method: str
    path: str
    """Without the query string."""
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Header names in lower case."""
    json: Any
    """The parsed JSON body, or None (no body, or not JSON)."""
    body: bytes


@dataclass(frozen=True)
class Hooks:
    """What the HTTP layer asks its owner."""

    receive: Callable[[RecordedRequest], Scripted]
    """Record a request; return the scripted reply for it (or the default marker)."""
    answer: Callable[[RecordedRequest, bool], Scripted]
    """The default reply to a request (the flag says whether its body parsed)."""
    record_error: Callable[[BaseException], None]
    stopping: threading.Event
    thread_prefix: str
    """Threads are named ``{prefix}-{port}-conn``."""


class HTTPServer(ThreadingHTTPServer):
    """One daemon thread per connection, tracked so ``stop()`` can close idle keep-alive
    connections and join every thread (the mixin joins only non-daemon threads, and non-daemon
    threads would keep a forgotten server's process alive at exit)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], hooks: Hooks) -> None:
        self.hooks = hooks
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup a loopback server never needs.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{self.hooks.thread_prefix}-{self.server_port}-conn",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 10.0) -> None:
        """Shut every open connection down (waking threads blocked reading) and join their threads."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, (ConnectionError, TimeoutError)):
            self.hooks.record_error(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: HTTPServer
    _head_sent = False  # once the status line is out, an error can only cut the connection

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one line per request on stderr would drown test output and benchmarks."""

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _handle(self) -> None:
        hooks = self.server.hooks
        self._head_sent = False
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True  # a malformed or cut request body: nothing sensible to answer
            return
        try:
            self._respond(hooks, body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:
            hooks.record_error(error)
            self.close_connection = True
            if not self._head_sent:
                message = f"devserver error: {error!r}"
                self._send(json_reply({"error": {"message": message, "type": "server_error"}}, 500))

    def _respond(self, hooks: Hooks, body: bytes) -> None:
        path, _, query = self.path.partition("?")
        parsed, ok = _parse_json(body)
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            json=parsed,
            body=body,
        )
        reply = hooks.receive(request)
        if reply.delay and hooks.stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.kind == "disconnect":
            self.close_connection = True
            return
        if reply.kind == "default":
            answer = hooks.answer(request, ok)
            if reply.interval or reply.drop_after is not None:
                answer = replace(answer, interval=reply.interval, drop_after=reply.drop_after)
            reply = answer
        self._send(reply)

    def _read_body(self) -> bytes:
        length = self.headers.get("content-length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" not in self.headers.get("transfer-encoding", "").lower():
            return b""
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline(65537).split(b";", 1)[0], 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _send(self, reply: Scripted) -> None:
        streaming = reply.events is not None
        chunked = streaming and self.request_version == "HTTP/1.1"
        if streaming and not chunked:
            self.close_connection = True  # HTTP/1.0: the end of the body is the end of the connection
        phrase = self.responses.get(reply.status, ("",))[0]
        lines = [f"HTTP/1.1 {reply.status} {phrase}"]
        names = set()
        for name, value in reply.headers:
            lines.append(f"{name}: {value}")
            names.add(name)
        if not streaming and "content-length" not in names:
            lines.append(f"content-length: {len(reply.body)}")
        if chunked and "transfer-encoding" not in names:
            lines.append("transfer-encoding: chunked")
        if self.close_connection:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._head_sent = True
        if reply.events is None:
            self.wfile.write(head + reply.body)
            return
        self.wfile.write(head)
        stopping = self.server.hooks.stopping
        for index, event in enumerate(reply.events):
            if reply.drop_after is not None and index >= reply.drop_after:
                break
            if reply.interval and stopping.wait(reply.interval):
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event) if chunked else event)
        if reply.drop_after is not None and reply.drop_after <= len(reply.events):
            self.close_connection = True  # leave the chunked body unfinished: the peer sees a cut stream
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


def _parse_json(body: bytes) -> tuple[Any, bool]:
    """(value, parsed): an empty body parses to None."""
    if not body:
        return None, True
    try:
        return json.loads(body), True
    except ValueError:
        return None, False
