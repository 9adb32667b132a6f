"""One attempt of a call in a fallback chain (``tokentrace.Fallback``): the ``Call`` that moves on.

``_call.py`` holds the skeleton every call goes through; this is its subclass for a call whose model
is in a chain, loaded by the first such call. A failure the chain moves on for sets ``then`` (the
next attempt) and the skeleton's wrapper starts it; a failed attempt is priced as the provider
billed it (``_billed``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._guard import internal_error
from ..calls.apis import ApiKind
from ..calls.records import NOT_BILLED
from ..fallback import Attempt, resending
from ._call import Call, CallSite

if TYPE_CHECKING:
    from ..calls.records import LLMCall, ResponseInfo

__all__ = ["FallbackCall"]


class FallbackCall(Call):
    """One attempt of a call whose model is in a fallback chain.

    A failure the chain moves on for sets ``then`` (the next attempt): ``__exit__`` then swallows
    the exception, or ``done`` hands back a plain HTTP call's error response, and the wrapper starts
    the next attempt. When the chain has ended, the failure reaches the caller as it is, with the
    earlier attempts' failures as notes. A failed attempt the provider answered with an error
    status is priced at its usage when the error body carried some, else at a known 0
    (``NOT_BILLED``); one that got no answer (a timeout) keeps an unknown cost.
    """

    __slots__ = ("attempt", "failure", "resend", "then")

    attempt: Attempt
    """This call's place in its fallback chain."""

    def __init__(
        self,
        site: CallSite,
        record: LLMCall,
        api: ApiKind,
        hide_usage_chunk: bool,
        body: Any,
        attempt: Attempt,
    ) -> None:
        super().__init__(site, record, api, hide_usage_chunk, body)
        self.attempt = attempt
        self.then = None
        self.failure: BaseException | None = None
        self.resend: Callable[[], Any] | None = None
        """Sends the request again through the patched method (set by the SDK patch, for streams)."""

    def __enter__(self) -> Call:
        gate = self.record.budget
        if gate is not None and gate.refusal is not None:
            self.attempt.annotate(gate.refusal)  # the chain ended on a refusal (see CallSite._attempts)
        return super().__enter__()

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> bool:
        super().__exit__(exc_type, error, tb)
        return self.then is not None  # moving on: the wrapper sends the next attempt

    def end(
        self, info: ResponseInfo | None, error: BaseException | None = None, status_code: int | None = None
    ) -> None:
        if error is not None or (status_code is not None and status_code >= 400):
            info = self._failed(info, error, status_code)
            if self.then is not None:  # replaced by the next attempt
                try:
                    self.site.recorder.end(self.record, info, error, status_code=status_code, superseded=True)
                except Exception as exc:
                    internal_error(f"recording the end of {self.site.name}", exc)
                return
        super().end(info, error, status_code)

    def _failed(
        self, info: ResponseInfo | None, error: BaseException | None, status_code: int | None
    ) -> ResponseInfo | None:
        """Decide the next attempt (``then``) or annotate the last error; what the failure cost."""
        following = None
        gate = self.record.budget
        refused = gate is not None and gate.refusal is not None
        if not refused:
            try:
                following = self.attempt.after(
                    self.record.request_model, error, status_code, self.record.secrets
                )
            except Exception as exc:  # never a reason to lose the caller's error
                internal_error("choosing the next model of a fallback chain", exc)
        if following is not None:
            self.then = following
            self.failure = error
        elif error is not None and not refused:
            self.attempt.annotate(error)
        return info if info is not None else _billed(self.api, error, status_code)

    def done(self, result: Any) -> Any:
        if self.then is not None:  # failed with an exception, and the next attempt takes over
            return result
        return super().done(result)

    def discard(self, result: Any) -> None:
        """A streamed plain-HTTP error response that the next attempt replaces was never read and
        never reached the caller: closed, so its connection goes back to the pool."""
        if self.streamed and result is not None:
            try:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            except Exception as exc:
                internal_error("closing the response of a failed attempt", exc)

    async def adiscard(self, result: Any) -> None:
        if self.streamed and result is not None:
            try:
                aclose = getattr(result, "aclose", None)
                if aclose is not None:
                    await aclose()
                else:
                    self.discard(result)
            except Exception as exc:
                internal_error("closing the response of a failed attempt", exc)

    def stream_fallback(self, error: BaseException) -> Callable[[], Any] | None:
        """How to resend this call after its stream failed before the first chunk (the stream's
        record is finished by its proxy); None when the chain does not move on for ``error``."""
        resend = self.resend
        if resend is None:
            return None
        following = self.attempt.after(self.record.request_model, error, None, self.record.secrets)
        if following is None:
            self.attempt.annotate(error)
            return None

        def send() -> Any:
            with resending(following):
                result = resend()  # sync: the next attempts ran; async: a coroutine not yet run
            if inspect.iscoroutine(result):
                return _resent(following, result)
            return result

        return send


async def _resent(attempt: Attempt, sending: Any) -> Any:
    with resending(attempt):
        return await sending


def _billed(api: ApiKind, error: BaseException | None, status_code: int | None) -> ResponseInfo | None:
    """A failed attempt's answer as pricing sees it: the error body's usage when it carried some
    (some providers bill a failed call's tokens), ``NOT_BILLED`` for an error status without any,
    None when there was no answer (a timeout: what it cost is unknown)."""
    if error is not None:
        status_code = getattr(error, "status_code", None)
        try:
            payload = _error_payload(error)
        except Exception as exc:  # an odd error object: its cost is then the status's
            internal_error("reading the usage of a failed attempt", exc)
            payload = None
        if payload is not None:
            from ..calls.apis.read import response_info  # failures only

            return response_info(api, payload)
    return NOT_BILLED if type(status_code) is int else None


def _error_payload(error: BaseException) -> dict[str, Any] | None:
    """The JSON of an SDK error's response when it reports usage (the SDK keeps only its ``error``
    object as ``body``), else None."""
    for payload in (getattr(error, "body", None), _read_json(getattr(error, "response", None))):
        if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
            return payload
    return None


def _read_json(response: Any) -> Any:
    read = getattr(response, "json", None)
    if read is None or not getattr(response, "is_closed", False):
        return None  # never read a body the SDK left unread
    try:
        return read()
    except ValueError:
        return None
