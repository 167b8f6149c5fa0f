"""Recurring bookings over the API: a series books what is free and says what is not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import next_weekday, z
from tests.support import Api

CUSTOMER = {"firstName": "Rita", "lastName": "Weekly", "email": "rita@example.com"}


def _body(cafe: dict[str, Any], start: datetime, rule: str, **extra: Any) -> dict[str, Any]:
    return {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [cafe["table"]["id"]],
        "start_time": z(start),
        "rrule": rule,
        "customer": CUSTOMER,
        **extra,
    }


def test_weekly_series_books_free_weeks_and_lists_the_taken_one(
    api: Api, cafe: dict[str, Any]
) -> None:
    start = next_weekday(1, 10)  # a Tuesday 10:00 UTC
    # Somebody already has the table in week 3.
    taken = api.post(
        "/appointments",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["table"]["id"]],
            "start_time": z(start + timedelta(weeks=2, minutes=30)),
            "customer": {"firstName": "Other", "email": "other@example.com"},
        },
    )
    assert taken.status_code == 201
    r = api.post("/appointments", json=_body(cafe, start, "FREQ=WEEKLY;COUNT=5"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert [c["start_time"] for c in out["conflicts"]] == [z(start + timedelta(weeks=2))]
    assert "already fully booked" in out["conflicts"][0]["reason"]
    booked = [o["start_time"] for o in out["occurrences"]]
    assert booked == [z(start + timedelta(weeks=w)) for w in (0, 1, 3, 4)]
    assert all(o["seriesId"] == out["series"]["id"] for o in out["occurrences"])
    assert out["series"]["exdates"] == [z(start + timedelta(weeks=2))]
    assert out["status"] == "BK" and out["id"] == out["occurrences"][0]["id"]
    # Each occurrence is a real appointment, listed and fetched like any other.
    listed = api.get("/appointments", params={"resourceId": cafe["table"]["id"], "status": "BK"})
    assert listed.json()["total"] == 5
    one = api.get(f"/appointments/{out['occurrences'][1]['id']}").json()
    assert one["recurrenceId"] == z(start + timedelta(weeks=1))


def test_all_or_nothing_refuses_the_whole_series(api: Api, cafe: dict[str, Any]) -> None:
    start = next_weekday(2, 9)
    api.post(
        "/appointments",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["table"]["id"]],
            "start_time": z(start + timedelta(days=3)),
            "customer": CUSTOMER,
        },
    ).raise_for_status()
    r = api.post("/appointments", json=_body(cafe, start, "FREQ=DAILY;COUNT=7", allOrNothing=True))
    assert r.status_code == 409
    assert r.headers["Content-Type"].startswith("application/problem+json")
    problem = r.json()
    assert "allOrNothing" in problem["detail"]
    assert problem["conflicts"] == [
        {
            "start_time": z(start + timedelta(days=3)),
            "end_time": z(start + timedelta(days=3, hours=1)),
            "reason": problem["conflicts"][0]["reason"],
        }
    ]
    # Nothing of the series was booked.
    listed = api.get("/appointments", params={"resourceId": cafe["table"]["id"]}).json()
    assert listed["total"] == 1


def test_endless_and_overlong_rules_are_refused_clearly(api: Api, cafe: dict[str, Any]) -> None:
    start = next_weekday(3, 9)
    endless = api.post("/appointments", json=_body(cafe, start, "FREQ=WEEKLY"))
    assert endless.status_code == 422 and "COUNT" in endless.json()["detail"]
    too_many = api.post("/appointments", json=_body(cafe, start, "FREQ=DAILY;COUNT=400"))
    assert too_many.status_code == 422 and "366" in too_many.json()["detail"]
    too_far = api.post("/appointments", json=_body(cafe, start, "FREQ=YEARLY;COUNT=3"))
    assert too_far.status_code == 422 and "year" in too_far.json()["detail"]
    unknown = api.post("/appointments", json=_body(cafe, start, "FREQ=WEEKLY;COUNT=2;FOO=1"))
    assert unknown.status_code == 422 and "FOO" in unknown.json()["detail"]
    assert api.get("/appointments").json()["total"] == 0


def test_cancel_this_then_following(api: Api, cafe: dict[str, Any]) -> None:
    start = next_weekday(0, 15)
    out = api.post("/appointments", json=_body(cafe, start, "FREQ=WEEKLY;COUNT=6")).json()
    occ = out["occurrences"]
    one = api.put(f"/appointments/{occ[1]['id']}/cancel", json={"by": "customer", "scope": "this"})
    assert one.status_code == 200 and one.json()["status"] == "CN"
    assert api.get(f"/appointments/{occ[2]['id']}").json()["status"] == "BK"
    rest = api.put(
        f"/appointments/{occ[3]['id']}/cancel", json={"by": "customer", "scope": "following"}
    )
    assert rest.status_code == 200, rest.text
    assert [o["id"] for o in rest.json()["occurrences"]] == [o["id"] for o in occ[3:]]
    statuses = [api.get(f"/appointments/{o['id']}").json()["status"] for o in occ]
    assert statuses == ["BK", "CN", "BK", "CN", "CN", "CN"]
    # The freed weeks can be booked by someone else.
    again = api.post(
        "/appointments",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["table"]["id"]],
            "start_time": occ[4]["start_time"],
            "customer": {"firstName": "Next", "email": "next@example.com"},
        },
    )
    assert again.status_code == 201
    bad = api.put(f"/appointments/{again.json()['id']}/cancel", json={"scope": "following"})
    assert bad.status_code == 422 and "not part of a series" in bad.json()["detail"]
    wrong = api.put(f"/appointments/{occ[0]['id']}/cancel", json={"scope": "everything"})
    assert wrong.status_code == 422


def test_move_one_occurrence_and_this_and_following(api: Api, cafe: dict[str, Any]) -> None:
    start = next_weekday(3, 9)
    out = api.post("/appointments", json=_body(cafe, start, "FREQ=WEEKLY;COUNT=4")).json()
    occ = out["occurrences"]
    # Move only the second one by two hours.
    moved = api.patch(
        f"/appointments/{occ[1]['id']}",
        json={"start_time": z(start + timedelta(weeks=1, hours=2)), "scope": "this"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start_time"] == z(start + timedelta(weeks=1, hours=2))
    assert api.get(f"/appointments/{occ[2]['id']}").json()["start_time"] == occ[2]["start_time"]
    # Block 12:00 in week 4, then try to move weeks 3-4 to 12:00: refused, nothing moves.
    blocker = api.post(
        "/appointments",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["table"]["id"]],
            "start_time": z(start + timedelta(weeks=3, hours=3)),
            "customer": {"firstName": "B", "email": "b@example.com"},
        },
    ).json()
    refused = api.patch(
        f"/appointments/{occ[2]['id']}",
        json={"start_time": z(start + timedelta(weeks=2, hours=3)), "scope": "following"},
    )
    assert refused.status_code == 409
    assert [c["start_time"] for c in refused.json()["conflicts"]] == [
        z(start + timedelta(weeks=3, hours=3))
    ]
    assert api.get(f"/appointments/{occ[2]['id']}").json()["start_time"] == occ[2]["start_time"]
    # Free the blocker: the same move now shifts weeks 3 and 4, and splits the series.
    api.put(f"/appointments/{blocker['id']}/cancel", json={}).raise_for_status()
    ok = api.patch(
        f"/appointments/{occ[2]['id']}",
        json={"start_time": z(start + timedelta(weeks=2, hours=3)), "scope": "following"},
    )
    assert ok.status_code == 200, ok.text
    after = [api.get(f"/appointments/{o['id']}").json() for o in occ]
    assert [a["start_time"] for a in after] == [
        z(start),
        z(start + timedelta(weeks=1, hours=2)),
        z(start + timedelta(weeks=2, hours=3)),
        z(start + timedelta(weeks=3, hours=3)),
    ]
    assert after[0]["seriesId"] == after[1]["seriesId"] == out["series"]["id"]
    assert after[2]["seriesId"] == after[3]["seriesId"] != out["series"]["id"]
    assert ok.json()["series"]["rrule"].startswith("FREQ=WEEKLY;UNTIL=")


def test_recurring_hold_then_book_all(api: Api, cafe: dict[str, Any]) -> None:
    start = next_weekday(4, 11)
    body = _body(cafe, start, "FREQ=DAILY;COUNT=3")
    body.pop("customer")
    held = api.post("/appointments/hold", json=body)
    assert held.status_code == 201, held.text
    occ = held.json()["occurrences"]
    assert [o["status"] for o in occ] == ["IN"] * 3 and all("expiresAt" in o for o in occ)
    booked = api.put(
        f"/appointments/{occ[0]['id']}/book", json={"customer": CUSTOMER, "scope": "all"}
    )
    assert booked.status_code == 200, booked.text
    assert [o["status"] for o in booked.json()["occurrences"]] == ["BK"] * 3


def test_series_keeps_local_time_across_dst_and_moves_all(api: Api) -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    loc = api.post("/locations", json={"name": "Paris", "timezone": "Europe/Paris"}).json()
    table = api.post(
        "/resources", json={"name": "T", "locationId": loc["id"], "kind": "table"}
    ).json()
    svc = api.post(
        "/services", json={"name": "Lunch", "locationId": loc["id"], "duration": 60}
    ).json()
    first = datetime(2027, 3, 16, 10, 0, tzinfo=paris)  # Tuesdays around the March change
    out = api.post(
        "/appointments",
        json={
            "serviceId": svc["id"],
            "resourceIds": [table["id"]],
            "start_time": first.isoformat(),
            "rrule": "FREQ=WEEKLY;COUNT=4",
            "customer": CUSTOMER,
        },
    ).json()
    starts = [
        datetime.fromisoformat(o["start_time"].replace("Z", "+00:00")) for o in out["occurrences"]
    ]
    assert [s.astimezone(paris).hour for s in starts] == [10, 10, 10, 10]
    assert [s.hour for s in starts] == [9, 9, 8, 8]  # UTC follows the change
    moved = api.patch(
        f"/appointments/{out['occurrences'][0]['id']}",
        json={"start_time": first.replace(hour=11).isoformat(), "scope": "all"},
    )
    assert moved.status_code == 200, moved.text
    after = [
        datetime.fromisoformat(o["start_time"].replace("Z", "+00:00")).astimezone(paris)
        for o in moved.json()["occurrences"]
    ]
    assert [(a.hour, a.weekday()) for a in after] == [(11, 1)] * 4
    gone = api.put(
        f"/appointments/{out['occurrences'][2]['id']}/cancel", json={"scope": "all", "by": "staff"}
    )
    assert gone.status_code == 200
    assert {o["status"] for o in gone.json()["occurrences"]} == {"CN"}
    again = api.put(f"/appointments/{out['occurrences'][2]['id']}/cancel", json={"scope": "all"})
    assert again.status_code == 409
