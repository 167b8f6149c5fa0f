"""Test helpers: isolated databases on SQLite or PostgreSQL, live servers on free ports."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from sqlalchemy import create_engine, text

from hub.config import Settings
from hub.services import Services, build_services

PG_URL = os.environ.get("CALHUB_TEST_DATABASE_URL", "")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = (
        parts.query
        + ("&" if parts.query else "")
        + urlencode({"options": f"-csearch_path={schema}"})
    )
    return urlunsplit(parts._replace(query=query))


@contextmanager
def isolated_database_url(tmp: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file, or a new schema on the test PostgreSQL server."""
    if not PG_URL:
        yield f"sqlite:///{tmp / 'calhub.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_settings(tmp: Path, url: str, **overrides: Any) -> Settings:
    """Settings for a test hub."""
    settings = Settings(
        home=tmp,
        database_url=url if url.startswith("postgresql") else "",
        secret_key="test-secret-key-not-for-production",
        base_url="http://127.0.0.1",
    )
    if url.startswith("sqlite"):
        settings.home = Path(url.removeprefix("sqlite:///")).parent
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


class LiveServer:
    """The full WSGI hub served by waitress on a free port in a background thread."""

    def __init__(self, services: Services) -> None:
        import waitress

        from hub.wsgi import build_wsgi

        self.services = services
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        services.settings.base_url = self.url
        self._server = waitress.create_server(
            build_wsgi(services), host="127.0.0.1", port=self.port, threads=16
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the listening socket from stop() ends waitress's select() with EBADF;
            # anything else while not stopping is a real failure.
            if not self._stopping.is_set():
                raise

    def stop(self) -> None:
        """Shut the server down: stop listening, then let requests in flight finish."""
        self._stopping.set()
        self._server.close()
        self._server.task_dispatcher.shutdown(timeout=5)
        self._thread.join(0.5)  # keep-alive channels may hold the loop; the thread is a daemon


class Api:
    """A small authenticated client for /api/v1 on a live server."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def __getattr__(self, method: str) -> Any:
        def call(path: str, **kw: Any) -> requests.Response:
            return self.session.request(method.upper(), self.base + path, timeout=30, **kw)

        return call


def build_test_services(tmp: Path, url: str, **overrides: Any) -> Services:
    """Migrated services on ``url``."""
    return build_services(make_settings(tmp, url, **overrides))
