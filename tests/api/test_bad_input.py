"""Bad input on every endpoint answers 4xx problem+json with a detail, and nothing else breaks."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from hub.services import Services
from tests.support import Api, LiveServer

T0, T1 = "2030-01-08T10:00:00Z", "2030-01-08T11:00:00Z"


@pytest.fixture(scope="module")
def services(shared_hub: tuple[Services, LiveServer, Api]) -> Services:
    return shared_hub[0]


@pytest.fixture(scope="module")
def live(shared_hub: tuple[Services, LiveServer, Api]) -> LiveServer:
    return shared_hub[1]


@pytest.fixture(scope="module")
def api(shared_hub: tuple[Services, LiveServer, Api]) -> Api:
    return shared_hub[2]


@pytest.fixture(scope="module")
def world(api: Api) -> dict[str, str]:
    """Real ids of one of everything (every test here is refused, so they can share them)."""
    loc = api.post("/locations", json={"name": "Bad Input Café", "timezone": "UTC"}).json()["id"]
    table = api.post(
        "/resources", json={"name": "T1", "locationId": loc, "kind": "table", "capacity": 1}
    ).json()
    area = api.post(
        "/resources", json={"name": "Lounge", "locationId": loc, "kind": "area", "capacity": 10}
    ).json()
    service = api.post(
        "/services", json={"name": "Visit", "locationId": loc, "duration": 60}
    ).json()
    cafe = {"service": service, "table": table, "area": area}
    staff = api.post("/resources", json={"name": "Sam", "locationId": loc, "kind": "staff"}).json()
    shift = api.post("/shifts", json={"resourceId": staff["id"], "start": T0, "end": T1}).json()
    blackout = api.post(
        "/blackouts",
        json={
            "locationId": loc,
            "kind": "closure",
            "start": "2031-01-01T00:00:00Z",
            "end": "2031-01-02T00:00:00Z",
        },
    ).json()
    event = api.post(
        "/events", json={"locationId": loc, "start": T0, "end": T1, "summary": "Yoga"}
    ).json()
    customer = api.post("/customers", json={"firstName": "Ida"}).json()
    hook = api.post("/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["*"]}).json()
    hold = api.post(
        "/appointments/hold",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["area"]["id"]],
            "start_time": T0,
        },
    ).json()
    return {
        "location": loc,
        "service": cafe["service"]["id"],
        "resource": cafe["table"]["id"],
        "area": cafe["area"]["id"],
        "staff": staff["id"],
        "shift": shift["id"],
        "blackout": blackout["id"],
        "event": event["id"],
        "customer": customer["id"],
        "webhook": hook["id"],
        "appointment": hold["id"],
    }


# Every write endpoint, with {placeholders} for real ids.
WRITES = [
    ("POST", "/locations"),
    ("PATCH", "/locations/{location}"),
    ("POST", "/services"),
    ("PATCH", "/services/{service}"),
    ("POST", "/resources"),
    ("PATCH", "/resources/{resource}"),
    ("POST", "/shifts"),
    ("PATCH", "/shifts/{shift}"),
    ("POST", "/blackouts"),
    ("PATCH", "/blackouts/{blackout}"),
    ("POST", "/events"),
    ("PATCH", "/events/{event}"),
    ("POST", "/customers"),
    ("PATCH", "/customers/{customer}"),
    ("POST", "/webhooks"),
    ("PATCH", "/webhooks/{webhook}"),
    ("POST", "/appointments/hold"),
    ("POST", "/appointments"),
    ("PATCH", "/appointments/{appointment}"),
    ("PUT", "/appointments/{appointment}/book"),
    ("PUT", "/appointments/{appointment}/cancel"),
    ("PUT", "/appointments/{appointment}/status"),
]
READS = [
    "/locations/{location}",
    "/services/{service}",
    "/resources/{resource}",
    "/shifts/{shift}",
    "/blackouts/{blackout}",
    "/events/{event}",
    "/customers/{customer}",
    "/webhooks/{webhook}",
    "/appointments/{appointment}",
]


def assert_problem(resp: requests.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx problem+json whose detail a person can read."""
    assert resp.status_code in statuses, f"{resp.status_code}: {resp.text[:300]}"
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == resp.status_code and len(body["detail"]) > 10
    return body


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_malformed_bodies(api: Api, world: dict[str, str], method: str, path: str) -> None:
    url = path.format(**world)
    call = getattr(api, method.lower())
    assert_problem(call(url, data="{not json", headers={"Content-Type": "application/json"}), 400)
    assert_problem(call(url, json=[1, 2, 3]), 400)
    body = assert_problem(call(url, data="name=x", headers={"Content-Type": "text/plain"}), 415)
    assert "application/json" in body["detail"]
    # wrong types for every field name the endpoint could know
    for field in ("name", "start_time", "partySize", "customer", "events", "by", "status", "start"):
        assert_problem(call(url, json={field: {"nested": [True]}}), 404, 409, 422)
    assert_problem(call(url, json={"unknownField": 1}), 404, 409, 422)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_ten_megabytes_is_413_and_the_server_keeps_serving(
    api: Api, world: dict[str, str], method: str, path: str
) -> None:
    blob = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    resp = getattr(api, method.lower())(
        path.format(**world), data=blob, headers={"Content-Type": "application/json"}
    )
    body = assert_problem(resp, 413)
    assert "too large" in body["detail"]
    assert api.get("/locations").status_code == 200


@pytest.mark.parametrize("path", READS)
def test_unknown_ids_are_404(api: Api, world: dict[str, str], path: str) -> None:
    missing = path.split("{")[0] + "0" * 32
    body = assert_problem(api.get(missing), 404)
    assert "0" * 32 in body["detail"]
    if not path.startswith("/appointments"):
        assert_problem(api.patch(missing, json={"name": "x"}), 404, 422)
        assert_problem(api.delete(missing), 404)
    else:
        for suffix, payload in (
            ("/book", {"customer": {"id": world["customer"]}}),
            ("/cancel", {"by": "staff"}),
            ("/status", {"status": "seated"}),
        ):
            assert_problem(api.put(missing + suffix, json=payload), 404)
        assert_problem(api.patch(missing, json={"partySize": 2}), 404)


def _timed_bodies(world: dict[str, str]) -> dict[str, tuple[str, str, dict[str, Any], str, str]]:
    """endpoint → (method, url, body, start field, end field)."""
    appt = {"serviceId": world["service"], "resourceIds": [world["resource"]], "partySize": 1}
    return {
        "shift": ("POST", "/shifts", {"resourceId": world["staff"]}, "start", "end"),
        "shift-patch": ("PATCH", f"/shifts/{world['shift']}", {}, "start", "end"),
        "blackout": (
            "POST",
            "/blackouts",
            {"locationId": world["location"], "kind": "holiday"},
            "start",
            "end",
        ),
        "event": (
            "POST",
            "/events",
            {"locationId": world["location"], "summary": "Quiz"},
            "start",
            "end",
        ),
        "hold": ("POST", "/appointments/hold", appt, "start_time", "end_time"),
        "create": (
            "POST",
            "/appointments",
            {**appt, "customer": {"id": world["customer"]}},
            "start_time",
            "end_time",
        ),
        "reschedule": (
            "PATCH",
            f"/appointments/{world['appointment']}",
            {},
            "start_time",
            "end_time",
        ),
    }


@pytest.mark.parametrize(
    "endpoint", ["shift", "shift-patch", "blackout", "event", "hold", "create", "reschedule"]
)
def test_bad_times(api: Api, world: dict[str, str], endpoint: str) -> None:
    method, url, base, start, end = _timed_bodies(world)[endpoint]
    call = getattr(api, method.lower())
    body = assert_problem(call(url, json={**base, start: T1, end: T0}), 422)
    assert "after" in body["detail"]
    body = assert_problem(call(url, json={**base, start: "2030-01-08T10:00:00", end: T1}), 422)
    assert "offset" in body["detail"]
    assert_problem(call(url, json={**base, start: "next tuesday", end: T1}), 422)
    assert_problem(call(url, json={**base, start: 1767225600, end: T1}), 422)
    assert_problem(call(url, json={**base, start: "10000-01-01T00:00:00Z", end: T1}), 422)


@pytest.mark.parametrize("size", [0, -1, 10_000, 2.5, "4", True])
def test_party_sizes_out_of_range(api: Api, world: dict[str, str], size: Any) -> None:
    appt = {
        "serviceId": world["service"],
        "resourceIds": [world["area"]],
        "start_time": "2030-02-08T10:00:00Z",
        "partySize": size,
    }
    for body in (
        assert_problem(api.post("/appointments/hold", json=appt), 422),
        assert_problem(
            api.post("/appointments", json={**appt, "customer": {"id": world["customer"]}}), 422
        ),
        assert_problem(
            api.patch(f"/appointments/{world['appointment']}", json={"partySize": size}), 422
        ),
    ):
        assert "partySize" in body["detail"]
    if isinstance(size, int) and not isinstance(size, bool):  # a query string "4" is fine
        assert_problem(
            api.get(
                "/availability",
                params={
                    "serviceId": world["service"],
                    "startDate": "2030-02-08",
                    "partySize": size,
                },
            ),
            422,
        )


@pytest.mark.parametrize("kind", ["shifts", "blackouts", "events"])
@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYWEEKDAY=MO",
        "FREQ=FORTNIGHTLY",
        "FREQ=HOURLY",
        "COUNT=3",
        "FREQ=DAILY;X-FOO=1",
    ],
)
def test_unknown_rrule_parts(api: Api, world: dict[str, str], kind: str, rule: str) -> None:
    body = {
        "shifts": {"resourceId": world["staff"]},
        "blackouts": {"locationId": world["location"], "kind": "closure"},
        "events": {"locationId": world["location"], "summary": "Weekly"},
    }[kind] | {"start": T0, "end": T1, "rrule": rule}
    problem = assert_problem(api.post(f"/{kind}", json=body), 422)
    assert "rrule" in problem["detail"]
    patched = assert_problem(api.patch(f"/{kind}/{world[kind[:-1]]}", json={"rrule": rule}), 422)
    assert "rrule" in patched["detail"]


def test_bad_queries(api: Api, world: dict[str, str]) -> None:
    svc = world["service"]
    cases = [
        ("/availability", {}),
        ("/availability", {"serviceId": svc}),
        ("/availability", {"serviceId": svc, "startDate": "08/02/2030"}),
        ("/availability", {"serviceId": svc, "startDate": "2030-02-08", "endDate": "2030-02-01"}),
        ("/availability", {"serviceId": svc, "startDate": "2030-02-08", "roundRobin": "SOMETIMES"}),
        ("/availability", {"serviceId": svc, "startDate": "2030-01-01", "endDate": "2031-01-01"}),
        ("/appointments", {"start": "2030-01-01T00:00:00"}),
        ("/appointments", {"limit": "all"}),
        ("/appointments", {"status": "BK,booked"}),
        ("/locations", {"limit": 100000}),
        ("/locations", {"offset": -1}),
        ("/locations", {"email": "a\x00b"}),
        ("/resources", {"locationID": "typo"}),
        ("/webhooks", {"active": "true"}),
    ]
    for path, params in cases:
        assert_problem(api.get(path, params=params), 400, 422)
    assert_problem(
        api.get("/availability", params={"serviceId": "ghost", "startDate": "2030-02-08"}), 404
    )


def test_auth_is_required_everywhere_but_the_document(
    live: LiveServer, services: Services, world: dict[str, str]
) -> None:
    base = f"{live.url}/api/v1"
    for method, path in [*WRITES, *(("GET", p) for p in READS), ("GET", "/availability")]:
        resp = requests.request(method, base + path.format(**world), json={}, timeout=10)
        assert_problem(resp, 401)
        wrong = requests.request(
            method,
            base + path.format(**world),
            json={},
            headers={"Authorization": "Bearer chk_not_a_key"},
            timeout=10,
        )
        assert_problem(wrong, 401)
    assert requests.get(f"{base}/openapi.json", timeout=10).status_code == 200


def test_revoked_keys_stop_working_at_once(live: LiveServer, services: Services) -> None:
    key = services.booking.create_api_key("partner")
    client = Api(live.url, key["key"])
    assert client.get("/locations").status_code == 200
    services.booking.revoke_api_key(key["id"])
    body = assert_problem(client.get("/locations"), 401)
    assert "revoked" in body["detail"]
    assert_problem(client.post("/locations", json={"name": "x", "timezone": "UTC"}), 401)
