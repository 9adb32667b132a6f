"""``DevServer``: lifecycle, scripted replies, recorded requests, and routing a path to an answer.

Plain paths (``/v1/...``, ``/api/v1/...``, ``/v1beta/openai/...``, or none) answer in the server's
flavor; Azure paths (``/openai/deployments/{name}/...``, ``/openai/v1/...``) answer as Azure.
The providers' own APIs (Anthropic's Messages API, the Gemini API, both also through Vertex AI)
are routed first, by their own patterns (``_native``).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType

from ...calls.apis import PATHS, ApiKind
from ._endpoints import Call, bad_request, chat_completions, completions, embeddings, models
from ._http import Hooks, HTTPServer, RecordedRequest
from ._native import NativeApis, path_model
from ._responses import responses
from ._scripted import Scripted, default, status
from ._shapes import FLAVORS
from ._synth import RequestCounter, azure_model

__all__ = ["DevServer", "RecordedRequest"]

_HANDLERS: dict[ApiKind, Callable[[Call], Scripted]] = {
    ApiKind.CHAT: chat_completions,
    ApiKind.COMPLETIONS: completions,
    ApiKind.EMBEDDINGS: embeddings,
    ApiKind.RESPONSES: responses,
}
# The paths it answers are the API table's (the one tokentrace's patches match), for the families
# it serves: ``chat/completions``, ``completions``, ``embeddings``, ``responses``.
_ENDPOINTS: dict[str, Callable[[Call], Scripted]] = {
    "/".join(path): _HANDLERS[kind] for path, kind in PATHS.items() if kind in _HANDLERS
}
_ENDPOINT = "|".join(sorted(_ENDPOINTS, key=len, reverse=True))
_AZURE_DEPLOYMENT = re.compile(rf"^/openai/deployments/([^/]+)/({_ENDPOINT})$")
_AZURE_PLAIN = re.compile(rf"^/openai/(v1/)?({_ENDPOINT})$")
_PLAIN = re.compile(rf"^(?:/v1beta/openai|/api/v1|/v1)?/({_ENDPOINT})$")
_MODELS = re.compile(r"^(?:/v1beta/openai|/api/v1|/v1|/openai/v1)?/models(?:/(.+))?$")
_BASE_PATHS = {"openai": "/v1", "vllm": "/v1", "openrouter": "/api/v1", "gemini": "/v1beta/openai"}
_DEFAULT = default()
_THREAD_PREFIX = "tokentrace-devserver"


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
    """A local LLM API server with deterministic answers, for tests, demos and benchmarks.

    ``flavor`` picks the provider it imitates on its plain paths (``openai``, ``openrouter``,
    ``vllm``, ``gemini``); Azure OpenAI paths (``/openai/deployments/{name}/...``) always answer as
    Azure, reporting the model from ``azure_deployments`` (deployment name -> model), the
    deployment's own name when it is a model, else ``gpt-4o-2024-11-20``. Anthropic's Messages
    API (``/v1/messages``, give the anthropic SDK ``base_url=origin``) and the Gemini API (give
    google-genai ``HttpOptions(base_url=origin)``), directly or through Vertex AI, answer in their
    own shapes whatever the flavor.
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
        self._by_model: dict[str, Scripted] = {}
        self._counter = RequestCounter()
        self._native = NativeApis(self._counter)
        self._stopping = threading.Event()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> DevServer:
        """Bind and serve in a background thread; returns self. Starting twice is harmless."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        hooks = Hooks(
            receive=self._receive,
            answer=self._answer,
            record_error=self._record_error,
            stopping=self._stopping,
            thread_prefix=_THREAD_PREFIX,
        )
        httpd = HTTPServer((self._host, self._port), hooks)
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
        httpd.shutdown()  # no new connections from here on
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
        return f"{_THREAD_PREFIX}-{self._port}"

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"DevServer(flavor={self.flavor!r}, {where})"

    # -- scripting -------------------------------------------------------------------------------

    def script(self, *responses: Scripted) -> None:
        """Queue replies for the next requests, first in first out; after them, the default again."""
        with self._lock:
            self._script.extend(responses)

    def script_model(self, model: str, reply: Scripted | None) -> None:
        """Answer every request whose JSON body (else, for Gemini and Vertex AI, whose path) names
        ``model`` with ``reply`` (an outage of one model: ``status(429)``, ``status(500)``,
        ``delay(...)``, ``default(drop_after=0)``), before the queued replies, until ``reset()``;
        None answers it as usual again."""
        with self._lock:
            if reply is None:
                self._by_model.pop(model, None)
            else:
                self._by_model[model] = reply

    def reset(self) -> None:
        """Forget recorded requests and errors, drop replies still queued or scripted per model, and
        empty the Anthropic prompt cache."""
        self._native.cache.clear()
        with self._lock:
            self._by_model.clear()
            self._script.clear()
            self.requests.clear()
            self.errors.clear()

    # -- called by the handler -------------------------------------------------------------------

    def _receive(self, request: RecordedRequest) -> Scripted:
        with self._lock:
            self.requests.append(request)
            if self._by_model:
                body = request.json
                model = body.get("model") if isinstance(body, dict) else None
                if not isinstance(model, str):
                    model = path_model(request.path)
                if isinstance(model, str) and model in self._by_model:
                    return self._by_model[model]
            return self._script.popleft() if self._script else _DEFAULT

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self.errors.append(error)

    def _answer(self, request: RecordedRequest, parsed: bool) -> Scripted:
        """The default reply to a request."""
        method, path = request.method, request.path
        if method == "POST" and (native := self._native.answer(request, parsed)) is not None:
            return native
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
