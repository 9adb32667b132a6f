"""Work handed to a thread pool from inside ``track()`` runs with the submitter's context.

``concurrent.futures.ThreadPoolExecutor.submit`` runs its function in a worker thread's own
context, so the tracking id of the code that submitted it is lost (``litellm.batch_completion``,
``dspy.Parallel`` and an app's own pool alike). While tokentrace is instrumented (and
``pool_context`` is on), ``submit`` runs the function in a copy of the submitter's context, the way
an asyncio task or ``asyncio.to_thread`` does. ``Executor.map`` and ``loop.run_in_executor`` (with
the loop's default executor or any ``ThreadPoolExecutor``) submit through it, so they follow.

The copy is made only when the submitter is inside ``track()`` (its tracking path, here or carried
in the OpenTelemetry context): elsewhere a pool behaves exactly as Python's own. The whole context
is copied, as asyncio copies it, so the OpenTelemetry context (the current span) travels with the
work as well. The method is wrapped in place (``wrapt``), so the class, ``isinstance`` and the
signature are unchanged, and ``uninstrument()`` puts the original back.
"""

from __future__ import annotations

import sys
from contextvars import copy_context
from typing import Any

from .. import tracking
from .._guard import internal_error
from ..tracking import path_here

__all__ = ["TARGETS", "submit_in_context"]

TARGETS = (("concurrent.futures.thread", "ThreadPoolExecutor.submit"),)


def _tracked() -> bool:
    return bool(path_here() or tracking.carried_path())


def _shares_context(executor: object) -> bool:
    # An interpreter pool (Python 3.14) sends its work to another interpreter: a context's bound
    # ``run`` cannot go there, so its work is left as it is.
    interpreters = sys.modules.get("concurrent.futures.interpreter")
    pool = getattr(interpreters, "InterpreterPoolExecutor", None)
    return pool is None or not isinstance(executor, pool)


def submit_in_context(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``wrapt`` wrapper of ``ThreadPoolExecutor.submit``."""
    try:
        copy = bool(args) and _tracked() and _shares_context(instance)
    except Exception as exc:  # never in the way of the app's own work
        internal_error("deciding whether to copy the context into a thread pool", exc)
        copy = False
    if copy:
        return wrapped(copy_context().run, *args, **kwargs)
    return wrapped(*args, **kwargs)
