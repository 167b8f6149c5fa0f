"""Every set-up resource over real HTTP: create, read one, page, change, delete, 404 and 422."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Api

Ctx = dict[str, Any]
# segment → (create body, a change, a required field, an invalid value with the field it names)
KINDS: dict[str, tuple[Callable[[Ctx], dict], dict, str, tuple[str, Any]]] = {
    "locations": (
        lambda c: {
            "name": "Paws & Coffee",
            "timezone": "Europe/Vienna",
            "expirationDelay": 300,
            "openingHours": {"mon": [["09:00", "18:00"]], "sat": [["10:00", "14:00"]]},
        },
        {"expirationDelay": 900},
        "timezone",
        ("timezone", "Mars/Olympus"),
    ),
    "services": (
        lambda c: {
            "name": "Cat lounge hour",
            "locationId": c["loc"],
            "duration": 60,
            "bufferBefore": 5,
            "bufferAfter": 10,
            "involvesPets": True,
            "color": "#aa5500",
        },
        {"duration": 90},
        "duration",
        ("duration", "sixty"),
    ),
    "resources": (
        lambda c: {
            "name": "Window table",
            "locationId": c["loc"],
            "kind": "table",
            "capacity": 4,
            "email": "table@example.com",
        },
        {"capacity": 6},
        "kind",
        ("kind", "sofa"),
    ),
    "shifts": (
        lambda c: {
            "resourceId": c["staff"],
            "start": "2030-01-07T08:00:00+01:00",
            "end": "2030-01-07T16:00:00+01:00",
            "role": "barista",
            "rrule": "FREQ=WEEKLY;BYDAY=MO,TU",
        },
        {"role": "host"},
        "start",
        ("end", "2030-01-07T06:00:00Z"),
    ),
    "blackouts": (
        lambda c: {
            "locationId": c["loc"],
            "kind": "no_pets",
            "start": "2030-05-01T00:00:00Z",
            "end": "2030-05-02T00:00:00Z",
            "summary": "Allergy day",
        },
        {"summary": "Allergy-friendly day"},
        "kind",
        ("kind", "party"),
    ),
    "events": (
        lambda c: {
            "locationId": c["loc"],
            "start": "2030-06-01T18:00:00Z",
            "end": "2030-06-01T21:00:00Z",
            "summary": "Cat yoga",
            "capacity": 12,
            "blocksRegularBookings": True,
        },
        {"capacity": 15},
        "summary",
        ("capacity", -1),
    ),
    "customers": (
        lambda c: {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "Ada@Example.com",
            "phone": "+43 1 234",
        },
        {"phone": "+43 1 999"},
        "firstName",
        ("email", "not-an-address"),
    ),
}


@pytest.fixture(scope="module")
def api(shared_hub: tuple[Any, Any, Api]) -> Api:
    """One hub for the module: every test counts relative to what it found."""
    return shared_hub[2]


@pytest.fixture(scope="module")
def ctx(api: Api) -> Ctx:
    loc = api.post("/locations", json={"name": "Set-up Café", "timezone": "UTC"}).json()["id"]
    staff = api.post("/resources", json={"name": "Kim", "locationId": loc, "kind": "staff"})
    api.post("/resources", json={"name": "T1", "locationId": loc, "kind": "table"})
    return {"loc": loc, "staff": staff.json()["id"]}


def problem(resp: Any, status: int, *words: str) -> dict[str, Any]:
    """Assert a problem+json answer whose detail names ``words``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    for w in words:
        assert w in body["detail"], body["detail"]
    return body


@pytest.mark.parametrize("segment", KINDS)
def test_create_get_page_patch_delete(api: Api, ctx: Ctx, segment: str) -> None:
    make, change, _, _ = KINDS[segment]
    before = api.get(f"/{segment}").json()["total"]
    created = [api.post(f"/{segment}", json=make(ctx)) for _ in range(3)]
    assert all(r.status_code == 201 for r in created), created[0].text
    first = created[0].json()
    for field, value in make(ctx).items():
        if field == "email":
            value = value.lower()
        if field in ("start", "end"):
            continue  # answered in UTC with Z
        assert first[field] == value, field
    assert api.get(f"/{segment}/{first['id']}").json() == first

    page = api.get(f"/{segment}", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == before + 3 and page["count"] == 2 and len(page["data"]) == 2
    assert page["limit"] == 2 and page["offset"] == 1
    everything = api.get(f"/{segment}", params={"limit": 500}).json()["data"]
    assert [x["id"] for x in everything][1:3] == [x["id"] for x in page["data"]]

    patched = api.patch(f"/{segment}/{first['id']}", json=change)
    assert patched.status_code == 200, patched.text
    assert all(patched.json()[k] == v for k, v in change.items())
    assert patched.json()["version"] == first["version"] + 1
    assert api.get(f"/{segment}/{first['id']}").json() == patched.json()

    assert api.delete(f"/{segment}/{first['id']}").status_code == 204
    problem(api.get(f"/{segment}/{first['id']}"), 404, first["id"])
    problem(api.delete(f"/{segment}/{first['id']}"), 404, first["id"])
    assert api.get(f"/{segment}").json()["total"] == before + 2


@pytest.mark.parametrize("segment", KINDS)
def test_validation_names_the_field(api: Api, ctx: Ctx, segment: str) -> None:
    make, _, required, (bad_field, bad_value) = KINDS[segment]
    before = api.get(f"/{segment}").json()["total"]
    body = make(ctx)
    del body[required]
    problem(api.post(f"/{segment}", json=body), 422, required)
    problem(api.post(f"/{segment}", json={**make(ctx), bad_field: bad_value}), 422, bad_field)
    problem(api.post(f"/{segment}", json={**make(ctx), "colour": "red"}), 422, "colour")
    problem(api.patch(f"/{segment}/nope", json={"name": "x"}), 404, "nope")
    problem(api.patch(f"/{segment}/nope", json={}), 422)
    problem(api.get(f"/{segment}", params={"limit": 0}), 422, "limit")
    problem(api.get(f"/{segment}", params={"offset": "ten"}), 422, "offset")
    assert api.get(f"/{segment}").json()["total"] == before  # nothing half-created


def test_references_to_missing_ids_are_404(api: Api, ctx: Ctx) -> None:
    problem(
        api.post("/services", json={"name": "x", "locationId": "missing", "duration": 30}),
        404,
        "location missing",
    )
    problem(
        api.post(
            "/shifts",
            json={
                "resourceId": "ghost",
                "start": "2030-01-01T08:00:00Z",
                "end": "2030-01-01T09:00:00Z",
            },
        ),
        404,
        "resource ghost",
    )
    blackout = api.post(
        "/blackouts",
        json={
            "locationId": ctx["loc"],
            "kind": "closure",
            "start": "2030-01-01T00:00:00Z",
            "end": "2030-01-02T00:00:00Z",
        },
    ).json()
    problem(api.patch(f"/blackouts/{blackout['id']}", json={"resourceId": "ghost"}), 404, "ghost")
    assert api.get(f"/blackouts/{blackout['id']}").json()["resourceId"] is None


def test_customers_are_found_by_email(api: Api) -> None:
    api.post("/customers", json={"firstName": "Grace", "email": "grace@example.com"})
    api.post("/customers", json={"firstName": "Bob", "email": "bob@example.com"})
    found = api.get("/customers", params={"email": "GRACE@example.com"}).json()
    assert found["total"] == 1 and found["data"][0]["firstName"] == "Grace"
    assert api.get("/customers", params={"email": "eve@example.com"}).json()["total"] == 0


def test_reassigning_a_shift(api: Api, ctx: Ctx) -> None:
    first = api.post("/resources", json={"name": "Mo", "locationId": ctx["loc"], "kind": "staff"})
    other = api.post("/resources", json={"name": "Lou", "locationId": ctx["loc"], "kind": "staff"})
    shift = api.post(
        "/shifts",
        json={
            "resourceId": first.json()["id"],
            "start": "2030-01-07T08:00:00Z",
            "end": "2030-01-07T16:00:00Z",
        },
    ).json()
    moved = api.patch(f"/shifts/{shift['id']}", json={"resourceId": other.json()["id"]})
    assert moved.status_code == 200
    assert moved.json()["resourceId"] == other.json()["id"]
    assert moved.json()["sequence"] == shift["sequence"] + 1
    listed = api.get("/shifts", params={"resourceId": other.json()["id"]}).json()
    assert [s["id"] for s in listed["data"]] == [shift["id"]]
    assert api.get("/shifts", params={"resourceId": first.json()["id"]}).json()["total"] == 0
    table = api.get("/resources", params={"kind": "table"}).json()["data"][0]
    problem(api.patch(f"/shifts/{shift['id']}", json={"resourceId": table["id"]}), 422, "staff")


def test_taking_another_locations_slug_is_a_409_not_a_crash(api: Api) -> None:
    first = api.post("/locations", json={"name": "One", "timezone": "UTC", "slug": "one"}).json()
    second = api.post("/locations", json={"name": "Two", "timezone": "UTC", "slug": "two"}).json()
    clash = api.patch(f"/locations/{second['id']}", json={"slug": first["slug"]})
    assert clash.status_code == 409
    assert "slug" in clash.json()["detail"]
    assert api.get(f"/locations/{second['id']}").json()["slug"] == "two"
