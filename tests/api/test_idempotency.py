"""Idempotency-Key on POST/PUT/PATCH: replay, mismatch, concurrency, scope and expiry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from hub.api.idempotency import request_fingerprint
from hub.services import Services
from tests.conftest import next_weekday, z
from tests.support import Api

LOCATION = {"name": "Idem Café", "timezone": "Europe/Berlin", "expirationDelay": 300}


def test_same_key_same_body_replays_first_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "loc-1"}
    first = api.post("/locations", json=LOCATION, headers=headers)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    # same JSON with another key order and spacing is the same request
    again = api.post(
        "/locations",
        data='{"timezone": "Europe/Berlin", "expirationDelay": 300, "name": "Idem Café"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert api.get("/locations").json()["total"] == 1


def test_same_key_other_body_is_422(api: Api) -> None:
    headers = {"Idempotency-Key": "k-2"}
    assert api.post("/locations", json=LOCATION, headers=headers).status_code == 201
    other = api.post("/locations", json={**LOCATION, "name": "Other"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["Content-Type"].startswith("application/problem+json")
    assert "Idempotency-Key" in other.json()["detail"]
    # same key on another path is another request too
    moved = api.post("/customers", json=LOCATION, headers=headers)
    assert moved.status_code == 422
    assert api.get("/locations").json()["total"] == 1


def test_4xx_answers_are_replayed_too(api: Api, cafe: dict[str, Any]) -> None:
    start = next_weekday(2, 10)
    body = {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [cafe["table"]["id"]],
        "start_time": z(start),
        "end_time": z(start + timedelta(hours=1)),
        "partySize": 1,
    }
    assert api.post("/appointments/hold", json=body).status_code == 201
    refused = api.post("/appointments/hold", json=body, headers={"Idempotency-Key": "h"})
    assert refused.status_code == 409
    replay = api.post("/appointments/hold", json=body, headers={"Idempotency-Key": "h"})
    assert replay.status_code == 409
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == refused.json()
    assert replay.headers["Content-Type"].startswith("application/problem+json")


def test_concurrent_requests_with_one_key_execute_once(
    api: Api, cafe: dict[str, Any], services: Services
) -> None:
    start = next_weekday(3, 9)
    body = {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [cafe["area"]["id"]],
        "start_time": z(start),
        "end_time": z(start + timedelta(hours=1)),
        "partySize": 1,
    }

    def hold(_: int) -> tuple[int, dict[str, Any]]:
        r = api.post("/appointments/hold", json=body, headers={"Idempotency-Key": "race"})
        return r.status_code, r.json()

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(hold, range(12)))
    created = {a["id"] for s, a in answers if s == 201}
    assert len(created) == 1, answers  # every 201 is the same appointment
    for status, answer in answers:
        assert status in (201, 409), answer
        if status == 409:
            assert answer["code"] == "idempotency_in_progress"
            assert "in progress" in answer["detail"]
    listed = api.get("/appointments", params={"resourceId": cafe["area"]["id"]}).json()
    assert listed["total"] == 1


def test_keys_are_scoped_to_the_api_key(api: Api, live: Any, services: Services) -> None:
    other = Api(live.url, services.booking.create_api_key("other")["key"])
    headers = {"Idempotency-Key": "shared"}
    a = api.post("/locations", json=LOCATION, headers=headers)
    b = other.post("/locations", json=LOCATION, headers=headers)
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]


def test_put_and_patch_honour_the_key(api: Api, cafe: dict[str, Any]) -> None:
    loc_id = cafe["location"]["id"]
    headers = {"Idempotency-Key": "patch-1"}
    first = api.patch(f"/locations/{loc_id}", json={"name": "Renamed"}, headers=headers)
    assert first.status_code == 200
    assert first.json()["version"] == 2
    again = api.patch(f"/locations/{loc_id}", json={"name": "Renamed"}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/locations/{loc_id}").json()["version"] == 2


def test_expired_keys_are_forgotten(api: Api, services: Services) -> None:
    headers = {"Idempotency-Key": "old"}
    first = api.post("/locations", json=LOCATION, headers=headers)
    assert services.booking.purge_idempotency_keys(older_than=timedelta(0)) == 1
    second = api.post("/locations", json=LOCATION, headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


def test_bad_keys_and_gets(api: Api) -> None:
    too_long = api.post("/locations", json=LOCATION, headers={"Idempotency-Key": "x" * 300})
    assert too_long.status_code == 422
    assert api.get("/locations").json()["total"] == 0
    # GET ignores the header
    assert api.get("/locations", headers={"Idempotency-Key": "g"}).status_code == 200


def test_a_repeat_while_the_first_still_runs_is_409(api: Api, services: Services) -> None:
    key = api.session.headers["Authorization"].split()[1]
    api_key_id = services.booking.api_key_for(key)["id"]
    body = b'{"name":"Slow","timezone":"UTC"}'
    # the first request has reserved the key and is still running
    stored = services.booking.reserve_idempotency_key(
        api_key_id,
        "slow",
        "POST",
        "/api/v1/locations",
        request_fingerprint("POST", "/api/v1/locations", body),
    )
    assert stored is None
    repeat = api.post(
        "/locations",
        data=body,
        headers={"Idempotency-Key": "slow", "Content-Type": "application/json"},
    )
    assert repeat.status_code == 409
    assert repeat.json()["code"] == "idempotency_in_progress"
    assert api.get("/locations").json()["total"] == 0
    # once it finishes, repeats get its answer
    saved = services.secrets.encrypt_json(
        {"contentType": "application/json", "body": '{"id": "x"}'}
    )
    services.booking.complete_idempotency_key(api_key_id, "slow", 201, saved.decode())
    replay = api.post(
        "/locations",
        data=body,
        headers={"Idempotency-Key": "slow", "Content-Type": "application/json"},
    )
    assert replay.status_code == 201 and replay.json() == {"id": "x"}


def test_stored_answers_are_encrypted(api: Api, services: Services) -> None:
    from sqlalchemy import select

    from hub.store.models import IdempotencyKey

    hook = api.post(
        "/webhooks",
        json={"url": "https://example.com/h", "events": ["*"], "secret": "do-not-store-me-plainly"},
        headers={"Idempotency-Key": "wh"},
    )
    assert hook.status_code == 201
    with services.db.reader() as s:
        stored = s.scalars(select(IdempotencyKey.response_body)).one()
    assert "do-not-store-me-plainly" not in stored and "example.com" not in stored
    again = api.post(
        "/webhooks",
        json={"url": "https://example.com/h", "events": ["*"], "secret": "do-not-store-me-plainly"},
        headers={"Idempotency-Key": "wh"},
    )
    assert again.json() == hook.json() and again.headers["Idempotent-Replayed"] == "true"
