"""Acceptance 3: secret .ics feeds — caching headers, 304, revocation, rotation, privacy, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
import requests

from hub.domain.recurrence import expand
from hub.domain.timerange import TimeRange
from hub.services import Services
from tests.mail.conftest import PARIS, add_staff, paris_at, strict
from tests.support import Api

BOB = {
    "firstName": "Bob",
    "lastName": "Marchetti",
    "email": "bob@example.org",
    "phone": "+44 7700 900123",
}
ANN = {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "+33 6 11 22"}


def _setup(services: Services) -> dict[str, Any]:
    b = services.booking
    loc = b.create_location(
        {"name": "Pawsome", "timezone": "Europe/Paris", "address": "12 Rue des Chats"}
    )
    table = b.create_resource(
        {"name": "Table 1", "locationId": loc["id"], "kind": "table", "capacity": 8}
    )
    mia = add_staff(services, loc["id"], "Mia", None)
    svc = b.create_service({"name": "Cats & coffee", "locationId": loc["id"], "duration": 60})
    day = datetime.now(PARIS).date() + timedelta(days=3)
    ann = b.create(
        {
            "serviceId": svc["id"],
            "resourceIds": [table["id"], mia["id"]],
            "start_time": paris_at(day, 10),
            "partySize": 2,
            "notes": "Ann's birthday",
            "customer": ANN,
        }
    )
    bob = b.create(
        {
            "serviceId": svc["id"],
            "resourceIds": [table["id"], mia["id"]],
            "start_time": paris_at(day, 12),
            "notes": "Bob's allergy: oat milk",
            "customer": BOB,
        }
    )
    b.create_blackout(
        {
            "locationId": loc["id"],
            "kind": "holiday",
            "start": paris_at(day + timedelta(days=10), 0),
            "end": paris_at(day + timedelta(days=11), 0),
            "summary": "Staff party (private)",
        }
    )
    return {"location": loc, "mia": mia, "ann": ann, "bob": bob, "day": day}


def _feed(api: Api, scope: str, target: str) -> dict[str, Any]:
    res = api.post("/feeds", json={"scope": scope, "id": target})
    assert res.status_code == 201, res.text
    return res.json()


def test_customer_feed_caching_304_privacy_and_revocation(api: Api, services: Services) -> None:
    w = _setup(services)
    made = _feed(api, "customer", w["ann"]["customerId"])
    assert set(made) >= {"id", "url", "webcalUrl"}
    assert made["webcalUrl"] == "webcal://" + made["url"].split("://", 1)[1]
    token = made["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 40

    res = requests.get(made["url"], timeout=10)
    assert res.status_code == 200
    assert res.headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag, modified = res.headers["ETag"], res.headers["Last-Modified"]
    assert etag and modified
    text = res.text
    cal = strict(text)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in text and "X-PUBLISHED-TTL:PT1H" in text
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert uids == [w["ann"]["uid"]]
    # The whole text: nothing of Bob, nor of any other booking.
    for secret in ("Bob", "Marchetti", "bob@example.org", "+44 7700", "oat milk", w["bob"]["id"]):
        assert secret not in text
    assert "Ann's birthday" in text  # her own notes are hers to see

    assert requests.get(made["url"], headers={"If-None-Match": etag}, timeout=10).status_code == 304
    assert (
        requests.get(made["url"], headers={"If-Modified-Since": modified}, timeout=10).status_code
        == 304
    )
    # A change to her booking changes the feed: the old validators no longer match.
    time.sleep(1.1)  # HTTP dates have one-second resolution
    services.booking.reschedule(w["ann"]["id"], {"start_time": paris_at(w["day"], 16)})
    fresh = requests.get(made["url"], headers={"If-None-Match": etag}, timeout=10)
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert (
        requests.get(made["url"], headers={"If-Modified-Since": modified}, timeout=10).status_code
        == 200
    )

    listed = api.get("/feeds").json()["data"]
    assert [f["id"] for f in listed] == [made["id"]]
    assert token not in str(listed)

    assert api.delete(f"/feeds/{made['id']}").status_code == 204
    gone = requests.get(made["url"], timeout=10)
    assert gone.status_code == 404
    assert api.get("/feeds").json()["data"] == []


def test_rotation_and_bad_requests(api: Api, services: Services) -> None:
    w = _setup(services)
    made = _feed(api, "location", w["location"]["id"])
    rotated = api.post(f"/feeds/{made['id']}/rotate")
    assert rotated.status_code == 200 and rotated.json()["id"] == made["id"]
    assert requests.get(made["url"], timeout=10).status_code == 404
    assert requests.get(rotated.json()["url"], timeout=10).status_code == 200

    bad = api.post("/feeds", json={"scope": "everyone", "id": "x"})
    assert bad.status_code == 422 and "scope" in bad.json()["detail"]
    missing = api.post("/feeds", json={"scope": "customer", "id": "nobody"})
    assert missing.status_code == 404
    not_staff = api.post("/feeds", json={"scope": "staff", "id": w["ann"]["customerId"]})
    assert not_staff.status_code in (404, 422)
    assert (
        requests.get(made["url"].rsplit("/", 1)[0] + "/nonsense.ics", timeout=10).status_code == 404
    )


def test_location_feed_shows_only_unavailable_blocks(api: Api, services: Services) -> None:
    w = _setup(services)
    text = requests.get(_feed(api, "location", w["location"]["id"])["url"], timeout=10).text
    cal = strict(text)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 3  # two bookings and the holiday
    assert {str(e["SUMMARY"]) for e in events} == {"Unavailable"}
    for secret in ("Ann", "Bob", "birthday", "oat milk", "Staff party", "Cats", "@example"):
        assert secret not in text


def test_staff_feed_recurring_shift_expands_like_the_hub(api: Api, services: Services) -> None:
    w = _setup(services)
    b = services.booking
    start = datetime.now(PARIS).date() + timedelta(days=1)
    while start.weekday() != 0:  # DTSTART on a day the rule yields (RFC 5545 §3.8.5.3)
        start += timedelta(days=1)
    shift = b.create_shift(
        {
            "resourceId": w["mia"]["id"],
            "start": paris_at(start, 6),
            "end": paris_at(start, 7),
            "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,SA;COUNT=60",
        }
    )
    text = requests.get(_feed(api, "staff", w["mia"]["id"])["url"], timeout=10).text
    cal = strict(text)
    assert "Ann Lee" in text and "ann@example.com" not in text  # staff see names, not contacts
    assert {w["ann"]["uid"], w["bob"]["uid"], shift["uid"]} <= {
        str(e["UID"]) for e in cal.walk("VEVENT")
    }
    window = TimeRange(datetime.now(UTC), datetime.now(UTC) + timedelta(days=400))
    theirs = sorted(
        (e.decoded("DTSTART").astimezone(UTC), e.decoded("DTEND").astimezone(UTC))
        for e in recurring_ical_events.of(cal).between(window.start, window.end)
        if str(e["UID"]) == shift["uid"]
    )
    ours = [
        (r.start, r.end)
        for r in expand(
            datetime.fromisoformat(shift["start"].replace("Z", "+00:00")),
            datetime.fromisoformat(shift["end"].replace("Z", "+00:00")),
            shift["rrule"],
            ZoneInfo("Europe/Paris"),
            window,
            [],
        )
    ]
    assert len(ours) == 60 and theirs == ours
    assert {s.astimezone(PARIS).hour for s, _ in ours} == {6}  # across the DST change too


def test_feed_cli_create_list_revoke(services: Services, live: Any) -> None:
    w = _setup(services)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
    env.update(
        CALHUB_HOME=str(services.settings.home),
        CALHUB_SECRET_KEY=services.settings.secret_key,
        CALHUB_BASE_URL=live.url,
    )
    if services.settings.database_url:
        env["CALHUB_DATABASE_URL"] = services.settings.database_url

    def calhub(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = calhub("feed", "create", "--scope", "staff", w["mia"]["id"])
    url = out.strip().splitlines()[-1]
    assert url.startswith(live.url + "/feeds/") and "webcal://" in out
    assert requests.get(url, timeout=10).status_code == 200
    feed_id = out.split("feed ", 1)[1].split()[0]
    assert feed_id in calhub("feed", "list")
    calhub("feed", "revoke", feed_id)
    assert requests.get(url, timeout=10).status_code == 404
    assert "no feeds" in calhub("feed", "list")
