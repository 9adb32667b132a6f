"""Legacy completions (``/completions``): the shapes of chat completions, ``text`` for ``message``.

A response's choices and a stream's chunks carry the same fields chat's do (model, id, choices
with a finish reason, usage), so chat's readers serve this family unchanged; content capture reads
each choice's ``text`` (``calls.content``).
"""

from __future__ import annotations

from .chat import read_chunk, response_info

__all__ = ["read_chunk", "response_info"]
