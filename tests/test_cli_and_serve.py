"""The command line and `calhub serve` as a newcomer and an operator use them: real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.support import free_port, isolated_database_url


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a calhub process on an isolated database."""
    with isolated_database_url(tmp_path) as url:
        e = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
        e["CALHUB_HOME"] = str(tmp_path / "home")
        if url.startswith("postgresql"):
            e["CALHUB_DATABASE_URL"] = url
            e["CALHUB_SECRET_KEY"] = "test-secret"
        yield e


def calhub(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the calhub CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Served:
    """A running `calhub serve` process."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(self.port), *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        self.proc.kill()
        raise AssertionError(
            "calhub serve did not become healthy:\n" + (self.proc.stdout.read() or "")
        )

    def terminate(self) -> tuple[int, str]:
        """SIGTERM and wait; returns (exit code, output)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return self.proc.returncode, out


def test_migrate_user_and_apikey(env: dict[str, str]) -> None:
    assert calhub(env, "migrate").returncode == 0
    res = calhub(
        env, "user", "add", "zoe", "--role", "manager", "--password-stdin", stdin="s3cret-pass\n"
    )
    assert res.returncode == 0, res.stderr
    dup = calhub(
        env, "user", "add", "zoe", "--role", "manager", "--password-stdin", stdin="s3cret-pass\n"
    )
    assert dup.returncode == 2 and "already exists" in dup.stderr
    short = calhub(
        env, "user", "add", "yan", "--role", "staff", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 2 and "at least 8" in short.stderr
    key = calhub(env, "apikey", "create", "booking-system")
    assert key.returncode == 0
    last_line = key.stdout.strip().splitlines()[-1]
    assert last_line.startswith("chk_") and " " not in last_line and len(last_line) > 40


def test_serve_demo_health_dav_and_api(env: dict[str, str]) -> None:
    key = calhub(env, "apikey", "create", "t").stdout.strip().splitlines()[-1]
    server = Served(env, "--demo")
    try:
        health = requests.get(server.url + "/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        anon = requests.request("PROPFIND", server.url + "/dav/", timeout=5)
        assert anon.status_code == 401
        dav = requests.request(
            "PROPFIND",
            server.url + "/dav/",
            auth=("manager", "calhub-demo"),
            headers={"Depth": "1"},
            timeout=5,
        )
        assert dav.status_code == 207
        wk = requests.get(server.url + "/.well-known/caldav", allow_redirects=False, timeout=5)
        assert wk.status_code == 301 and wk.headers["Location"].endswith("/dav/")
        appts = requests.get(
            server.url + "/api/v1/appointments",
            timeout=5,
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        assert appts["total"] >= 10  # a week of demo bookings
    finally:
        code, out = server.terminate()
    assert code == 0, out
    # --demo is idempotent: a second start finds the café and books nothing twice.
    again = Served(env, "--demo")
    try:
        appts2 = requests.get(
            again.url + "/api/v1/appointments",
            timeout=5,
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        assert appts2["total"] == appts["total"]
    finally:
        again.terminate()


def test_sigterm_during_traffic_loses_no_committed_change(env: dict[str, str]) -> None:
    key = calhub(env, "apikey", "create", "t").stdout.strip().splitlines()[-1]
    server = Served(env)
    h = {"Authorization": f"Bearer {key}"}
    base = server.url + "/api/v1"
    loc = requests.post(
        base + "/locations", json={"name": "L", "timezone": "UTC"}, headers=h
    ).json()
    area = requests.post(
        base + "/resources",
        json={"name": "Hall", "locationId": loc["id"], "kind": "area", "capacity": 10000},
        headers=h,
    ).json()
    svc = requests.post(
        base + "/services", json={"name": "S", "locationId": loc["id"], "duration": 30}, headers=h
    ).json()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

    def client(n: int) -> None:
        s = requests.Session()
        i = 0
        while not stop.is_set() and i < 500:
            i += 1
            body = {
                "serviceId": svc["id"],
                "resourceIds": [area["id"]],
                "partySize": 1,
                "start_time": (start + timedelta(minutes=30 * (i % 40))).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "customer": {"firstName": f"C{n}", "email": f"c{n}@example.com"},
            }
            try:
                r = s.post(base + "/appointments", json=body, headers=h, timeout=10)
            except requests.RequestException:
                return  # the server went away: that request may or may not have committed
            if r.status_code == 201:
                with lock:
                    acknowledged.append(r.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    code, out = server.terminate()
    stop.set()
    for t in threads:
        t.join(30)
    assert code == 0, out
    assert "stopped cleanly" in out
    assert len(acknowledged) > 5
    restarted = Served(env)
    try:
        for appt_id in acknowledged:
            r = requests.get(
                restarted.url + f"/api/v1/appointments/{appt_id}", headers=h, timeout=10
            )
            assert r.status_code == 200, f"acknowledged booking {appt_id} was lost"
    finally:
        restarted.terminate()
