"""The HTTP side: a threaded loopback server, request routing, and writing replies to the wire.

HTTP/1.1 throughout: JSON replies carry ``content-length`` so clients keep the connection alive
between calls; SSE replies use ``transfer-encoding: chunked``, one chunk per event, each written
(and so flushed) as soon as it is ready.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from ._endpoints import Call, bad_request, chat_completions, completions, embeddings, models
from ._responses import responses
from ._scripted import Scripted, default, status
from ._scripted import json as json_reply
from ._shapes import FLAVORS
from ._synth import Counter, azure_model

__all__ = ["DevServer", "RecordedRequest"]

_ENDPOINTS: dict[str, Callable[[Call], Scripted]] = {
    "chat/completions": chat_completions,
    "completions": completions,
    "embeddings": embeddings,
    "responses": responses,
}
_ENDPOINT = "chat/completions|completions|embeddings|responses"
_AZURE_DEPLOYMENT = re.compile(rf"^/openai/deployments/([^/]+)/({_ENDPOINT})$")
_AZURE_PLAIN = re.compile(rf"^/openai/(v1/)?({_ENDPOINT})$")
_PLAIN = re.compile(rf"^(?:/v1beta/openai|/api/v1|/v1)?/({_ENDPOINT})$")
_MODELS = re.compile(r"^(?:/v1beta/openai|/api/v1|/v1|/openai/v1)?/models(?:/(.+))?$")
_BASE_PATHS = {"openai": "/v1", "vllm": "/v1", "openrouter": "/api/v1", "gemini": "/v1beta/openai"}
_DEFAULT = default()


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


def _invalid_url(method: str, path: str) -> Scripted:
    message = f"Invalid URL ({method} {path})"
    return status(
        404, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    )


_AZURE_NOT_FOUND = status(404, {"error": {"code": "404", "message": "Resource not found"}})
_UNPARSABLE = bad_request(
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
)


class DevServer:
    """A local OpenAI-compatible server with deterministic answers, for tests, demos and benchmarks.

    ``flavor`` picks the provider it imitates on its plain paths (``openai``, ``openrouter``,
    ``vllm``, ``gemini``); Azure OpenAI paths (``/openai/deployments/{name}/...``) always answer as
    Azure, reporting the model from ``azure_deployments`` (deployment name -> model), the
    deployment's own name when it is a model, else ``gpt-4o-2024-11-20``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        flavor: str = "openai",
        azure_deployments: Mapping[str, str] | None = None,
    ) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}; expected one of {', '.join(FLAVORS)}")
        address = "127.0.0.1" if host == "localhost" else host
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"DevServer binds loopback addresses only, not {host!r}")
        self.flavor = flavor
        self.requests: list[RecordedRequest] = []
        """Every request received, in arrival order."""
        self.errors: list[BaseException] = []
        """Exceptions raised while answering (each also answered with a 500): bugs in the server."""
        self._host = address
        self._port = port
        self._azure_deployments = dict(azure_deployments or {})
        self._lock = threading.Lock()
        self._script: deque[Scripted] = deque()
        self._counter = Counter()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> DevServer:
        """Bind and serve in a background thread; returns self. Starting twice is harmless."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self._host, self._port), self)
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: interrupt delays, close every connection and the socket, join all threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = self._thread = None
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._httpd is None and self._port == 0:
            raise RuntimeError("DevServer is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://host:port``, e.g. for ``AzureOpenAI(azure_endpoint=...)``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI client: the origin plus the flavor's API path."""
        return self.origin + _BASE_PATHS[self.flavor]

    @property
    def thread_name(self) -> str:
        return f"tokentrace-devserver-{self._port}"

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"DevServer(flavor={self.flavor!r}, {where})"

    # -- scripting -------------------------------------------------------------------------------

    def script(self, *responses: Scripted) -> None:
        """Queue replies for the next requests, first in first out; after them, the default again."""
        with self._lock:
            self._script.extend(responses)

    def reset(self) -> None:
        """Forget recorded requests and errors, and drop replies still queued."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.errors.clear()

    # -- called by the handler -------------------------------------------------------------------

    def _receive(self, request: RecordedRequest) -> Scripted:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else _DEFAULT

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self.errors.append(error)

    def _answer(self, request: RecordedRequest, parsed: bool) -> Scripted:
        """The default reply to a request."""
        method, path = request.method, request.path
        models_match = _MODELS.match(path)
        if models_match is not None:
            if method != "GET":
                return _invalid_url(method, path)
            call = Call(
                "models", self.flavor, {}, self._counter.next(), int(time.time()), None, models_match[1]
            )
            return models(call)
        flavor, deployment, endpoint = self._route(request)
        if endpoint is None or method != "POST":
            return _invalid_url(method, path)
        body = request.json
        if not parsed or not isinstance(body, dict):
            return _UNPARSABLE
        deployment_model = None
        if flavor == "azure":
            # The v1 API needs no api-version; the classic one answers 404 without it.
            if not path.startswith("/openai/v1/") and "api-version" not in request.query:
                return _AZURE_NOT_FOUND
            if deployment is None and isinstance(body.get("model"), str):
                deployment = body["model"]
            deployment_model = azure_model(deployment, endpoint, self._azure_deployments)
        call = Call(endpoint, flavor, body, self._counter.next(), int(time.time()), deployment_model)
        return _ENDPOINTS[endpoint](call)

    def _route(self, request: RecordedRequest) -> tuple[str, str | None, str | None]:
        """(flavor, Azure deployment, endpoint) for a path; endpoint None when nothing matches."""
        path = request.path
        if match := _AZURE_DEPLOYMENT.match(path):
            return "azure", match[1], match[2]
        if match := _AZURE_PLAIN.match(path):
            return "azure", None, match[2]
        if match := _PLAIN.match(path):
            return self.flavor, None, match[1]
        return self.flavor, None, None


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``stop()`` can close idle keep-alive ones and join their threads."""

    daemon_threads = True
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: DevServer) -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup a loopback server never needs.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, (ConnectionError, TimeoutError)):
            self.owner._record_error(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        threading.current_thread().name = self.server.owner.thread_name + "-conn"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one line per request on stderr would drown test output and benchmarks."""

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _handle(self) -> None:
        owner = self.server.owner
        self._head_sent = False
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True  # a malformed or cut request body: nothing sensible to answer
            return
        try:
            self._answer(owner, body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:
            owner._record_error(error)
            self.close_connection = True
            if not self._head_sent:
                message = f"devserver error: {error!r}"
                self._send(json_reply({"error": {"message": message, "type": "server_error"}}, 500))

    def _answer(self, owner: DevServer, body: bytes) -> None:
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
        reply = owner._receive(request)
        if reply.delay and owner._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.kind == "disconnect":
            self.close_connection = True
            return
        if reply.kind == "default":
            answer = owner._answer(request, ok)
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
        stopping = self.server.owner._stopping
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
