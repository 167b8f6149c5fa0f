"""API keys: created and revoked with the CLI, and a revoked key stops working at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import Settings
from hub.services import build_services
from tests.support import Api, LiveServer, isolated_database_url


@pytest.fixture
def hub_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], Settings]]:
    """CLI environment and matching settings for one isolated database."""
    with isolated_database_url(tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
        env["CALHUB_HOME"] = str(tmp_path / "home")
        env["CALHUB_SECRET_KEY"] = "test-secret-for-cli"
        settings = Settings(home=tmp_path / "home", secret_key="test-secret-for-cli")
        if url.startswith("postgresql"):
            env["CALHUB_DATABASE_URL"] = settings.database_url = url
        yield env, settings


def calhub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real console command in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_keys_work_until_revoked(
    hub_env: tuple[dict[str, str], Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env, settings = hub_env
    created = calhub(env, "apikey", "create", "booking-system")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]

    # the other commands run in this process (same code path, without the start-up cost)
    for name in [k for k in os.environ if k.startswith("CALHUB_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("CALHUB_"):
            monkeypatch.setenv(name, value)

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    services = build_services(settings)
    other = services.booking.create_api_key("reporting")["key"]
    server = LiveServer(services)
    try:
        api, api2 = Api(server.url, key), Api(server.url, other)
        assert api.get("/locations").status_code == 200

        code, out, _ = cli("apikey", "revoke", "booking-system")
        assert code == 0 and "revoked" in out
        refused = api.get("/locations")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert api2.get("/locations").status_code == 200  # other keys are untouched

        code, _, err = cli("apikey", "revoke", "booking-system")
        assert code == 2 and "no live API key" in err
        code, _, _ = cli("apikey", "revoke", other)  # the key itself works too
        assert code == 0
        assert api2.get("/locations").status_code == 401
        code, out, _ = cli("apikey", "list")
        listed = out.strip().splitlines()
        assert len(listed) == 2 and all("revoked" in line for line in listed)
        assert "booking-system" in listed[0] and key not in out
    finally:
        server.stop()
        services.close()
