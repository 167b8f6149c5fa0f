"""Availability over the API never offers what the rules refuse, in the location's own time."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.services import Services
from tests.conftest import next_weekday, z
from tests.support import Api

PARIS = ZoneInfo("Europe/Paris")
EVERY_DAY = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def paris(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    """A Paris wall-clock time as an aware UTC instant."""
    return datetime(y, mo, d, h, mi, tzinfo=PARIS).astimezone(UTC)


def iso(day: tuple[int, int, int]) -> str:
    """YYYY-MM-DD of a (year, month, day) tuple."""
    return date(*day).isoformat()


def _times(api: Api, svc: str, start: str, end: str, **params: Any) -> list[dict[str, Any]]:
    r = api.get(
        "/availability", params={"serviceId": svc, "startDate": start, "endDate": end, **params}
    )
    assert r.status_code == 200, r.text
    return r.json()["availableTimes"]


def _starts(times: list[dict[str, Any]], rid: str | None = None) -> list[str]:
    return sorted({t["start_time"] for t in times if rid is None or rid in t["resourceIds"]})


@pytest.fixture
def bistro(api: Api) -> dict[str, Any]:
    """A Paris café open 09:00–18:00 every day, hourly slots, two tables, a groomer on shifts."""
    loc = api.post(
        "/locations",
        json={
            "name": "Le Chat",
            "timezone": "Europe/Paris",
            "openingHours": EVERY_DAY,
            "slotInterval": 60,
        },
    ).json()

    def res(name: str, kind: str, cap: int = 1) -> dict[str, Any]:
        r = api.post(
            "/resources",
            json={"name": name, "locationId": loc["id"], "kind": kind, "capacity": cap},
        )
        assert r.status_code == 201, r.text
        return r.json()

    t1, t2, groomer = res("T1", "table", 2), res("T2", "table", 2), res("Groomer", "staff")
    coffee = api.post(
        "/services",
        json={
            "name": "Coffee",
            "locationId": loc["id"],
            "duration": 60,
            "resourceIds": [t1["id"], t2["id"]],
        },
    ).json()
    pets = api.post(
        "/services",
        json={
            "name": "Coffee with your dog",
            "locationId": loc["id"],
            "duration": 60,
            "involvesPets": True,
            "resourceIds": [t1["id"], t2["id"]],
        },
    ).json()
    groom = api.post(
        "/services",
        json={
            "name": "Grooming",
            "locationId": loc["id"],
            "duration": 60,
            "involvesPets": True,
            "resourceIds": [groomer["id"]],
        },
    ).json()
    return {
        "location": loc,
        "t1": t1,
        "t2": t2,
        "groomer": groomer,
        "coffee": coffee,
        "pets": pets,
        "groom": groom,
    }


@pytest.mark.parametrize(
    ("before", "after"),
    [((2027, 3, 27), (2027, 3, 28)), ((2027, 10, 30), (2027, 10, 31))],
    ids=["spring-forward", "fall-back"],
)
def test_opening_hours_and_weekly_shift_stay_at_local_time_across_dst(
    api: Api, bistro: dict[str, Any], before: tuple[int, int, int], after: tuple[int, int, int]
) -> None:
    coffee, t1 = bistro["coffee"]["id"], bistro["t1"]["id"]
    times = _times(api, coffee, iso(before), iso(after))
    for day in (before, after):
        expected = [z(paris(*day, h)) for h in range(9, 18)]  # 09:00 … 17:00 local
        got = [s for s in _starts(times, t1) if s[:10] == z(paris(*day, 12))[:10]]
        assert got == expected, day
    # The UTC offset really changed between the two days (the test spans a transition).
    assert paris(*before, 9).hour != paris(*after, 9).hour
    # A weekly shift 10:00–14:00 Paris starting the week before stays 10:00–14:00 local.
    week_before = datetime(*after, tzinfo=UTC) - timedelta(days=7)
    wb = (week_before.year, week_before.month, week_before.day)
    shift = api.post(
        "/shifts",
        json={
            "resourceId": bistro["groomer"]["id"],
            "start": z(paris(*wb, 10)),
            "end": z(paris(*wb, 14)),
            "rrule": "FREQ=WEEKLY;COUNT=3",
        },
    )
    assert shift.status_code == 201, shift.text
    day = iso(after)
    groom = _starts(_times(api, bistro["groom"]["id"], day, day))
    assert groom == [z(paris(*after, h)) for h in (10, 11, 12, 13)]
    # Holding agrees: 09:00 local is refused (no shift), 10:00 local is taken.
    early = api.post(
        "/appointments/hold",
        json={
            "serviceId": bistro["groom"]["id"],
            "resourceIds": [bistro["groomer"]["id"]],
            "start_time": z(paris(*after, 9)),
        },
    )
    assert early.status_code == 409 and "no shift" in early.json()["detail"]
    ok = api.post(
        "/appointments/hold",
        json={
            "serviceId": bistro["groom"]["id"],
            "resourceIds": [bistro["groomer"]["id"]],
            "start_time": z(paris(*after, 10)),
        },
    )
    assert ok.status_code == 201, ok.text
    closed = api.post(
        "/appointments/hold",
        json={"serviceId": coffee, "resourceIds": [t1], "start_time": z(paris(*after, 8))},
    )
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]


def _future_day(weekday: int) -> tuple[int, int, int]:
    d = next_weekday(weekday) + timedelta(days=7)
    return (d.year, d.month, d.day)


def test_blackouts_hide_slots_and_no_pets_hides_only_pet_services(
    api: Api, bistro: dict[str, Any]
) -> None:
    day = _future_day(2)
    ds = iso(day)
    coffee, pets, t1, t2 = (bistro[k]["id"] for k in ("coffee", "pets", "t1", "t2"))
    loc = bistro["location"]["id"]

    def blackout(kind: str, h0: int, h1: int, resource: str | None = None) -> None:
        body = {
            "locationId": loc,
            "kind": kind,
            "start": z(paris(*day, h0)),
            "end": z(paris(*day, h1)),
            "summary": kind,
        }
        if resource:
            body["resourceId"] = resource
        r = api.post("/blackouts", json=body)
        assert r.status_code == 201, r.text

    blackout("closure", 9, 11)  # whole café closed 09–11
    blackout("no_pets", 12, 14)  # no pets 12–14
    blackout("holiday", 15, 16, resource=t2)  # T2 alone off 15–16
    plain = _times(api, coffee, ds, ds)
    assert _starts(plain, t1) == [z(paris(*day, h)) for h in range(11, 18)]
    assert _starts(plain, t2) == [z(paris(*day, h)) for h in (11, 12, 13, 14, 16, 17)]
    with_dog = _times(api, pets, ds, ds)
    assert _starts(with_dog, t1) == [z(paris(*day, h)) for h in (11, 14, 15, 16, 17)]
    # The rules agree with what is offered.
    refused = api.post(
        "/appointments/hold",
        json={"serviceId": pets, "resourceIds": [t1], "start_time": z(paris(*day, 12))},
    )
    assert refused.status_code == 409 and "no-pets" in refused.json()["detail"]
    fine = api.post(
        "/appointments/hold",
        json={"serviceId": coffee, "resourceIds": [t1], "start_time": z(paris(*day, 12))},
    )
    assert fine.status_code == 201
    closure = api.post(
        "/appointments/hold",
        json={"serviceId": coffee, "resourceIds": [t1], "start_time": z(paris(*day, 10))},
    )
    assert closure.status_code == 409 and "closure" in closure.json()["detail"]


def test_special_events_block_regular_bookings_only_when_they_say_so(
    api: Api, bistro: dict[str, Any]
) -> None:
    day = _future_day(3)
    ds = iso(day)
    coffee, t1, loc = bistro["coffee"]["id"], bistro["t1"]["id"], bistro["location"]["id"]
    quiz = api.post(
        "/events",
        json={
            "locationId": loc,
            "start": z(paris(*day, 10)),
            "end": z(paris(*day, 12)),
            "summary": "Quiz night",
            "capacity": 3,
            "blocksRegularBookings": False,
        },
    ).json()
    private = api.post(
        "/events",
        json={
            "locationId": loc,
            "start": z(paris(*day, 15)),
            "end": z(paris(*day, 17)),
            "summary": "Private party",
            "capacity": 20,
            "blocksRegularBookings": True,
        },
    ).json()
    got = _starts(_times(api, coffee, ds, ds), t1)
    assert got == [z(paris(*day, h)) for h in (9, 10, 11, 12, 13, 14, 17)]
    blocked = api.post(
        "/appointments/hold",
        json={"serviceId": coffee, "resourceIds": [t1], "start_time": z(paris(*day, 15))},
    )
    assert blocked.status_code == 409 and "Private party" in blocked.json()["detail"]
    # Event tickets count against the event's own capacity across tables.
    for rid, party, code in (
        (t1, 2, 201),
        (bistro["t2"]["id"], 2, 409),
        (bistro["t2"]["id"], 1, 201),
    ):
        r = api.post(
            "/appointments/hold",
            json={
                "serviceId": coffee,
                "resourceIds": [rid],
                "start_time": z(paris(*day, 10)),
                "partySize": party,
                "eventId": quiz["id"],
            },
        )
        assert r.status_code == code, r.text
    assert private["blocksRegularBookings"] is True


def test_sync_external_respects_busy_blocks(
    api: Api, bistro: dict[str, Any], services: Services
) -> None:
    day = _future_day(4)
    ds = iso(day)
    groomer, groom = bistro["groomer"]["id"], bistro["groom"]["id"]
    api.post(
        "/shifts",
        json={"resourceId": groomer, "start": z(paris(*day, 9)), "end": z(paris(*day, 17))},
    ).raise_for_status()
    services.booking.add_busy_block(
        {
            "resourceId": groomer,
            "start": z(paris(*day, 12)),
            "end": z(paris(*day, 13, 30)),
            "summary": "Dentist",
        },
        actor="test",
    )
    services.booking.add_busy_block(
        {
            "resourceId": groomer,
            "start": z(paris(*day, 15)),
            "end": z(paris(*day, 16)),
            "transparent": True,
        },
        actor="test",
    )
    ignoring = _starts(_times(api, groom, ds, ds))
    respecting = _starts(_times(api, groom, ds, ds, syncExternal="true"))
    assert ignoring == [z(paris(*day, h)) for h in range(9, 17)]
    # 12:00 and 13:00 overlap the dentist; the transparent block at 15:00 blocks nothing.
    assert respecting == [z(paris(*day, h)) for h in (9, 10, 11, 14, 15, 16)]
    body = {"serviceId": groom, "resourceIds": [groomer], "start_time": z(paris(*day, 13))}
    busy = api.post("/appointments/hold", json={**body, "syncExternal": True})
    assert busy.status_code == 409 and "external calendar" in busy.json()["detail"]


def test_round_robin_modes(api: Api, bistro: dict[str, Any]) -> None:
    day = _future_day(0)
    ds = iso(day)
    coffee, t1, t2 = bistro["coffee"]["id"], bistro["t1"]["id"], bistro["t2"]["id"]
    for h in (9, 11):
        api.post(
            "/appointments",
            json={
                "serviceId": coffee,
                "resourceIds": [t1],
                "start_time": z(paris(*day, h)),
                "customer": {"firstName": "Regular", "email": "regular@example.com"},
            },
        ).raise_for_status()
    none = _times(api, coffee, ds, ds, roundRobin="NONE")
    assert len(none) == 2 * 9  # both tables at every hour (capacity 2, party of 1)
    balanced = _times(api, coffee, ds, ds, roundRobin="BALANCED")
    assert len(balanced) == 9 and all(t["resourceIds"] == [t2] for t in balanced)
    rnd = _times(api, coffee, ds, ds, roundRobin="RANDOM")
    assert len(rnd) == 9 and {t["resourceIds"][0] for t in rnd} <= {t1, t2}
    full = _times(api, coffee, ds, ds, roundRobin="BALANCED", partySize=2)
    # With a party of two, T1 is full at 09:00 and 11:00: only T2 is offered there.
    assert {t["resourceIds"][0] for t in full} == {t2}
    assert (
        api.get(
            "/availability", params={"serviceId": coffee, "startDate": ds, "roundRobin": "SOME"}
        ).status_code
        == 422
    )


def test_every_offered_slot_can_be_held(api: Api, bistro: dict[str, Any]) -> None:
    """Whatever availability offers, a hold for it succeeds (and frees it again on cancel)."""
    day = _future_day(5)
    ds = iso(day)
    loc, coffee, pets = bistro["location"]["id"], bistro["coffee"]["id"], bistro["pets"]["id"]
    api.post(
        "/blackouts",
        json={
            "locationId": loc,
            "kind": "no_pets",
            "start": z(paris(*day, 13)),
            "end": z(paris(*day, 15)),
        },
    ).raise_for_status()
    seeded = random.Random(7)
    for h in seeded.sample(range(9, 18), 4):
        api.post(
            "/appointments",
            json={
                "serviceId": coffee,
                "resourceIds": [seeded.choice([bistro["t1"]["id"], bistro["t2"]["id"]])],
                "start_time": z(paris(*day, h)),
                "partySize": 2,
                "customer": {"firstName": "Busy", "email": "busy@example.com"},
            },
        ).raise_for_status()
    for svc in (coffee, pets):
        offered = _times(api, svc, ds, ds, partySize=2)
        assert offered
        for slot in offered:
            r = api.post(
                "/appointments/hold",
                json={
                    "serviceId": svc,
                    "resourceIds": slot["resourceIds"],
                    "start_time": slot["start_time"],
                    "partySize": 2,
                },
            )
            assert r.status_code == 201, (slot, r.text)
            api.put(f"/appointments/{r.json()['id']}/cancel", json={}).raise_for_status()
        # And a slot not offered is refused.
        offered_keys = {(s["start_time"], s["resourceIds"][0]) for s in offered}
        for h in range(9, 18):
            for rid in (bistro["t1"]["id"], bistro["t2"]["id"]):
                if (z(paris(*day, h)), rid) in offered_keys:
                    continue
                r = api.post(
                    "/appointments/hold",
                    json={
                        "serviceId": svc,
                        "resourceIds": [rid],
                        "start_time": z(paris(*day, h)),
                        "partySize": 2,
                    },
                )
                assert r.status_code == 409, (h, rid, r.text)
