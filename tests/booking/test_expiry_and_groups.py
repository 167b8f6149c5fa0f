"""Holds that expire by themselves, and parties spread over several resources."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from hub.services import Services
from hub.store.models import ChangeLog
from hub.sync.runtime import build_worker
from tests.conftest import next_weekday, z
from tests.support import Api


def _hold(api: Api, svc: str, res: list[str], start: str, party: int = 1) -> Any:
    return api.post(
        "/appointments/hold",
        json={"serviceId": svc, "resourceIds": res, "start_time": start, "partySize": party},
    )


def _offered(api: Api, svc: str, start: str, **params: Any) -> set[tuple[str, tuple[str, ...]]]:
    day = start[:10]
    avail = api.get(
        "/availability", params={"serviceId": svc, "startDate": day, "endDate": day, **params}
    ).json()
    return {(t["start_time"], tuple(t["resourceIds"])) for t in avail["availableTimes"]}


def test_a_hold_left_alone_frees_its_slot(api: Api, services: Services) -> None:
    loc = api.post(
        "/locations", json={"name": "Quick", "timezone": "UTC", "expirationDelay": 1}
    ).json()
    table = api.post(
        "/resources", json={"name": "T", "locationId": loc["id"], "kind": "table"}
    ).json()
    svc = api.post(
        "/services", json={"name": "Tea", "locationId": loc["id"], "duration": 60}
    ).json()
    start = z(next_weekday(2, 14))
    first = _hold(api, svc["id"], [table["id"]], start)
    assert first.status_code == 201 and first.json()["status"] == "IN"
    assert "expiresAt" in first.json()
    assert (start, (table["id"],)) not in _offered(api, svc["id"], start)
    assert _hold(api, svc["id"], [table["id"]], start).status_code == 409
    time.sleep(1.3)
    # No job has run: the slot is free again on its own.
    assert (start, (table["id"],)) in _offered(api, svc["id"], start)
    second = _hold(api, svc["id"], [table["id"]], start)
    assert second.status_code == 201, second.text
    late = api.put(
        f"/appointments/{first.json()['id']}/book",
        json={"customer": {"firstName": "Late", "email": "late@example.com"}},
    )
    assert late.status_code == 409
    assert late.headers["Content-Type"].startswith("application/problem+json")
    assert "hold expired" in late.json()["detail"]
    # The worker's periodic job records the expiry (appointment.expired) for the calendars.
    worker = build_worker(services)
    worker.run_once()
    gone = api.get(f"/appointments/{first.json()['id']}").json()
    assert gone["status"] == "CN" and gone["cancelReason"] == "hold expired"
    with services.db.reader() as s:
        events = s.scalars(
            select(ChangeLog.event).where(ChangeLog.entity_id == first.json()["id"])
        ).all()
    assert list(events) == ["appointment.held", "appointment.expired"]
    # Still 409 "hold expired" once recorded; the second hold is untouched and books fine.
    again = api.put(
        f"/appointments/{first.json()['id']}/book",
        json={"customer": {"firstName": "Late", "email": "late@example.com"}},
    )
    assert again.status_code == 409 and "hold expired" in again.json()["detail"]
    ok = api.put(
        f"/appointments/{second.json()['id']}/book",
        json={"customer": {"firstName": "On", "lastName": "Time", "email": "on@example.com"}},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "BK"
    time.sleep(1.2)
    assert api.get(f"/appointments/{second.json()['id']}").json()["status"] == "BK"
    assert _hold(api, svc["id"], [table["id"]], start).status_code == 409


def test_party_of_eight_takes_two_tables_of_four(api: Api) -> None:
    loc = api.post("/locations", json={"name": "Bistro", "timezone": "UTC"}).json()
    t1, t2, t3 = (
        api.post(
            "/resources",
            json={"name": f"Four-top {i}", "locationId": loc["id"], "kind": "table", "capacity": 4},
        ).json()
        for i in (1, 2, 3)
    )
    svc = api.post(
        "/services", json={"name": "Dinner", "locationId": loc["id"], "duration": 90}
    ).json()
    start = z(next_weekday(4, 19))
    one_table = _hold(api, svc["id"], [t1["id"]], start, party=8)
    assert one_table.status_code == 409 and "seat 4" in one_table.json()["detail"]
    nine = _hold(api, svc["id"], [t1["id"], t2["id"]], start, party=9)
    assert nine.status_code == 409 and "does not fit" in nine.json()["detail"]
    eight = _hold(api, svc["id"], [t1["id"], t2["id"]], start, party=8)
    assert eight.status_code == 201, eight.text
    assert eight.json()["resourceIds"] == [t1["id"], t2["id"]]
    # Both tables are now taken whole, even by a party of one; the third is free.
    assert _hold(api, svc["id"], [t2["id"]], start, party=1).status_code == 409
    offered = _offered(api, svc["id"], start)
    assert (start, (t1["id"],)) not in offered and (start, (t2["id"],)) not in offered
    assert (start, (t3["id"],)) in offered
    # The third table still seats a party of four.
    four = api.post(
        "/appointments",
        json={
            "serviceId": svc["id"],
            "resourceIds": [t3["id"]],
            "start_time": start,
            "partySize": 4,
            "customer": {"firstName": "Four", "email": "four@example.com"},
        },
    )
    assert four.status_code == 201
    # Cancelling the party of eight frees both tables.
    api.put(f"/appointments/{eight.json()['id']}/cancel", json={"by": "customer"})
    assert _hold(api, svc["id"], [t1["id"]], start, party=4).status_code == 201
    assert _hold(api, svc["id"], [t2["id"]], start, party=3).status_code == 201


def test_party_size_counts_against_area_capacity_and_partysize_filter(
    api: Api, cafe: dict[str, Any]
) -> None:
    svc, area = cafe["service"]["id"], cafe["area"]["id"]
    start = z(next_weekday(1, 13))
    assert _hold(api, svc, [area], start, party=7).status_code == 201
    # Three seats left: availability for a party of 4 hides the area, for 3 shows it.
    assert (start, (area,)) not in _offered(api, svc, start, partySize=4)
    assert (start, (area,)) in _offered(api, svc, start, partySize=3)
    assert _hold(api, svc, [area], start, party=4).status_code == 409
    assert _hold(api, svc, [area], start, party=3).status_code == 201
    for bad in (0, 10_000, "3", 2.5):
        r = _hold(api, svc, [area], start, party=bad)  # type: ignore[arg-type]
        assert r.status_code == 422, (bad, r.text)
