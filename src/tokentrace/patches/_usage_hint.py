"""One log line per host whose chat streams end without token usage, saying how to get it.

In ``auto``, tokentrace asks a stream for its usage only on hosts known to accept
``stream_options`` (DESIGN §5); a stream elsewhere ends with no tokens and an unknown cost. The
user learns why, and the one setting that changes it, once per host: the hosts told are kept in a
bounded set, so a process talking to many hosts never grows it past ``_MAX_HOSTS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import names
from .._guard import logger
from ..calls.apis import OPERATIONS, ApiKind

if TYPE_CHECKING:
    from ..calls.records import LLMCall, ResponseInfo

__all__ = ["note_stream_end"]

_MAX_HOSTS = 64
_CHAT = OPERATIONS[ApiKind.CHAT]
_told: set[str] = set()


def note_stream_end(policy: str, call: LLMCall, info: ResponseInfo | None) -> None:
    """After a chat stream read to its end: log the hint if it had no usage and nobody asked.

    Not under ``always`` (tokentrace asked) nor ``never`` (the user chose), nor when tokentrace
    asked and the host ignored it (the setting would change nothing).
    """
    if (info is not None and info.usage is not None) or policy != "auto" or call.usage_injected:
        return
    if call.operation != _CHAT:
        return
    host = call.endpoint.address
    if host in _told or len(_told) >= _MAX_HOSTS:
        return
    _told.add(host)
    logger.warning(
        "tokentrace: chat streams from %s end without token usage, so their tokens and cost are "
        "unknown. If %s accepts stream_options (vLLM, LiteLLM proxy and Ollama do), let tokentrace "
        "ask for it: add the host to the stream_usage_hosts setting (%s=%s) for openai SDK calls, "
        "or set stream_usage='always' (plain HTTP calls too); or ask yourself with "
        'stream_options={"include_usage": true}.',
        host,
        host,
        names.ENV_STREAM_USAGE_HOSTS,
        host,
    )


def forget_hosts() -> None:
    """Tell every host again (a new ``instrument()``; tests)."""
    _told.clear()
