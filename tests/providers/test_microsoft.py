"""Microsoft Graph specifics: subscriptions, the validation handshake, clientState, delta paging,
transactionId collisions, and per-user calendars."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Response, request

from hub.providers.base import NotFoundError, Notification, RejectedError, RemoteRef
from hub.providers.microsoft import MicrosoftConnector
from tests.fakes.base import FakeServer
from tests.providers.harness import MicrosoftHarness, outbound


@pytest.fixture
def h() -> Iterator[MicrosoftHarness]:
    harness = MicrosoftHarness()
    yield harness
    harness.stop()


class Receiver(FakeServer):
    """The hub's webhook endpoint, reduced to: hand the request to the connector, answer."""

    def __init__(self, connector: MicrosoftConnector) -> None:
        super().__init__("receiver")
        self.connector = connector
        self.got: list[Notification] = []
        self.rejected = 0
        self.event = threading.Event()

        @self.app.post("/hooks/graph")
        def hook() -> Response:
            try:
                note = self.connector.parse_notification(
                    dict(request.headers), request.get_data(), request.args.to_dict()
                )
            except RejectedError:
                self.rejected += 1
                return Response("forbidden", status=403)
            if note.reply and note.reply[0] == 200:
                return Response(note.reply[2], status=200, content_type=note.reply[1])
            self.got.append(note)
            self.event.set()
            return Response("", status=202)


def test_validation_handshake_answers_the_token_in_plain_text_without_io(
    h: MicrosoftHarness,
) -> None:
    c = h.connector(channel={"token": "s3cret"})
    before = len(h.server.calls)
    started = time.perf_counter()
    note = c.parse_notification({}, b"", {"validationToken": "Validation: Testing 123"})
    assert time.perf_counter() - started < 0.5
    assert note.reply == (200, "text/plain", "Validation: Testing 123")
    assert len(h.server.calls) == before  # no network on the handshake path


def test_subscription_is_validated_then_delivers_verified_notifications(
    h: MicrosoftHarness,
) -> None:
    token = "client-state-0f3a"
    rx = Receiver(h.connector(channel={"token": token})).start()
    try:
        channel = h.connector().watch(rx.url + "/hooks/graph", token)
        sub = h.server.subscriptions[channel["id"]]
        assert sub["resource"] == "me/calendars/work/events"
        assert sub["clientState"] == token
        assert sub["lifecycleNotificationUrl"] == rx.url + "/hooks/graph"
        exp = datetime.fromisoformat(channel["expiresAt"].replace("Z", "+00:00")[:19])
        assert exp.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(days=2)
        # Receiver now verifies the subscription id too.
        rx.connector = h.connector(channel=channel)
        eid = h.server.user_create("work", "Dentist", datetime.now(UTC), datetime.now(UTC))
        assert rx.event.wait(5), "no notification arrived"
        assert rx.got[0].channel_id == channel["id"]
        assert rx.got[0].resource_state == "created"
        assert rx.got[0].reply == (202, "text/plain", "")
        assert eid
    finally:
        rx.stop()


def test_forged_notifications_are_rejected(h: MicrosoftHarness) -> None:
    c = h.connector(channel={"id": "sub-1", "token": "right"})
    body = b'{"value":[{"subscriptionId":"sub-1","clientState":"wrong","changeType":"updated"}]}'
    with pytest.raises(RejectedError, match="clientState"):
        c.parse_notification({}, body, {})
    other = b'{"value":[{"subscriptionId":"sub-2","clientState":"right","changeType":"updated"}]}'
    with pytest.raises(RejectedError, match="unknown subscription"):
        c.parse_notification({}, other, {})
    with pytest.raises(RejectedError):
        h.connector().parse_notification({}, body, {})  # no clientState configured: refuse
    with pytest.raises(RejectedError):
        c.parse_notification({}, b"not json", {})
    good = b'{"value":[{"subscriptionId":"sub-1","clientState":"right","changeType":"deleted"}]}'
    assert c.parse_notification({}, good, {}).resource_state == "deleted"
    life = b'{"value":[{"subscriptionId":"sub-1","clientState":"right","lifecycleEvent":"missed"}]}'
    assert c.parse_notification({}, life, {}).resource_state == "missed"  # engine pulls


def test_endpoint_that_fails_the_handshake_gets_no_subscription(h: MicrosoftHarness) -> None:
    rx = FakeServer("mute")

    @rx.app.post("/hooks/graph")
    def mute() -> Response:
        return Response("nope", status=200, content_type="text/plain")

    rx.start()
    try:
        with pytest.raises(RejectedError, match="validation"):
            h.connector().watch(rx.url + "/hooks/graph", "tok")
        assert h.server.subscriptions == {}
    finally:
        rx.stop()


def test_renew_and_stop_subscription(h: MicrosoftHarness) -> None:
    rx = Receiver(h.connector(channel={"token": "t"})).start()
    try:
        c = h.connector(subscriptionMinutes=60)
        channel = c.watch(rx.url + "/hooks/graph", "t")
        first = h.server.subscriptions[channel["id"]]["expirationDateTime"]
        renewed = h.connector().renew_watch(channel)  # default: the maximum, 4230 minutes
        assert renewed["expiresAt"] > first
        assert h.server.subscriptions[channel["id"]]["expirationDateTime"] == renewed["expiresAt"]
        h.connector().stop_watch(channel)
        assert channel["id"] not in h.server.subscriptions
        h.connector().stop_watch(channel)  # already gone: fine
        with pytest.raises(NotFoundError):
            h.connector().renew_watch(channel)  # the engine then subscribes anew
    finally:
        rx.stop()


def test_subscription_lifetime_is_capped_at_graphs_maximum(h: MicrosoftHarness) -> None:
    rx = Receiver(h.connector(channel={"token": "t"})).start()
    try:
        channel = h.connector(subscriptionMinutes=100000).watch(rx.url + "/hooks/graph", "t")
        assert channel["id"] in h.server.subscriptions
    finally:
        rx.stop()


def test_delta_pages_are_followed_to_the_delta_link(h: MicrosoftHarness) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    ids = {h.user_create(f"Event {i}", start, start + timedelta(hours=1)) for i in range(25)}
    before = h.server.count("GET", "calendarView/delta")
    result = h.connector(pageSize=10).pull({})
    assert result.full and {c.remote_id for c in result.changes} == ids
    assert h.server.count("GET", "calendarView/delta") - before == 3
    assert "$deltatoken=" in result.cursor["deltaLink"]


def test_events_outside_the_window_are_not_listed_and_leaving_it_is_a_removal(
    h: MicrosoftHarness,
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    far = soon + timedelta(days=800)
    inside = h.user_create("Inside", soon, soon + timedelta(hours=1))
    outside = h.user_create("Far away", far, far + timedelta(hours=1))
    first = h.connector().pull({})
    assert inside in {c.remote_id for c in first.changes}
    assert outside not in {c.remote_id for c in first.changes}
    h.user_move(inside, far, far + timedelta(hours=1))
    second = h.connector().pull(first.cursor)
    assert [(c.remote_id, c.deleted) for c in second.changes] == [(inside, True)]


def test_transaction_id_reused_after_remote_deletion_still_creates(h: MicrosoftHarness) -> None:
    ev = outbound()
    res = h.connector().push(ev, None)
    h.user_delete(res.remote_id)
    # The link was lost too (e.g. restored backup): a plain create with the same transactionId.
    again = h.connector().push(replace(ev, version=2), None)
    assert again.remote_id != res.remote_id
    assert len(h.ours(ev.entity_id)) == 1


def test_lost_create_answer_then_changed_content_updates_the_same_event(
    h: MicrosoftHarness,
) -> None:
    ev = outbound()
    h.fail_next("timeout", method="POST")
    with pytest.raises(Exception):  # noqa: B017 - TransientError; the event exists remotely
        h.connector().push(ev, None)
    # Before the retry the reservation was moved: same transactionId, different content.
    moved = replace(
        ev, version=2, start=ev.start + timedelta(hours=2), end=ev.end + timedelta(hours=2)
    )
    res = h.connector().push(moved, None)
    remote = h.ours(ev.entity_id)
    assert len(remote) == 1 and remote[0]["id"] == res.remote_id
    assert remote[0]["start"] == moved.start.strftime("%Y-%m-%dT%H:%M")


def test_user_scoped_calendar_paths(h: MicrosoftHarness) -> None:
    c = h.connector(userId="ada@example.com")
    res = c.push(outbound(), None)
    assert any("/v1.0/users/ada@example.com/calendars/work/events" in p for _m, p in h.server.calls)
    c.delete(RemoteRef(res.remote_id))
    assert any(p.startswith("/v1.0/users/ada@example.com/events/") for _m, p in h.server.calls)


def test_free_and_cancelled_remote_events(h: MicrosoftHarness) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    free = h.server.user_create("work", "Lunch?", start, start + timedelta(hours=1), showAs="free")
    gone = h.server.user_create(
        "work", "Meeting", start, start + timedelta(hours=1), isCancelled=True
    )
    got: dict[str, Any] = {c.remote_id: c for c in h.connector().pull({}).changes}
    assert got[free].busy is False
    assert gone not in got  # a cancelled meeting blocks nobody: not listed as live
    h.server.user_update(free, isCancelled=True)
    later = {c.remote_id: c for c in h.connector().pull(h.connector().pull({}).cursor).changes}
    assert later == {}
