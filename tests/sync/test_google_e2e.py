"""End to end through the Google simulator: outbound pushes, inbound changes, loops, grants."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.services import Services
from hub.sync.engine import SyncEngine
from tests.conftest import next_weekday, z
from tests.fakes.google_calendar import GoogleCalendarSim
from tests.sync.conftest import drain, google_body, make_worker, ours, pending


def _iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _book(
    services: Services, cafe: dict[str, Any], resource: str, start: datetime, **extra: Any
) -> dict[str, Any]:
    return services.booking.create(
        {
            "serviceId": cafe["service"]["id"],
            "resourceIds": [resource],
            "start_time": z(start),
            "customer": {
                "firstName": "Maya",
                "lastName": "Okafor",
                "email": "maya@example.org",
                "phone": "+4912345",
            },
            "partySize": 2,
            **extra,
        }
    )


def test_create_update_cancel_reach_google(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    integ = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]})
    )
    worker = make_worker(services, engine)
    start = next_weekday(2, 10)
    appt = _book(services, cafe, staff["anna"]["id"], start)
    drain(services, worker)

    remote = ours(gsim)[appt["id"]]
    assert len(remote) == 1
    ev = remote[0]
    assert _iso(ev["start"]["dateTime"]) == start and _iso(
        ev["end"]["dateTime"]
    ) == start + timedelta(hours=1)
    assert "Maya" in ev["summary"] and "2 guests" in ev["summary"]
    text = str(ev)
    assert "Okafor" not in text and "maya@example.org" not in text and "+4912345" not in text
    assert ev["id"].startswith("calhub") and set(ev["id"]) <= set(
        "0123456789abcdefghijklmnopqrstuv"
    )

    services.booking.reschedule(appt["id"], {"start_time": z(start + timedelta(hours=3))})
    drain(services, worker)
    moved = ours(gsim)[appt["id"]]
    assert len(moved) == 1 and _iso(moved[0]["start"]["dateTime"]) == start + timedelta(hours=3)

    services.booking.cancel(appt["id"], {"by": "customer"})
    drain(services, worker)
    assert appt["id"] not in ours(gsim)
    assert engine.integration(integ["id"]).status == "Active"


def test_remote_changes_become_busy_blocks_and_booking_changes(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    anna = staff["anna"]["id"]
    integ = services.booking.create_integration(google_body(gsim, {"resourceId": anna}))
    worker = make_worker(services, engine)
    day = next_weekday(3, 9)
    engine.pull(integ["id"])  # first full sync

    # A personal appointment in Google blocks Anna's time when syncExternal=true.
    dentist = gsim.user_create(
        "primary", "Dentist", day + timedelta(hours=5), day + timedelta(hours=6)
    )
    engine.pull(integ["id"])
    probe = {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [anna],
        "start_time": z(day + timedelta(hours=5)),
        "customer": {"firstName": "Zoe"},
    }
    import pytest

    from hub.domain.errors import Conflict

    with pytest.raises(Conflict, match="external calendar"):
        services.booking.create({**probe, "syncExternal": True})
    gsim.user_move("primary", dentist["id"], day + timedelta(hours=7), day + timedelta(hours=8))
    engine.pull(integ["id"])
    ok = services.booking.create({**probe, "syncExternal": True})  # the old slot is free now
    services.booking.cancel(ok["id"], {})
    gsim.user_delete("primary", dentist["id"])
    engine.pull(integ["id"])
    services.booking.create(
        {**probe, "start_time": z(day + timedelta(hours=7)), "syncExternal": True}
    )
    drain(services, worker)

    # Our own event moved in Google becomes a reschedule (and is not pushed back).
    appt = _book(services, cafe, anna, day + timedelta(hours=1))
    drain(services, worker)
    eid = ours(gsim)[appt["id"]][0]["id"]
    gsim.user_move("primary", eid, day + timedelta(hours=2), day + timedelta(hours=3))
    writes = gsim.writes
    engine.pull(integ["id"])
    after = services.booking.get_reservation(appt["id"])
    assert _iso(after["start_time"]) == day + timedelta(hours=2)
    assert pending(services, integ["id"]) == 0
    assert gsim.writes == writes

    # Moved onto a time the rules refuse (Anna already has the 7:00 booking): put back + flagged.
    gsim.user_move("primary", eid, day + timedelta(hours=7), day + timedelta(hours=8))
    engine.pull(integ["id"])
    after = services.booking.get_reservation(appt["id"])
    assert _iso(after["start_time"]) == day + timedelta(hours=2)
    assert "put it back" in (after["flagged"] or "")
    restored = ours(gsim)[appt["id"]]
    assert len(restored) == 1 and _iso(restored[0]["start"]["dateTime"]) == day + timedelta(hours=2)

    # Deleted in Google: the appointment is cancelled.
    gsim.user_delete("primary", eid)
    engine.pull(integ["id"])
    assert services.booking.get_reservation(appt["id"])["status"] == "CN"
    drain(services, worker)
    assert appt["id"] not in ours(gsim)


def test_sync_token_gone_triggers_full_resync(
    services: Services, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    integ = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]})
    )
    engine.pull(integ["id"])
    day = next_weekday(1, 8)
    gsim.user_create("primary", "Gym", day, day + timedelta(hours=1))
    gsim.invalidate_sync_tokens()
    summary = engine.pull(integ["id"])
    assert summary.error is None and summary.busy_changed == 1


def test_revoked_grant_errors_one_integration_others_flow_and_reconnect_resumes(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    a = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]}, "anna-cal", "Anna's Google")
    )
    b = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["ben"]["id"]}, "ben-cal", "Ben's Google")
    )
    worker = make_worker(services, engine)
    creds_a = services.booking.integration_credentials(_row(services, a["id"]))
    gsim.revoke(creds_a["refreshToken"])  # also drops every access token
    gsim.access_tokens.update(
        {
            services.booking.integration_credentials(_row(services, b["id"]))[
                "accessToken"
            ]: time.time() + 3600
        }
    )
    day = next_weekday(4, 10)
    ra = _book(services, cafe, staff["anna"]["id"], day)
    rb = _book(services, cafe, staff["ben"]["id"], day)
    drain(services, worker, integration_id=b["id"])
    for _ in range(3):
        worker.run_once()
    info = engine.integration(a["id"])
    assert info.status == "Error"
    assert "invalid_grant" in info.status_message and "reconnect" in info.status_message
    assert list(ours(gsim, "ben-cal")) == [rb["id"]]
    assert ours(gsim, "anna-cal") == {}
    assert pending(services, a["id"]) == 1  # waiting, not dead-lettered

    services.booking.update_integration(a["id"], {"credentials": gsim.grant()})
    engine.reconnected(a["id"])
    drain(services, worker)
    assert engine.integration(a["id"]).status == "Active"
    assert [len(v) for v in ours(gsim, "anna-cal").values()] == [1]
    assert list(ours(gsim, "anna-cal")) == [ra["id"]]


def _row(services: Services, integration_id: str) -> Any:
    from hub.store.models import Integration

    with services.db.reader() as s:
        row = s.get(Integration, integration_id)
        s.expunge(row)
        return row


def test_expired_access_token_is_refreshed(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    integ = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]})
    )
    gsim.expire_access_tokens()
    appt = _book(services, cafe, staff["anna"]["id"], next_weekday(0, 11))
    drain(services, make_worker(services, engine))
    assert appt["id"] in ours(gsim)
    creds = services.booking.integration_credentials(_row(services, integ["id"]))
    assert gsim.access_tokens[creds["accessToken"]] > time.time()  # the new token was saved


def test_mass_deletion_is_not_mirrored_until_confirmed(
    services: Services, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    from sqlalchemy import func, select

    from hub.store.models import BusyBlock

    def blocks() -> int:
        with services.db.reader() as s:
            return int(s.scalar(select(func.count()).select_from(BusyBlock)) or 0)

    integ = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]})
    )
    day = next_weekday(2, 8)
    made = [
        gsim.user_create(
            "primary",
            f"Private {i}",
            day + timedelta(hours=i),
            day + timedelta(hours=i, minutes=30),
        )
        for i in range(5)
    ]
    engine.pull(integ["id"])
    assert blocks() == 5
    for ev in made:
        gsim.user_delete("primary", ev["id"])
    engine.pull(integ["id"])
    assert blocks() == 5
    info = engine.integration(integ["id"])
    assert info.status == "Error" and "lost 5 of its 5" in info.status_message
    engine.pull(integ["id"])  # asking again changes nothing until someone confirms
    assert blocks() == 5
    engine.confirm_deletions(integ["id"])
    assert blocks() == 0
    assert engine.integration(integ["id"]).status == "Active"


def test_resync_repairs_drift_and_removes_duplicates(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    integ = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]})
    )
    worker = make_worker(services, engine)
    day = next_weekday(1, 9)
    r1 = _book(services, cafe, staff["anna"]["id"], day)
    r2 = _book(services, cafe, staff["anna"]["id"], day + timedelta(hours=2))
    drain(services, worker)
    engine.pull(integ["id"])
    # Drift: one event vanished without a trace; a stray copy of the other appeared.
    with gsim.lock:
        del gsim.calendars["primary"][ours(gsim)[r1["id"]][0]["id"]]
    copy = {k: v for k, v in ours(gsim)[r2["id"]][0].items() if k not in ("id", "etag", "iCalUID")}
    gsim.user_create(
        "primary",
        copy["summary"],
        day + timedelta(hours=2),
        day + timedelta(hours=3),
        extendedProperties=copy["extendedProperties"],
    )
    assert len(ours(gsim)[r2["id"]]) == 2

    summary = engine.reconcile(integ["id"])
    remote = ours(gsim)
    assert sorted(remote) == sorted([r1["id"], r2["id"]])
    assert all(len(v) == 1 for v in remote.values())
    assert summary.duplicates_removed == 1 and summary.repaired >= 1
    assert services.booking.get_reservation(r1["id"])["status"] == "BK"


def test_retry_after_on_429_is_honoured(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    from sqlalchemy import select

    from hub.store.models import Outbox

    services.booking.create_integration(google_body(gsim, {"resourceId": staff["anna"]["id"]}))
    gsim.retry_after = 3
    gsim.set_faults(1.0, ("429",))
    _book(services, cafe, staff["anna"]["id"], next_weekday(1, 16))
    before = datetime.now(UTC)
    assert make_worker(services, engine).run_once() == 1
    with services.db.reader() as s:
        row = s.scalars(select(Outbox).where(Outbox.target == "integration")).one()
    assert row.status == "pending" and row.attempts == 1 and "429" in row.last_error
    assert row.next_attempt_at >= before + timedelta(seconds=3)  # base delay is only 0.05 s


def test_push_channel_is_renewed_before_it_expires(
    services: Services, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    integ = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]})
    )
    first = engine.ensure_channel(engine.integration(integ["id"]))
    assert first and list(gsim.channels) == [first["id"]]
    assert (
        engine.ensure_channel(engine.integration(integ["id"]))["id"] == first["id"]
    )  # still fresh
    soon = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    services.booking.set_integration_cursor(integ["id"], channel={**first, "expiration": soon})
    second = engine.ensure_channel(engine.integration(integ["id"]))
    assert second["id"] != first["id"]
    assert list(gsim.channels) == [second["id"]]  # the old channel was stopped
    assert gsim.channels[second["id"]]["token"] == engine.channel_token(
        integ["id"], second["nonce"]
    )


def test_deleted_calendar_turns_only_that_integration_to_error(
    services: Services, cafe: dict, staff: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    gone = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["anna"]["id"]}, "old-cal")
    )
    fine = services.booking.create_integration(
        google_body(gsim, {"resourceId": staff["ben"]["id"]}, "ben-cal")
    )
    gsim.deleted_calendars.add("old-cal")
    day = next_weekday(2, 14)
    _book(services, cafe, staff["anna"]["id"], day)
    rb = _book(services, cafe, staff["ben"]["id"], day)
    worker = make_worker(services, engine)
    drain(services, worker, integration_id=fine["id"])
    worker.run_once()
    info = engine.integration(gone["id"])
    assert info.status == "Error" and "'old-cal' does not exist" in info.status_message
    assert engine.integration(fine["id"]).status == "Active"
    assert list(ours(gsim, "ben-cal")) == [rb["id"]]
