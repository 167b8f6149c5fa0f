"""The shared ``requests`` session factory for connectors: timeouts and a clear User-Agent."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from hub import __version__

DEFAULT_TIMEOUT = (5.0, 20.0)  # connect, read


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
