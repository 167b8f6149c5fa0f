"""Helpers for booking tests: `calhub serve` processes sharing one database, concurrent clients."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support import isolated_database_url
from tests.test_cli_and_serve import Served


@contextmanager
def served_pair(tmp: Path) -> Iterator[tuple[list[Served], str]]:
    """Two `calhub serve` processes on one fresh database, and an API key valid on both."""
    with isolated_database_url(tmp) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
        env["CALHUB_HOME"] = str(tmp / "home")
        env["CALHUB_THREADS"] = "24"
        if url.startswith("postgresql"):
            env["CALHUB_DATABASE_URL"] = url
            env["CALHUB_SECRET_KEY"] = "test-secret"
        made = subprocess.run(
            [sys.executable, "-m", "hub.cli", "apikey", "create", "races"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().splitlines()[-1]
        first = Served(env)
        try:
            second = Served(env, "--no-worker")
        except BaseException:
            first.terminate()
            raise
        try:
            yield [first, second], key
        finally:
            for s in (first, second):
                code, out = s.terminate()
                assert code == 0, out
                assert "Traceback" not in out, out


def all_at_once(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(i)`` for i in range(n) in n threads released together; return the results."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except Exception as e:  # noqa: BLE001 - the assertion shows it
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class Client:
    """A tiny API client bound to one base URL and key (one requests session per thread)."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.headers = {"Authorization": f"Bearer {key}"}

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        """POST JSON."""
        return requests.post(self.base + path, json=body, headers=self.headers, timeout=60)

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET with query parameters."""
        return requests.get(self.base + path, params=params, headers=self.headers, timeout=60)
