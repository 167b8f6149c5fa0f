"""Acceptance 2: REPLYs (Thunderbird, Apple) and signed links change bookings; forgeries do not."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import requests
from sqlalchemy import select

from hub.mail.inbound import InboundServer
from hub.services import Services
from hub.store.models import ChangeLog, Outbox, Reservation, Webhook
from tests.mail.clients import apple_reply, send, thunderbird_reply
from tests.mail.conftest import PARIS, Sink, book, drain, make_cafe, paris_at
from tests.support import LiveServer, free_port

ANN = "ann@example.com"


@pytest.fixture
def gateway(mail_services: Services) -> Iterator[int]:
    """calhub's inbound SMTP endpoint on a free port; yields the port."""
    server = InboundServer(mail_services, "127.0.0.1", free_port())
    server.start()
    yield server.port
    server.stop()


def _subscribe(services: Services) -> None:
    # The booking system's webhook subscription (its API is another helper's); one row suffices
    # for the fan-out to owe an invite.replied delivery.
    now = services.booking.clock()
    with services.db.write_session() as s, s.begin():
        s.add(
            Webhook(
                id="hook1",
                url="http://127.0.0.1:9/hook",
                events=["invite.replied"],
                secret_encrypted=services.secrets.encrypt_json("s"),
                active=True,
                created_at=now,
                updated_at=now,
            )
        )


def _invited(services: Services, cafe: dict[str, Any], sink: Sink, hour: int = 10) -> Any:
    day = datetime.now(PARIS).date() + timedelta(days=7)
    made = book(services, cafe, paris_at(day, hour))
    drain(services)
    invite = [m for m in sink.to(ANN) if "REQUEST" in m.calendar().to_ical().decode()][-1]
    return made, invite


def _row(services: Services, rid: str) -> Reservation:
    with services.db.reader() as s:
        return s.get(Reservation, rid)


def _replied(services: Services, rid: str) -> tuple[list[ChangeLog], list[Outbox]]:
    with services.db.reader() as s:
        log = list(
            s.scalars(
                select(ChangeLog).where(
                    ChangeLog.entity_id == rid, ChangeLog.event == "invite.replied"
                )
            )
        )
        hooks = list(
            s.scalars(
                select(Outbox).where(Outbox.target == "webhook", Outbox.event == "invite.replied")
            )
        )
        return log, hooks


def test_thunderbird_decline_cancels_frees_the_slot_and_fires_the_webhook(
    mail_services: Services, cafe: dict[str, Any], sink: Sink, gateway: int
) -> None:
    _subscribe(mail_services)
    made, invite = _invited(mail_services, cafe, sink)
    send(gateway, thunderbird_reply(invite.calendar(), ANN, "DECLINED"))

    r = _row(mail_services, made["id"])
    assert r.status == "CN" and r.cancelled_by == "customer"
    assert r.attendee_partstat == "DECLINED"
    log, hooks = _replied(mail_services, made["id"])
    assert len(log) == 1 and log[0].data["partstat"] == "DECLINED"
    assert log[0].data["outcome"] == "cancelled"
    assert len(hooks) == 1 and hooks[0].payload["data"]["appointment"]["id"] == made["id"]
    # The slot is free again: the same table at the same time books.
    again = dict(made)
    book(mail_services, cafe, again["start_time"], customer={"firstName": "Bob"})
    # The customer's calendar hears of the cancellation too.
    drain(mail_services)
    assert "METHOD:CANCEL" in sink.to(ANN)[-1].calendar().to_ical().decode()


def test_apple_decline_flags_for_staff_when_the_policy_says_flag(
    mail_services: Services, sink: Sink, gateway: int
) -> None:
    _subscribe(mail_services)
    cafe = make_cafe(mail_services, decline_policy="flag")
    made, invite = _invited(mail_services, cafe, sink)
    msg = apple_reply(invite.calendar(), ANN, "DECLINED")
    assert msg.get_payload()[1].get_content_disposition() == "attachment"
    send(gateway, msg)

    r = _row(mail_services, made["id"])
    assert r.status == "BK", "flag policy keeps the booking"
    assert r.flagged and "declined" in r.flagged
    assert r.attendee_partstat == "DECLINED" and not r.confirmed
    log, hooks = _replied(mail_services, made["id"])
    assert [e.data["outcome"] for e in log] == ["flagged"]
    assert len(hooks) == 1


def test_accepted_and_tentative_replies(
    mail_services: Services, cafe: dict[str, Any], sink: Sink, gateway: int
) -> None:
    made, invite = _invited(mail_services, cafe, sink)
    send(gateway, apple_reply(invite.calendar(), ANN, "TENTATIVE"))
    r = _row(mail_services, made["id"])
    assert r.attendee_partstat == "TENTATIVE" and not r.confirmed
    send(gateway, thunderbird_reply(invite.calendar(), ANN, "ACCEPTED"))
    r = _row(mail_services, made["id"])
    assert r.attendee_partstat == "ACCEPTED" and r.confirmed and r.status == "BK"


def test_forged_replies_change_nothing_and_are_logged(
    mail_services: Services,
    cafe: dict[str, Any],
    sink: Sink,
    gateway: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    made, invite = _invited(mail_services, cafe, sink)
    before = _row(mail_services, made["id"])
    cal = invite.calendar()
    caplog.set_level(logging.WARNING, logger="hub.mail.inbound")

    # Someone else answers for the booking (their own address in From and ATTENDEE).
    send(gateway, thunderbird_reply(cal, "mallory@evil.test", "DECLINED"))
    # Ann's address in ATTENDEE, but the mail comes from someone else.
    send(gateway, thunderbird_reply(cal, ANN, "DECLINED", sender="mallory@evil.test"))
    # A reply for a UID calhub never issued.
    other = icalendar.Calendar.from_ical(cal.to_ical())
    next(iter(other.walk("VEVENT")))["UID"] = icalendar.vText("not-ours@example.com")
    send(gateway, thunderbird_reply(other, ANN, "DECLINED"))

    after = _row(mail_services, made["id"])
    assert (after.status, after.version, after.attendee_partstat, after.flagged) == (
        before.status,
        before.version,
        None,
        None,
    )
    assert _replied(mail_services, made["id"])[0] == []
    text = caplog.text
    assert "mallory@evil.test is not the customer" in text
    assert "sender mallory@evil.test is not the attendee" in text
    assert "no reservation has UID not-ours@example.com" in text


def _links(invite: Any) -> dict[str, str]:
    text = invite.message.get_payload()[0].get_payload()[0].get_content()
    found = re.findall(r"(Accept|Decline): (\S+)", text)
    return dict(found)


@pytest.fixture
def web(mail_services: Services) -> Iterator[LiveServer]:
    """The hub over HTTP (its base URL goes into the links of invites sent afterwards)."""
    server = LiveServer(mail_services)
    yield server
    server.stop()


def test_signed_links_ask_first_then_apply_and_tampered_ones_do_nothing(
    mail_services: Services, cafe: dict[str, Any], sink: Sink, web: LiveServer
) -> None:
    made, invite = _invited(mail_services, cafe, sink)
    links = _links(invite)
    assert links["Accept"].startswith(web.url + f"/invites/{made['id']}/accept?")

    # GET (what a link scanner does) shows a page and changes nothing.
    page = requests.get(links["Accept"], timeout=10)
    assert page.status_code == 200 and "<form" in page.text
    assert not _row(mail_services, made["id"]).confirmed

    # Tampered: the decline link's signature on the accept action, or a changed expiry.
    q = parse_qs(urlsplit(links["Decline"]).query)
    forged = requests.post(
        web.url + f"/invites/{made['id']}/accept",
        data={"sig": q["sig"][0], "exp": q["exp"][0]},
        timeout=10,
    )
    assert forged.status_code == 403 and "bad signature" in forged.text
    qa = parse_qs(urlsplit(links["Accept"]).query)
    longer = requests.post(
        web.url + f"/invites/{made['id']}/accept",
        data={"sig": qa["sig"][0], "exp": str(int(qa["exp"][0]) + 86400)},
        timeout=10,
    )
    assert longer.status_code == 403
    assert not _row(mail_services, made["id"]).confirmed

    # The real button press applies it.
    done = requests.post(
        web.url + f"/invites/{made['id']}/accept",
        data={"sig": qa["sig"][0], "exp": qa["exp"][0]},
        timeout=10,
    )
    assert done.status_code == 200 and "confirmed" in done.text
    r = _row(mail_services, made["id"])
    assert r.confirmed and r.attendee_partstat == "ACCEPTED"

    # After a reschedule, the old decline link belongs to an outdated invite.
    day = datetime.now(PARIS).date() + timedelta(days=7)
    mail_services.booking.reschedule(made["id"], {"start_time": paris_at(day, 15)})
    old = requests.post(
        web.url + f"/invites/{made['id']}/decline",
        data={"sig": q["sig"][0], "exp": q["exp"][0]},
        timeout=10,
    )
    assert old.status_code == 403 and "older version" in old.text
    assert _row(mail_services, made["id"]).status == "BK"
