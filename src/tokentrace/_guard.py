"""What happens when tokentrace itself fails: the user's call carries on.

An internal error is logged once per place it happens (the traceback at debug level), and the
user's call proceeds as if tokentrace were not there. Under the test suite (or with
``TOKENTRACE_RAISE_INTERNAL_ERRORS=1``) it is raised instead, so bugs cannot hide.
"""

from __future__ import annotations

import logging

from . import config

__all__ = ["internal_error", "logger"]

logger = logging.getLogger("tokentrace")

_reported: set[str] = set()


def internal_error(where: str, exc: BaseException) -> None:
    """Report a failure inside tokentrace; re-raise it only under tests."""
    if config.raise_internal_errors():
        raise exc
    if where not in _reported:
        _reported.add(where)
        logger.warning(
            "tokentrace failed while %s (%s: %s); your code is still running fine, "
            "only this call's telemetry may be incomplete.",
            where,
            type(exc).__name__,
            exc,
        )
    logger.debug("tokentrace internal error while %s", where, exc_info=exc)
