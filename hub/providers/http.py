"""The shared ``requests`` session factory for connectors: timeouts and a clear User-Agent."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from hub import __version__

DEFAULT_TIMEOUT = (5.0, 20.0)  # connect, read
MAX_RETRY_AFTER = 86400.0


class TimeoutSession(requests.Session):
    """A session whose requests always carry a timeout (connectors never hang a worker)."""

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self._timeout = timeout
        self.headers["User-Agent"] = f"calhub/{__version__}"
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def make_session(timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> requests.Session:
    """A new session for one connector instance (retries are the sync engine's job)."""
    return TimeoutSession(timeout)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # A server's wish, not an order: nonsense ("inf", "nan") is ignored, and no wait
        # exceeds a day, so one bad header can never park a delivery for ever.
        return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), MAX_RETRY_AFTER)
