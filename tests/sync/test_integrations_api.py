"""The integrations API, push notifications over HTTP, OAuth connect in the browser, the CLI."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests

from hub.services import Services
from hub.sync.engine import SyncEngine
from hub.sync.runtime import build_worker
from tests.conftest import next_weekday, z
from tests.fakes.google_calendar import GoogleCalendarSim
from tests.support import Api, LiveServer
from tests.sync.conftest import drain, google_body, make_worker, ours


def _wait(cond: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_integrations_crud_shows_status_never_credentials(
    api: Api, staff: dict, gsim: GoogleCalendarSim
) -> None:
    body = google_body(gsim, {"resourceId": staff["anna"]["id"]})
    r = api.post("/integrations", json=body)
    assert r.status_code == 201, r.text
    integ = r.json()
    assert integ["status"] == "Active" and integ["statusMessage"] is None
    assert {"lastSuccessAt", "lastErrorAt", "scope", "config"} <= set(integ)
    assert integ["scope"] == {"resourceId": staff["anna"]["id"]}
    for secret in (
        body["credentials"]["accessToken"],
        body["credentials"]["refreshToken"],
        "calhub-secret",
    ):
        assert secret not in r.text
    assert "credentials" not in integ

    listing = api.get("/integrations").json()
    assert [i["id"] for i in listing["data"]] == [integ["id"]]
    assert body["credentials"]["accessToken"] not in api.get("/integrations").text

    r = api.patch(
        f"/integrations/{integ['id']}",
        json={"name": "Anna's work calendar", "status": "Disconnected"},
    )
    assert r.status_code == 200 and r.json()["name"] == "Anna's work calendar"
    assert r.json()["status"] == "Disconnected"

    bad = api.post("/integrations", json={**body, "provider": "myspace"})
    assert bad.status_code == 422 and "known providers" in bad.json()["detail"]
    bad = api.post("/integrations", json={**body, "config": {"baseUrl": gsim.base_url}})
    assert bad.status_code == 422 and "calendarId" in bad.json()["detail"]
    bad = api.post("/integrations", json={**body, "scope": {"resourceId": "nope"}})
    assert bad.status_code == 422 and "resourceId" in bad.json()["detail"]

    assert api.delete(f"/integrations/{integ['id']}").status_code == 204
    assert api.get(f"/integrations/{integ['id']}").status_code == 404


def test_echoed_push_notification_creates_no_outbox_row_and_no_write(
    live: LiveServer, api: Api, services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim
) -> None:
    integ = api.post(
        "/integrations", json=google_body(gsim, {"resourceId": staff["anna"]["id"]})
    ).json()
    engine = SyncEngine(services)
    worker = build_worker(services)
    worker.start()
    try:
        _wait(lambda: engine.integration(integ["id"]).cursor.get("channel"), what="a push channel")
        appt = api.post(
            "/appointments",
            json={
                "serviceId": cafe["service"]["id"],
                "resourceIds": [staff["anna"]["id"]],
                "start_time": z(next_weekday(1, 15)),
                "customer": {"firstName": "Lou"},
            },
        ).json()
        _wait(lambda: appt["id"] in ours(gsim), what="the event on Google")
        sent = gsim.notifications_sent
        _wait(
            lambda: gsim.notifications_sent > sent or gsim.notifications_sent >= 2,
            what="the echo notification",
        )
        time.sleep(0.8)  # the hook pulls in the background
        writes, rows = gsim.writes, _outbox_rows(services)
        time.sleep(1.0)
        assert gsim.writes == writes == 1
        assert _outbox_rows(services) == rows == 1
        assert engine.integration(integ["id"]).cursor["pull"]["syncToken"]  # the echo was pulled
    finally:
        worker.stop()

    forged = requests.post(
        f"{live.url}/hooks/{integ['id']}",
        headers={
            "X-Goog-Channel-ID": engine.integration(integ["id"]).cursor["channel"]["id"],
            "X-Goog-Resource-State": "exists",
            "X-Goog-Channel-Token": "guess",
        },
        timeout=10,
    )
    assert forged.status_code == 403


def _outbox_rows(services: Services) -> int:
    from sqlalchemy import func, select

    from hub.store.models import Outbox

    with services.db.reader() as s:
        return int(
            s.scalar(select(func.count()).select_from(Outbox).where(Outbox.target == "integration"))
            or 0
        )


def test_oauth_connect_in_the_browser(
    live: LiveServer, api: Api, services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim
) -> None:
    body = google_body(gsim, {"resourceId": staff["anna"]["id"]})
    body["credentials"] = {"clientId": "calhub-client", "clientSecret": "calhub-secret"}
    integ = api.post("/integrations", json=body).json()
    assert integ["status"] == "Disconnected" and integ["connectUrl"].startswith(live.url)

    unsigned = requests.get(
        f"{live.url}/oauth/google/start?integration={integ['id']}",
        timeout=10,
        allow_redirects=False,
    )
    assert unsigned.status_code == 403

    browser = requests.Session()
    page = browser.get(integ["connectUrl"], timeout=10)  # → Google consent → back to calhub
    assert page.status_code == 200 and "Connected" in page.text
    after = api.get(f"/integrations/{integ['id']}").json()
    assert after["status"] == "Active"

    appt = services.booking.create(
        {
            "serviceId": cafe["service"]["id"],
            "resourceIds": [staff["anna"]["id"]],
            "start_time": z(next_weekday(2, 13)),
            "customer": {"firstName": "Ida"},
        }
    )
    drain(services, make_worker(services, SyncEngine(services)))
    assert appt["id"] in ours(gsim)


def test_dead_letters_are_listed_and_retried(
    api: Api, services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim
) -> None:
    integ = api.post(
        "/integrations", json=google_body(gsim, {"resourceId": staff["anna"]["id"]})
    ).json()
    gsim.set_faults(1.0, ("400",))
    appt = services.booking.create(
        {
            "serviceId": cafe["service"]["id"],
            "resourceIds": [staff["anna"]["id"]],
            "start_time": z(next_weekday(3, 13)),
            "customer": {"firstName": "Ida"},
        }
    )
    worker = make_worker(services, SyncEngine(services))
    drain(services, worker)
    dead = api.get(f"/integrations/{integ['id']}/deadletters").json()
    assert dead["count"] == 1 and "Bad Request" in dead["data"][0]["lastError"]
    assert api.get(f"/integrations/{integ['id']}").json()["deliveries"] == {"pending": 0, "dead": 1}
    gsim.set_faults(0.0)
    assert api.post(f"/integrations/{integ['id']}/deadletters/retry", json={}).json() == {
        "retried": 1
    }
    drain(services, worker)
    assert appt["id"] in ours(gsim)


def test_resync_endpoint_and_cli(
    api: Api,
    services: Services,
    cafe: dict,
    staff: dict,
    gsim: GoogleCalendarSim,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    integ = api.post(
        "/integrations", json=google_body(gsim, {"resourceId": staff["anna"]["id"]}, name="Anna G")
    ).json()
    day = next_weekday(4, 9)
    gsim.user_create("primary", "Yoga", day, day + timedelta(hours=1))
    appt = services.booking.create(
        {
            "serviceId": cafe["service"]["id"],
            "resourceIds": [staff["anna"]["id"]],
            "start_time": z(day + timedelta(hours=3)),
            "customer": {"firstName": "Ida"},
        }
    )
    r = api.post(f"/integrations/{integ['id']}/resync")
    assert r.status_code == 200, r.text
    # Repaired: the appointment and Anna's (daily, recurring) shift, never pushed before.
    assert r.json()["result"]["busyChanged"] == 1 and r.json()["result"]["repaired"] == 2
    assert appt["id"] in ours(gsim)

    from hub.cli import main

    s = services.settings
    monkeypatch.setenv("CALHUB_SECRET_KEY", s.secret_key)
    if s.database_url:
        monkeypatch.setenv("CALHUB_DATABASE_URL", s.database_url)
    else:
        monkeypatch.setenv("CALHUB_HOME", str(s.home))
    assert main(["sync", "status"]) == 0
    out = capsys.readouterr().out
    assert "Anna G" in out and "Active" in out and "PENDING" in out
    assert main(["sync", "resync", "Anna G"]) == 0
    out = capsys.readouterr()
    assert "Anna G:" in out.out and "repaired" in out.out
