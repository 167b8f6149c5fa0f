"""Run caldav-server-tester against calhub and against stock Radicale 3.9, and compare.

Shared by ``tests/caldav/test_server_tester.py`` and ``bench/caldav_server_tester.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support import build_test_services, free_port, isolated_database_url

TESTER = str(Path(sys.executable).parent / "caldav-server-tester")
RANK = {
    "full": 4,
    "default": 4,
    "quirk": 3,
    "fragile": 3,
    "unknown": 2,
    "ungraceful": 1,
    "broken": 0,
    "unsupported": 0,
}
STOCK_SERVER = """
import sys, radicale.config, radicale.server
port, folder = int(sys.argv[1]), sys.argv[2]
cfg = radicale.config.load()
cfg.update({"server": {"hosts": f"127.0.0.1:{port}"}, "auth": {"type": "none"},
            "storage": {"filesystem_folder": folder}, "web": {"type": "none"},
            "logging": {"level": "warning"}}, "bench", privileged=True)
radicale.server.serve(cfg, None)
"""


def run_tester(url: str, user: str, password: str) -> dict[str, Any]:
    """The tester's JSON feature report for one server."""
    proc = subprocess.run(
        [
            TESTER,
            "--caldav-url",
            url,
            "--caldav-username",
            user,
            "--caldav-password",
            password,
            "--format",
            "json",
            "--verbose",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        return json.loads(proc.stdout)["features"]
    except (ValueError, KeyError) as e:
        raise RuntimeError(f"caldav-server-tester failed: {proc.stderr[-2000:]}") from e


def level(features: dict[str, Any], key: str) -> str:
    """The support level a report gives ``key`` ("default" when it reports no deviation)."""
    value = features.get(key)
    if not isinstance(value, dict) or "support" not in value:
        return "default"
    return str(value["support"])


def regressions(stock: dict[str, Any], hub: dict[str, Any]) -> list[str]:
    """Features calhub supports less well than stock Radicale."""
    out = []
    for key in sorted(set(stock) | set(hub)):
        a, b = level(stock, key), level(hub, key)
        if RANK.get(b, 2) < RANK.get(a, 2):
            out.append(f"{key}: stock {a}, calhub {b}")
    return out


def table(stock: dict[str, Any], hub: dict[str, Any]) -> str:
    """Both reports side by side."""
    lines = [f"{'feature':52s} {'stock Radicale 3.9':20s} calhub"]
    for key in sorted(set(stock) | set(hub)):
        lines.append(f"{key:52s} {level(stock, key):20s} {level(hub, key)}")
    return "\n".join(lines)


@contextmanager
def stock_radicale() -> Iterator[str]:
    """Stock Radicale 3.9 (multifilesystem, no auth) in a subprocess; yields its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [sys.executable, "-c", STOCK_SERVER, str(port), folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(100):
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


class StatusCounter:
    """WSGI middleware counting 5xx answers."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.errors: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def spy(status: str, headers: Any, exc_info: Any = None) -> Any:
            if status.startswith("5"):
                self.errors.append(
                    f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')} {status}"
                )
            return start_response(status, headers, exc_info)

        return self.app(environ, spy)


@contextmanager
def calhub_demo() -> Iterator[tuple[str, StatusCounter]]:
    """calhub with the demo café on a free port; yields (CalDAV URL, 5xx counter)."""
    import waitress

    from hub.demo import load_demo
    from hub.wsgi import build_wsgi

    with tempfile.TemporaryDirectory() as tmp, isolated_database_url(Path(tmp)) as db_url:
        services = build_test_services(Path(tmp), db_url)
        load_demo(services)
        counter = StatusCounter(build_wsgi(services))
        port = free_port()
        server = waitress.create_server(counter, host="127.0.0.1", port=port, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}/dav/", counter
        finally:
            server.close()
            services.close()


def compare() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(stock report, calhub report, calhub's 5xx answers)."""
    with stock_radicale() as url:
        stock = run_tester(url, "tester", "x")
    with calhub_demo() as (url, counter):
        hub = run_tester(url, "leo", "calhub-demo")
        errors = list(counter.errors)
    return stock, hub, errors
