"""Never a double booking: concurrent holds through two `calhub serve` processes on one database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.booking.served import Client, all_at_once, served_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Client]]:
    """Two servers sharing one database, each with its own client."""
    with served_pair(tmp_path_factory.mktemp("races")) as (servers, key):
        yield Client(servers[0].url, key), Client(servers[1].url, key)


def _setup(c: Client, capacity: int, kind: str) -> dict[str, Any]:
    loc = c.post("/locations", {"name": f"Race {capacity}", "timezone": "UTC"}).json()
    res = c.post(
        "/resources",
        {"name": f"{kind} {capacity}", "locationId": loc["id"], "kind": kind, "capacity": capacity},
    ).json()
    svc = c.post("/services", {"name": "Visit", "locationId": loc["id"], "duration": 60}).json()
    return {"location": loc, "resource": res, "service": svc}


def _slot() -> str:
    start = (datetime.now(UTC) + timedelta(days=5)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def _race(pair: tuple[Client, Client], n: int, body: dict[str, Any]) -> list[Any]:
    return all_at_once(n, lambda i: pair[i % 2].post("/appointments/hold", body))


def test_fifty_holds_on_a_one_seat_table_give_one_hold(pair: tuple[Client, Client]) -> None:
    s = _setup(pair[0], 1, "table")
    body = {
        "serviceId": s["service"]["id"],
        "resourceIds": [s["resource"]["id"]],
        "start_time": _slot(),
        "partySize": 1,
    }
    results = _race(pair, 50, body)
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = Counter(r.status_code for r in results)
    assert codes == {201: 1, 409: 49}, codes
    for r in results:
        if r.status_code == 409:
            assert r.headers["Content-Type"].startswith("application/problem+json")
            problem = r.json()
            assert problem["status"] == 409
            assert "already fully booked" in problem["detail"], problem
    # Both processes see one live hold on the table.
    listed = pair[1].get("/appointments", resourceId=s["resource"]["id"], status="IN").json()
    assert listed["total"] == 1
    # And neither offers the slot any more.
    day = body["start_time"][:10]
    avail = (
        pair[0]
        .get("/availability", serviceId=s["service"]["id"], startDate=day, endDate=day)
        .json()
    )
    assert body["start_time"] not in {t["start_time"] for t in avail["availableTimes"]}


def test_thirty_parties_of_three_fill_a_ten_seat_area_with_three(
    pair: tuple[Client, Client],
) -> None:
    s = _setup(pair[1], 10, "area")
    body = {
        "serviceId": s["service"]["id"],
        "resourceIds": [s["resource"]["id"]],
        "start_time": _slot(),
        "partySize": 3,
    }
    results = _race(pair, 30, body)
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = Counter(r.status_code for r in results)
    assert codes == {201: 3, 409: 27}, codes
    assert all(
        r.headers["Content-Type"].startswith("application/problem+json")
        for r in results
        if r.status_code == 409
    )
    # One seat is left: a party of one still fits, a party of two does not.
    one = pair[0].post("/appointments/hold", {**body, "partySize": 1})
    assert one.status_code == 201, one.text
    two = pair[1].post("/appointments/hold", {**body, "partySize": 2})
    assert two.status_code == 409


def test_overlapping_direct_bookings_race_to_one_winner(
    pair: tuple[Client, Client], tmp_path: Path
) -> None:
    """Different but overlapping start times on a one-seat table: still never two."""
    s = _setup(pair[0], 1, "table")
    base = datetime.fromisoformat(_slot().replace("Z", "+00:00"))

    def book(i: int) -> Any:
        start = base + timedelta(minutes=15 * (i % 4))  # 12:00, 12:15, 12:30, 12:45: all overlap
        return pair[i % 2].post(
            "/appointments",
            {
                "serviceId": s["service"]["id"],
                "resourceIds": [s["resource"]["id"]],
                "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "customer": {"firstName": f"P{i}", "email": f"p{i}@example.com"},
            },
        )

    results = all_at_once(24, book)
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = Counter(r.status_code for r in results)
    assert codes == {201: 1, 409: 23}, codes
