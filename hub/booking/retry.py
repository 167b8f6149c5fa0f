"""Re-run a command whose transaction lost a database-level race (deadlock, serialisation, lock).

Commands lock resource rows in id order, so deadlocks should not happen; but PostgreSQL may still
pick a victim (foreign-key share locks, a concurrent set-up change), and a SQLite writer can time
out waiting for the write lock under heavy load. Such a failure rolled everything back, so the
whole command can safely run again; the caller never sees a 5xx for it.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from hub.domain.errors import UpstreamUnavailable

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# SQLSTATEs PostgreSQL uses for "try the transaction again".
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
ATTEMPTS = 6
_active = threading.local()  # inside a retried call, nested decorated calls just run


def is_retryable(error: BaseException) -> bool:
    """True when ``error`` is a transient conflict between transactions, not a real failure."""
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database table is locked" in text


def retry_transient(func: F) -> F:
    """Decorator: run a command again (with jittered backoff) when it lost a transaction race."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_active, "on", False):
            return func(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            _active.on = True
            try:
                return func(*args, **kwargs)
            except DBAPIError as e:
                if not is_retryable(e):
                    raise
                if attempt == ATTEMPTS:
                    raise UpstreamUnavailable(
                        "the database stayed busy; nothing was changed, please retry",
                        retry_after=1,
                    ) from e
                logger.info(
                    "%s lost a transaction race (attempt %d): %s", func.__name__, attempt, e
                )
                time.sleep(random.uniform(0.005, 0.05) * attempt)
            finally:
                _active.on = False
        raise AssertionError("unreachable")

    return wrapper  # type: ignore[return-value]
