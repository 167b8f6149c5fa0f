"""Outbound webhooks: subscriptions over the API, signed deliveries from the outbox, retries."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.services import Services
from hub.store.models import Outbox, Webhook
from hub.sync.engine import SyncEngine
from hub.sync.retry import RetryPolicy
from hub.sync.runtime import build_handlers
from hub.sync.signing import sign, verify_signature
from hub.sync.webhooks import WebhookSender
from hub.sync.worker import OutboxWorker
from tests.api.receiver import Receiver
from tests.conftest import next_weekday, z
from tests.support import Api

SECRET = "whsec_test_secret_0123456789"


def fast_worker(services: Services) -> OutboxWorker:
    """The real worker and handlers, with retries in milliseconds instead of minutes."""
    return OutboxWorker(
        services.db,
        build_handlers(services, SyncEngine(services)),
        policy=RetryPolicy(base_seconds=0.05, max_seconds=0.2, max_attempts=6),
    )


def drain(worker: OutboxWorker, until: Any, timeout: float = 15.0) -> None:
    """Run the worker until ``until()`` is true."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        if not worker.run_once():
            time.sleep(0.03)


def subscribe(api: Api, url: str, events: list[str]) -> dict[str, Any]:
    r = api.post("/webhooks", json={"url": url, "events": events, "secret": SECRET})
    assert r.status_code == 201, r.text
    return r.json()


def test_webhook_crud_and_validation(api: Api, services: Services) -> None:
    hook = subscribe(api, "https://booking.example.com/hooks", ["appointment.created"])
    assert hook["events"] == ["appointment.created"] and hook["active"] is True
    got = api.get(f"/webhooks/{hook['id']}").json()
    assert "secret" not in got and got["url"] == "https://booking.example.com/hooks"
    # the secret is encrypted at rest
    with services.db.reader() as s:
        stored = s.scalars(select(Webhook.secret_encrypted)).one()
    assert SECRET.encode() not in bytes(stored)
    assert services.booking.webhook_secret(hook["id"], services.secrets) == SECRET

    patched = api.patch(f"/webhooks/{hook['id']}", json={"events": ["*"], "active": False})
    assert patched.status_code == 200 and patched.json()["events"] == ["*"]
    listing = api.get("/webhooks", params={"limit": 1}).json()
    assert listing["total"] == 1 and listing["data"][0]["active"] is False

    bad = api.post("/webhooks", json={"url": "https://x.example", "events": ["appointment.eaten"]})
    assert bad.status_code == 422 and "appointment.eaten" in bad.json()["detail"]
    assert api.post("/webhooks", json={"url": "ftp://x", "events": ["*"]}).status_code == 422
    assert api.post("/webhooks", json={"url": "https://x.example"}).status_code == 422
    assert api.get("/webhooks/nope").status_code == 404
    assert api.patch("/webhooks/nope", json={"active": True}).status_code == 404
    generated = api.post("/webhooks", json={"url": "https://x.example/h", "events": ["*"]})
    assert generated.status_code == 201 and len(generated.json()["secret"]) >= 16

    assert api.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/webhooks/{hook['id']}").status_code == 404


def test_signature_helper_rejects_tampering_and_replays() -> None:
    body = b'{"event":"appointment.created"}'
    now = int(time.time())
    sig = sign(SECRET, now, body)
    assert verify_signature(SECRET, str(now), body, sig)
    assert not verify_signature(SECRET, str(now), body + b" ", sig)
    assert not verify_signature("another-secret-value", str(now), body, sig)
    assert not verify_signature(SECRET, str(now + 1), body, sig)
    old = now - 301
    assert not verify_signature(SECRET, str(old), body, sign(SECRET, old, body))
    assert not verify_signature(SECRET, "not-a-time", body, sig)


def test_deliveries_are_signed_retried_ordered_and_once(
    api: Api, services: Services, cafe: dict[str, Any], receiver: Receiver
) -> None:
    subscribe(
        api, receiver.url, ["appointment.created", "appointment.updated", "appointment.cancelled"]
    )
    # the receiver is down for the first two attempts
    receiver.script = [(500, {}), (502, {})]
    start = next_weekday(1, 10)
    appt = api.post(
        "/appointments",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["table"]["id"]],
            "start_time": z(start),
            "end_time": z(start + timedelta(hours=1)),
            "partySize": 1,
            "customer": {"firstName": "Ada", "lastName": "L", "email": "ada@example.com"},
        },
    ).json()
    assert api.patch(f"/appointments/{appt['id']}", json={"notes": "window"}).status_code == 200
    assert api.put(f"/appointments/{appt['id']}/cancel", json={"by": "customer"}).status_code == 200

    worker = fast_worker(services)
    drain(worker, lambda: len(receiver.accepted()) >= 3)
    got = receiver.accepted()
    events = [r.headers["X-Calhub-Event"] for r in got]
    assert events == ["appointment.created", "appointment.updated", "appointment.cancelled"]
    assert len(receiver.requests) == 5  # two refused attempts, then each delivered once
    for r in got:
        assert verify_signature(
            SECRET, r.headers["X-Calhub-Timestamp"], r.body, r.headers["X-Calhub-Signature"]
        )
        payload = json.loads(r.body)
        assert set(payload) == {"id", "event", "createdAt", "data"}
        assert payload["event"] == r.headers["X-Calhub-Event"]
        assert payload["data"]["appointment"]["id"] == appt["id"]
    # retries of one delivery carry the same delivery id; deliveries differ from each other
    first_attempts = [r.headers["X-Calhub-Delivery"] for r in receiver.requests[:3]]
    assert len(set(first_attempts)) == 1
    assert len({r.headers["X-Calhub-Delivery"] for r in got}) == 3
    # nothing more is sent once everything is delivered
    worker.run_once()
    assert len(receiver.requests) == 5


def test_retry_after_is_honoured(api: Api, services: Services, receiver: Receiver) -> None:
    subscribe(api, receiver.url, ["location.created"])
    receiver.script = [(503, {"Retry-After": "1"})]
    api.post("/locations", json={"name": "Hooked", "timezone": "UTC"})
    drain(fast_worker(services), lambda: len(receiver.accepted()) >= 1)
    first, second = receiver.requests[:2]
    assert second.at - first.at >= 0.95


def test_gone_stops_the_subscription(api: Api, services: Services, receiver: Receiver) -> None:
    hook = subscribe(api, receiver.url, ["*"])
    receiver.script = [(410, {})]
    api.post("/customers", json={"firstName": "Bo", "email": "bo@example.com"})
    worker = fast_worker(services)

    def settled() -> bool:
        with services.db.reader() as s:
            return s.scalars(
                select(Outbox.status).where(Outbox.webhook_id == hook["id"])
            ).all() == ["dead"]

    drain(worker, settled)
    assert api.get(f"/webhooks/{hook['id']}").json()["active"] is False
    api.post("/customers", json={"firstName": "Cy", "email": "cy@example.com"})
    worker.run_once()
    assert len(receiver.requests) == 1  # a deactivated subscription is not called again


@pytest.mark.parametrize("event", ["shift.reassigned", "blackout.created"])
def test_set_up_events_reach_subscribers(
    api: Api, services: Services, cafe: dict[str, Any], receiver: Receiver, event: str
) -> None:
    subscribe(api, receiver.url, [event])
    loc = cafe["location"]["id"]
    start = next_weekday(0, 8)
    if event == "shift.reassigned":
        anna = api.post("/resources", json={"name": "Anna", "locationId": loc, "kind": "staff"})
        ben = api.post("/resources", json={"name": "Ben", "locationId": loc, "kind": "staff"})
        shift = api.post(
            "/shifts",
            json={
                "resourceId": anna.json()["id"],
                "start": z(start),
                "end": z(start + timedelta(hours=8)),
                "role": "barista",
            },
        ).json()
        moved = api.patch(f"/shifts/{shift['id']}", json={"resourceId": ben.json()["id"]})
        assert moved.status_code == 200 and moved.json()["resourceId"] == ben.json()["id"]
    else:
        api.post(
            "/blackouts",
            json={
                "locationId": loc,
                "kind": "holiday",
                "start": z(start),
                "end": z(start + timedelta(days=1)),
                "summary": "Closed",
            },
        )
    drain(fast_worker(services), lambda: len(receiver.accepted()) >= 1)
    assert [r.headers["X-Calhub-Event"] for r in receiver.accepted()] == [event]


def test_a_slow_receiver_times_out_and_is_retried(
    api: Api, services: Services, receiver: Receiver
) -> None:
    subscribe(api, receiver.url, ["customer.created"])
    receiver.script = [(200, {"X-Test-Delay": "1.5"})]
    api.post("/customers", json={"firstName": "Slow", "email": "slow@example.com"})
    worker = fast_worker(services)
    worker.handlers["webhook"] = WebhookSender(services.db, services.secrets, timeout=(1.0, 0.5))
    drain(worker, lambda: len(receiver.accepted()) >= 2)

    def delivered() -> bool:
        with services.db.reader() as s:
            row = s.scalars(select(Outbox).where(Outbox.event == "customer.created")).one()
            return row.status == "done" and row.attempts == 2  # one timeout, one success

    drain(worker, delivered)
    # the answer that came too late does not count; the retry carries the same delivery id
    first, second = receiver.requests[:2]
    assert first.headers["X-Calhub-Delivery"] == second.headers["X-Calhub-Delivery"]


def test_the_serve_worker_delivers_on_its_own(
    api: Api, services: Services, receiver: Receiver
) -> None:
    from hub.sync.runtime import build_worker

    worker = build_worker(services)  # exactly what `calhub serve` and `calhub worker` run
    worker.poll_seconds = 0.05
    worker.start()
    try:
        subscribe(api, receiver.url, ["location.created", "location.updated"])
        loc = api.post("/locations", json={"name": "Live", "timezone": "UTC"}).json()
        api.patch(f"/locations/{loc['id']}", json={"name": "Live 2"})
        got = receiver.wait_for(2)
        assert [json.loads(r.body)["data"]["location"]["name"] for r in got] == ["Live", "Live 2"]
    finally:
        worker.stop()


def test_two_workers_deliver_each_event_once_and_in_order_per_object(
    api: Api, services: Services, receiver: Receiver
) -> None:
    subscribe(api, receiver.url, ["customer.created", "customer.updated"])
    ids = []
    for i in range(6):
        c = api.post("/customers", json={"firstName": f"C{i}", "email": f"c{i}@example.com"})
        ids.append(c.json()["id"])
    for cid in ids:
        for n in range(2):
            api.patch(f"/customers/{cid}", json={"phone": f"+1 555 {n}"})
    workers = [fast_worker(services), fast_worker(services)]
    for n, w in enumerate(workers):
        w.worker_id = f"test-worker-{n}"  # two separate claimers, as two processes would be
        w.poll_seconds = 0.02
        w.start()
    try:
        got = receiver.wait_for(18)
        time.sleep(0.3)  # anything sent twice would arrive now
    finally:
        for w in workers:
            w.stop()
    got = receiver.accepted()
    deliveries = [r.headers["X-Calhub-Delivery"] for r in got]
    assert len(deliveries) == 18 and len(set(deliveries)) == 18
    per_customer: dict[str, list[str]] = {}
    for r in got:
        payload = json.loads(r.body)
        customer = payload["data"]["customer"]
        per_customer.setdefault(customer["id"], []).append(
            f"{payload['event']}:{customer['version']}"
        )
    assert per_customer == {
        cid: ["customer.created:1", "customer.updated:2", "customer.updated:3"] for cid in ids
    }
