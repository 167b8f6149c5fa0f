"""End to end through the engine for every connector besides Google (issue 6, acceptance 1, 3, 4).

Each test drives calhub through its REST API on a live server, lets the outbox worker push to the
provider's simulator (Graph, Zoho, Teamup) or a real Radicale, acts as the remote user there, and
pulls the changes back through the sync engine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.services import Services
from hub.store.models import BusyBlock, Outbox
from hub.sync.engine import SyncEngine
from tests.conftest import next_weekday, z
from tests.providers.harness import Harness, running
from tests.support import Api, build_test_services
from tests.sync.conftest import FAST, drain, make_worker, pending

PROVIDERS = ["microsoft", "caldav", "zoho", "teamup"]


@pytest.fixture
def services(tmp_path: Path, db_url: str) -> Iterator[Services]:
    """Quick retries; an HTTP timeout that a loaded 2-core machine's Radicale can meet."""
    svc = build_test_services(tmp_path, db_url, **{**FAST, "sync_http_timeout_seconds": 3.0})
    yield svc
    svc.close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _book(api: Api, cafe: dict, resource: str, start: datetime) -> dict[str, Any]:
    resp = api.post(
        "/appointments",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [resource],
            "start_time": z(start),
            "customer": {"firstName": "Maya", "lastName": "Okafor", "email": "maya@example.org"},
            "partySize": 2,
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _same_minute(remote_start: str, when: datetime) -> bool:
    """Whether a harness's remote start text (UTC, any ISO/basic form) is ``when``."""
    return re.sub(r"\D", "", remote_start)[:12] == when.strftime("%Y%m%d%H%M")


def _connect(api: Api, h: Harness, scope: dict[str, str], name: str | None = None) -> str:
    resp = api.post("/integrations", json=h.api_body(scope, name))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _free(api: Api, cafe: dict, resource: str, start: datetime) -> bool:
    """Whether availability with syncExternal=true offers ``start`` for ``resource``."""
    resp = api.get(
        "/availability",
        params={
            "serviceId": cafe["service"]["id"],
            "resourceIds": resource,
            "startDate": start.date().isoformat(),
            "syncExternal": "true",
        },
    )
    assert resp.status_code == 200, resp.text
    return any(t["start_time"] == z(start) for t in resp.json()["availableTimes"])


def _pull(engine: SyncEngine, h: Harness, integration_id: str, *, deletions: bool = False) -> None:
    # Zoho has no deletion feed: deletions are only seen by the periodic full listing.
    summary = engine.pull(integration_id, full=deletions and not h.incremental_deletes)
    assert summary.error is None, summary.error


def _writes(h: Harness) -> int:
    return sum(1 for m, _p in h.server.calls if m in ("POST", "PUT", "PATCH", "DELETE"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_way_sync_through_each_connector(
    provider: str, services: Services, cafe: dict, staff: dict, api: Api
) -> None:
    engine = SyncEngine(services)
    worker = make_worker(services, engine)
    anna = staff["anna"]["id"]
    day = next_weekday(2, 9)
    with running(provider) as h:
        integ = _connect(api, h, {"resourceId": anna})
        _pull(engine, h, integ)  # first full listing

        # calhub → remote: create, reschedule, cancel (through the API).
        appt = _book(api, cafe, anna, day)
        drain(services, worker)
        remote = h.ours(appt["id"])
        assert len(remote) == 1 and _same_minute(remote[0]["start"], day)
        assert "Maya" in remote[0]["title"] and "Okafor" not in remote[0]["title"]
        assert api.patch(
            f"/appointments/{appt['id']}", json={"start_time": z(day + timedelta(hours=1))}
        ).ok
        drain(services, worker)
        moved = h.ours(appt["id"])
        assert len(moved) == 1 and _same_minute(moved[0]["start"], day + timedelta(hours=1))
        assert api.put(f"/appointments/{appt['id']}/cancel", json={"by": "customer"}).ok
        drain(services, worker)
        assert h.ours(appt["id"]) == []

        # remote → calhub: a personal event blocks Anna's time; moved and deleted with it.
        slot = day + timedelta(hours=4)
        assert _free(api, cafe, anna, slot)
        rid = h.user_create("Dentist", slot, slot + timedelta(hours=1))
        _pull(engine, h, integ)
        assert not _free(api, cafe, anna, slot)
        h.user_move(rid, slot + timedelta(hours=2), slot + timedelta(hours=3))
        _pull(engine, h, integ)
        assert _free(api, cafe, anna, slot)
        assert not _free(api, cafe, anna, slot + timedelta(hours=2))
        h.user_delete(rid)
        _pull(engine, h, integ, deletions=True)
        assert _free(api, cafe, anna, slot + timedelta(hours=2))

        # Our own event moved remotely → a reschedule that is not pushed back.
        mine = _book(api, cafe, anna, day + timedelta(hours=8))
        blocker = _book(api, cafe, anna, day + timedelta(hours=11))
        drain(services, worker)
        eid = h.ours(mine["id"])[0]["id"]
        h.user_move(eid, day + timedelta(hours=9), day + timedelta(hours=10))
        writes = _writes(h)
        _pull(engine, h, integ)
        got = api.get(f"/appointments/{mine['id']}").json()
        assert _at(got["start_time"]) == day + timedelta(hours=9)
        assert pending(services, integ) == 0 and _writes(h) == writes

        # Moved onto a time the rules refuse (the 11:00 booking): put back and flagged.
        h.user_move(eid, day + timedelta(hours=11), day + timedelta(hours=12))
        _pull(engine, h, integ)
        got = api.get(f"/appointments/{mine['id']}").json()
        assert _at(got["start_time"]) == day + timedelta(hours=9)
        assert "put it back" in (got.get("flagged") or "")
        back = h.ours(mine["id"])
        assert len(back) == 1 and _same_minute(back[0]["start"], day + timedelta(hours=9))

        # Deleted remotely → cancelled in calhub; the other booking is untouched.
        h.user_delete(h.ours(mine["id"])[0]["id"])
        _pull(engine, h, integ, deletions=True)
        assert api.get(f"/appointments/{mine['id']}").json()["status"] == "CN"
        assert api.get(f"/appointments/{blocker['id']}").json()["status"] == "BK"
        drain(services, worker)
        assert len(h.ours(blocker["id"])) == 1
        assert engine.integration(integ).status == "Active"


def _blocks(services: Services) -> int:
    with services.db.reader() as s:
        return int(s.scalar(select(func.count()).select_from(BusyBlock)) or 0)


def _outbox_rows(services: Services) -> int:
    with services.db.reader() as s:
        return int(
            s.scalar(select(func.count()).select_from(Outbox).where(Outbox.target == "integration"))
            or 0
        )


def _wait(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_graph_push_handshake_notifications_and_no_echo(
    services: Services, cafe: dict, staff: dict, api: Api, live: Any
) -> None:
    engine = SyncEngine(services)
    worker = make_worker(services, engine)
    anna = staff["anna"]["id"]
    with running("microsoft") as h:
        integ = _connect(api, h, {"resourceId": anna})
        _pull(engine, h, integ)

        # The handshake: Graph validates the URL synchronously while creating the subscription.
        channel = engine.ensure_channel(engine.integration(integ))
        assert channel and list(h.server.subscriptions) == [channel["id"]]
        assert engine.ensure_channel(engine.integration(integ))["id"] == channel["id"]  # fresh
        probe = live.url + f"/hooks/{integ}"
        import requests

        started = time.monotonic()
        hs = requests.post(probe, params={"validationToken": "hello <world>"}, timeout=10)
        assert hs.status_code == 200 and hs.text == "hello <world>"
        assert hs.headers["Content-Type"].startswith("text/plain")
        assert time.monotonic() - started < 10

        # A forged notification (wrong clientState) is refused and triggers nothing.
        forged = {
            "value": [
                {"subscriptionId": channel["id"], "clientState": "guess", "changeType": "created"}
            ]
        }
        assert requests.post(probe, json=forged, timeout=10).status_code == 403

        # A genuine notification of a remote change makes the hub pull it at once.
        day = next_weekday(3, 9)
        h.user_create("Lunch with Sam", day, day + timedelta(hours=1))
        _wait(lambda: _blocks(services) == 1)

        # Loops: our own write, echoed back by its notification, is ignored.
        appt = _book(api, cafe, anna, day + timedelta(hours=3))
        drain(services, worker)
        assert len(h.ours(appt["id"])) == 1
        rows, writes = _outbox_rows(services), _writes(h)
        sent = len(h.server.notifications_sent)
        assert sent >= 2  # the echo of our create went out
        _wait(lambda: h.server.count("GET", "delta") >= 3)  # the echo was pulled
        time.sleep(0.3)
        engine.pull(integ)
        assert _outbox_rows(services) == rows and _writes(h) == writes
        assert _blocks(services) == 1
        got = api.get(f"/appointments/{appt['id']}").json()
        assert _at(got["start_time"]) == day + timedelta(hours=3) and not got.get("flagged")

        # Lifecycle: Graph dropped the subscription and says so; the hub opens a new one.
        gone = h.server.subscriptions.pop(channel["id"])
        life = {
            "value": [
                {
                    "subscriptionId": gone["id"],
                    "clientState": gone["clientState"],
                    "lifecycleEvent": "subscriptionRemoved",
                }
            ]
        }
        assert requests.post(probe, json=life, timeout=10).status_code == 202
        _wait(lambda: len(h.server.subscriptions) == 1)
        assert engine.integration(integ).cursor["channel"]["id"] in h.server.subscriptions


def test_revoked_microsoft_grant_errors_one_integration_and_reconnect_resumes(
    services: Services, cafe: dict, staff: dict, api: Api
) -> None:
    engine = SyncEngine(services)
    worker = make_worker(services, engine)
    day = next_weekday(4, 10)
    with running("microsoft") as ha, running("microsoft") as hb:
        a = _connect(api, ha, {"resourceId": staff["anna"]["id"]}, "Anna's Outlook")
        b = _connect(api, hb, {"resourceId": staff["ben"]["id"]}, "Ben's Outlook")
        ha.revoke()
        ra = _book(api, cafe, staff["anna"]["id"], day)
        rb = _book(api, cafe, staff["ben"]["id"], day)
        drain(services, worker, integration_id=b)
        for _ in range(3):
            worker.run_once()
        info = api.get(f"/integrations/{a}").json()
        assert info["status"] == "Error"
        assert "invalid_grant" in info["statusMessage"] and "reconnect" in info["statusMessage"]
        assert api.get(f"/integrations/{b}").json()["status"] == "Active"
        assert len(hb.ours(rb["id"])) == 1 and ha.ours(ra["id"]) == []
        assert pending(services, a) == 1  # waiting, not dead-lettered

        # Ben keeps flowing while Anna's integration waits.
        rb2 = _book(api, cafe, staff["ben"]["id"], day + timedelta(hours=2))
        drain(services, worker, integration_id=b)
        assert len(hb.ours(rb2["id"])) == 1

        # Reconnect with a new grant: resumes, exactly one remote event.
        ha.server.tokens.revoked = False
        resp = api.patch(f"/integrations/{a}", json={"credentials": ha.server.tokens.issue()})
        assert resp.ok, resp.text
        engine.reconnected(a)
        drain(services, worker)
        assert api.get(f"/integrations/{a}").json()["status"] == "Active"
        assert len(ha.ours(ra["id"])) == 1


def test_location_scoped_foreign_events_block_the_whole_location_unless_the_remote_says_whom(
    services: Services, cafe: dict, staff: dict, api: Api
) -> None:
    engine = SyncEngine(services)
    worker = make_worker(services, engine)
    anna, ben = staff["anna"]["id"], staff["ben"]["id"]
    loc = {"locationId": cafe["location"]["id"]}
    day = next_weekday(1, 9)
    with running("microsoft") as ms, running("teamup") as tu:
        # A shared business calendar: a closure entered there blocks every resource.
        shared = _connect(api, ms, loc, "Front desk")
        _pull(engine, ms, shared)
        ms.user_create("Team meeting", day, day + timedelta(hours=1))
        _pull(engine, ms, shared)
        assert not _free(api, cafe, anna, day) and not _free(api, cafe, ben, day)
        assert _free(api, cafe, anna, day + timedelta(hours=2))

        # Teamup tells whose sub-calendar an event sits in: only that staff member is blocked.
        tu.config = {
            **tu.config,
            "subcalendarId": None,
            "subcalendarMap": {anna: tu.sub, ben: tu.other_sub},
        }
        team = _connect(api, tu, loc, "Teamup")
        _pull(engine, tu, team)
        slot = day + timedelta(hours=3)
        tu.user_create("Anna's doctor", slot, slot + timedelta(hours=1))  # in Anna's sub-calendar
        _pull(engine, tu, team)
        assert not _free(api, cafe, anna, slot) and _free(api, cafe, ben, slot)

        # Outbound, a location-wide integration files Ben's booking under Ben's sub-calendar.
        rb = _book(api, cafe, ben, day + timedelta(hours=5))
        drain(services, worker)
        [ev] = [
            e for e in tu.server.events() if e.get("remote_id") == f"calhub:reservation:{rb['id']}"
        ]
        assert ev["subcalendar_ids"] == [tu.other_sub]
        assert len(ms.ours(rb["id"])) == 1  # the shared calendar carries every booking


def test_microsoft_connects_in_the_browser_with_pkce(
    services: Services, cafe: dict, staff: dict, api: Api, live: Any
) -> None:
    import requests

    with running("microsoft") as h:
        body = h.api_body({"resourceId": staff["anna"]["id"]})
        body["config"]["authorizeUrl"] = h.server.url + "/common/oauth2/v2.0/authorize"
        body["credentials"] = {
            "clientId": h.server.tokens.client_id,
            "clientSecret": h.server.tokens.client_secret,
        }
        integ = api.post("/integrations", json=body).json()
        assert integ["status"] == "Disconnected" and integ["connectUrl"].startswith(live.url)

        page = requests.Session().get(integ["connectUrl"], timeout=10)  # → consent → calhub
        assert page.status_code == 200 and "Connected" in page.text, page.text
        assert api.get(f"/integrations/{integ['id']}").json()["status"] == "Active"

        appt = _book(api, cafe, staff["anna"]["id"], next_weekday(2, 13))
        drain(services, make_worker(services, SyncEngine(services)))
        assert len(h.ours(appt["id"])) == 1  # the tokens from the code exchange work
