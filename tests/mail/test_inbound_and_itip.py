"""IMAP polling, the endpoint in `calhub serve`, and the iTIP codec's strictness and recurrence."""

from __future__ import annotations

import os
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from hub.config import ImapSettings
from hub.domain.recurrence import expand
from hub.domain.timerange import TimeRange
from hub.ical.itip import NotAReply, parse_reply
from hub.mail.imap import ImapPoller
from hub.services import Services
from hub.store.models import Reservation
from hub.sync.engine import SyncEngine
from hub.sync.runtime import build_jobs
from tests.mail.clients import apple_reply, thunderbird_reply
from tests.mail.conftest import PARIS, Sink, book, drain, paris_at, strict
from tests.mail.imap_server import ImapServer, Mailbox
from tests.support import free_port, isolated_database_url

ANN = "ann@example.com"


def test_imap_polling_applies_replies_and_marks_them_seen(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = datetime.now(PARIS).date() + timedelta(days=6)
    made = book(mail_services, cafe, paris_at(day, 10))
    drain(mail_services)
    invite = sink.to(ANN)[0].calendar()
    box = Mailbox("calhub", "imap-secret")
    server = ImapServer(box)
    try:
        mail_services.settings.imap = ImapSettings(
            host="127.0.0.1", port=server.port, user="calhub", password="imap-secret", tls="none"
        )
        assert [
            j.name
            for j in build_jobs(mail_services, SyncEngine(mail_services))
            if j.name == "imap-replies"
        ]
        junk = EmailMessage()
        junk["From"] = "someone@example.net"
        junk.set_content("Thanks, see you!")
        box.add(bytes(junk))
        box.add(bytes(apple_reply(invite, ANN, "DECLINED")))
        poller = ImapPoller(mail_services)
        assert poller.poll() == 2
        assert box.seen == {1, 2}
        assert poller.poll() == 0
        with mail_services.db.reader() as s:
            r = s.get(Reservation, made["id"])
            assert r.status == "CN" and r.cancelled_by == "customer"
    finally:
        server.stop()


def test_serve_runs_the_inbound_endpoint_when_a_port_is_set(tmp_path: Path) -> None:
    from tests.test_cli_and_serve import Served

    with isolated_database_url(tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
        env["CALHUB_HOME"] = str(tmp_path / "home")
        if url.startswith("postgresql"):
            env["CALHUB_DATABASE_URL"] = url
            env["CALHUB_SECRET_KEY"] = "test-secret"
        port = free_port()
        env["CALHUB_LMTP_PORT"] = str(port)
        served = Served(env, "--no-worker")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                code, _ = smtp.ehlo()
                assert code == 250
                msg = EmailMessage()
                msg["From"] = ANN
                msg["To"] = "hello@pawsome.test"
                msg.set_content("no calendar here")
                assert smtp.send_message(msg) == {}
        finally:
            code, out = served.terminate()
        assert code == 0 and "stopped cleanly" in out
        with pytest.raises(OSError):
            smtplib.SMTP("127.0.0.1", port, timeout=2)


def _invite_fixture() -> icalendar.Calendar:
    from hub.ical.itip import Party, reservation_invite
    from hub.ical.model import ReservationData

    now = datetime(2027, 3, 20, 9, tzinfo=UTC)
    data = ReservationData(
        id="r1",
        uid="r1@calhub",
        status="BK",
        start=datetime(2027, 3, 29, 8, tzinfo=UTC),
        end=datetime(2027, 3, 29, 9, tzinfo=UTC),
        timezone="Europe/Paris",
        sequence=3,
        version=4,
        created=now,
        updated=now,
        party_size=2,
        location_name="Pawsome",
        service_name="Cats & coffee",
        notes="é ü — unicode survives",
    )
    cal = reservation_invite(
        data,
        "REQUEST",
        organizer=Party("hello@pawsome.test", "Pawsome"),
        attendee=Party(ANN, "Ann Lee"),
        alarms=(1440, 120),
    )
    return strict(cal.to_ical().decode())


def test_replies_from_thunderbird_and_apple_parse_to_the_same_answer() -> None:
    invite = _invite_fixture()
    for build in (thunderbird_reply, apple_reply):
        msg = build(invite, ANN, "DECLINED")
        parts = [p for p in msg.walk() if p.get_content_type().endswith(("calendar", "ics"))]
        texts = {p.get_payload(decode=True).decode() for p in parts}
        for text in texts:
            (reply,) = parse_reply(strict(text).to_ical())
            assert (reply.uid, reply.attendee, reply.partstat, reply.sequence) == (
                "r1@calhub",
                ANN,
                "DECLINED",
                3,
            )


def test_parse_reply_refuses_what_is_not_a_reply() -> None:
    invite = _invite_fixture()
    with pytest.raises(NotAReply, match="METHOD is REQUEST"):
        parse_reply(invite.to_ical())
    with pytest.raises(NotAReply, match="does not parse|no ACCEPTED"):
        parse_reply(b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n")
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        "UID:u1\r\nDTSTAMP:20270101T000000Z\r\n"
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:MAILTO:Ann@Example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(NotAReply, match="no ACCEPTED"):
        parse_reply(text)
    (reply,) = parse_reply(text.replace("NEEDS-ACTION", "ACCEPTED"))
    assert reply.attendee == ANN and reply.sequence is None  # MAILTO: upper case, mixed case


def test_recurring_shift_invite_expands_to_the_hub_occurrences(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    start = datetime.now(PARIS).date() + timedelta(days=1)
    while start.weekday() != 1:
        start += timedelta(days=1)
    shift = mail_services.booking.create_shift(
        {
            "resourceId": cafe["staff"]["id"],
            "start": paris_at(start, 18),
            "end": paris_at(start, 23),
            "rrule": "FREQ=WEEKLY;BYDAY=TU,FR;COUNT=60",
        }
    )
    drain(mail_services)
    (cal,) = [
        c
        for c in (m.calendar() for m in sink.to("mia@pawsome.test"))
        if shift["uid"] in {str(e["UID"]) for e in c.walk("VEVENT")}
    ]
    window = TimeRange(datetime.now(UTC), datetime(2028, 1, 1, tzinfo=UTC))
    theirs = sorted(
        (e.decoded("DTSTART").astimezone(UTC), e.decoded("DTEND").astimezone(UTC))
        for e in recurring_ical_events.of(cal).between(window.start, window.end)
    )
    ours = [
        (r.start, r.end)
        for r in expand(
            datetime.fromisoformat(shift["start"].replace("Z", "+00:00")),
            datetime.fromisoformat(shift["end"].replace("Z", "+00:00")),
            shift["rrule"],
            ZoneInfo("Europe/Paris"),
            window,
            [],
        )
    ]
    assert len(ours) == 60 and theirs == ours
    assert {s.astimezone(PARIS).hour for s, _ in ours} == {18}


def test_the_endpoint_also_speaks_lmtp(mail_services: Services) -> None:
    from hub.mail.inbound import InboundServer

    mail_services.settings.inbound_protocol = "lmtp"
    server = InboundServer(mail_services, "127.0.0.1", free_port())
    server.start()
    try:
        with smtplib.LMTP("127.0.0.1", server.port) as lmtp:
            msg = EmailMessage()
            msg["From"] = ANN
            msg["To"] = "hello@pawsome.test"
            msg.set_content("no calendar here")
            assert lmtp.send_message(msg) == {}
    finally:
        server.stop()
