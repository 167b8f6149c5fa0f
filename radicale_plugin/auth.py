"""Radicale auth plugin: calhub users and their per-device app passwords.

Password hashes are scrypt (slow on purpose), so a successful login is remembered for a short
while by a digest of the credentials; the cached answer is re-validated on every request against
the current hashes (one indexed query), so a revoked app password stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from radicale import auth, config

from hub.booking.dav_read import DavQueries
from hub.services import Services

CACHE_SECONDS = 300
CACHE_MAX = 1000


class Auth(auth.BaseAuth):
    """Checks passwords against calhub users (and live per-device app passwords)."""

    def __init__(self, configuration: config.Configuration, services: Services) -> None:
        super().__init__(configuration)
        self._services = services
        self._queries = DavQueries(services.db)
        self._salt = os.urandom(16)
        self._cache: dict[bytes, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def _digest(self, login: str, password: str) -> bytes:
        return hmac.new(self._salt, f"{login}\0{password}".encode(), hashlib.sha256).digest()

    def _login(self, login: str, password: str) -> str:
        key = self._digest(login, password)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            username, stamp, expires = hit
            if expires > time.monotonic() and stamp in self._queries.live_password_hashes(login):
                return username
            with self._lock:
                self._cache.pop(key, None)
        user = self._services.booking.authenticate(login, password)
        if not user:
            return ""
        stamp = self._queries.matching_hash(login, password)
        if stamp:
            with self._lock:
                if len(self._cache) >= CACHE_MAX:
                    self._cache.clear()
                self._cache[key] = (user["username"], stamp, time.monotonic() + CACHE_SECONDS)
        return user["username"]
