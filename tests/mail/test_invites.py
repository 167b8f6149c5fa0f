"""Acceptance 1: invites, updates and cancellations reach a real SMTP server exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
from sqlalchemy import select

from hub.services import Services
from hub.store.models import Outbox
from tests.mail.conftest import (
    PARIS,
    Sink,
    add_staff,
    book,
    drain,
    next_dst_change,
    paris_at,
    start_smtp,
)
from tests.support import free_port

ANN_MAIL = "ann@example.com"
MIA_MAIL = "mia@pawsome.test"


def _event(cal: icalendar.Calendar) -> icalendar.Event:
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return events[0]


def test_booking_after_a_dst_change_sends_one_request_with_local_times(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = next_dst_change(datetime.now(PARIS).date() + timedelta(days=2)) + timedelta(days=1)
    before = day - timedelta(days=2)
    assert (
        datetime(day.year, day.month, day.day, 12, tzinfo=PARIS).utcoffset()
        != datetime(before.year, before.month, before.day, 12, tzinfo=PARIS).utcoffset()
    )
    made = book(mail_services, cafe, paris_at(day, 10))
    drain(mail_services)
    drain(mail_services)  # a second worker pass sends nothing more

    to_ann = sink.to(ANN_MAIL)
    assert len(to_ann) == 1
    msg = to_ann[0].message
    assert msg.get_content_type() == "multipart/mixed"
    alt, attachment = msg.get_payload()
    assert alt.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alt.get_payload()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    cal_part = alt.get_payload()[2]
    assert cal_part.get_param("method") == "REQUEST"
    assert cal_part.get_content_charset().lower() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content().decode() == cal_part.get_content()
    assert msg["Message-ID"].startswith("<calhub.outbox.")

    cal = to_ann[0].calendar()
    assert str(cal["METHOD"]) == "REQUEST"
    ev = _event(cal)
    assert str(ev["UID"]) == made["uid"]
    start = ev.decoded("DTSTART")
    assert ev["DTSTART"].params["TZID"] == "Europe/Paris"
    assert (start.hour, start.minute, start.date()) == (10, 0, day)
    assert start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == made["start_time"]
    assert ev.decoded("DTEND").hour == 11
    tz = [c for c in cal.walk("VTIMEZONE") if str(c["TZID"]) == "Europe/Paris"]
    assert tz, "the invite carries the location's VTIMEZONE"
    assert str(ev["ORGANIZER"]).lower() == "mailto:hello@pawsome.test"
    att = ev["ATTENDEE"]
    assert str(att).lower() == f"mailto:{ANN_MAIL}"
    assert att.params["PARTSTAT"] == "NEEDS-ACTION" and att.params["RSVP"] == "TRUE"
    triggers = sorted(a.decoded("TRIGGER") for a in ev.walk("VALARM"))
    assert triggers == [timedelta(minutes=-1440), timedelta(minutes=-120)]
    assert "12 Rue des Chats" in str(ev["LOCATION"])
    desc = str(ev["DESCRIPTION"])
    assert "Cats & coffee" in desc and "Party size: 2" in desc and "window seat" in desc
    assert int(ev["SEQUENCE"]) == 0
    text = alt.get_payload()[0].get_content()
    assert "10:00–11:00 (Europe/Paris)" in text
    assert "/invites/" in text and "accept" in text

    # Mia is assigned: she gets the staff view (the customer's name, not their contact details).
    to_mia = sink.to(MIA_MAIL)
    assert len(to_mia) == 1
    staff_ics = to_mia[0].calendar().to_ical().decode()
    assert "Ann Lee" in staff_ics and ANN_MAIL not in staff_ics.replace(f"mailto:{ANN_MAIL}", "")


def test_reschedule_sends_higher_sequence_and_cancel_sends_cancel(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = datetime.now(PARIS).date() + timedelta(days=5)
    made = book(mail_services, cafe, paris_at(day, 15))
    drain(mail_services)
    mail_services.booking.reschedule(made["id"], {"start_time": paris_at(day, 17)})
    drain(mail_services)
    mail_services.booking.cancel(made["id"], {"by": "staff", "reason": "kitchen flood"})
    drain(mail_services)

    cals = [m.calendar() for m in sink.to(ANN_MAIL)]
    assert [str(c["METHOD"]) for c in cals] == ["REQUEST", "REQUEST", "CANCEL"]
    events = [_event(c) for c in cals]
    assert {str(e["UID"]) for e in events} == {made["uid"]}
    seqs = [int(e["SEQUENCE"]) for e in events]
    assert seqs[0] < seqs[1] < seqs[2]
    assert events[1].decoded("DTSTART").hour == 17
    assert str(events[2]["STATUS"]) == "CANCELLED"
    assert sink.to(ANN_MAIL)[1].message["Subject"].startswith("Updated:")
    assert sink.to(ANN_MAIL)[2].message["Subject"].startswith("Cancelled:")
    # Mia's copy follows too.
    assert [str(m.calendar()["METHOD"]) for m in sink.to(MIA_MAIL)] == [
        "REQUEST",
        "REQUEST",
        "CANCEL",
    ]


def test_a_queued_request_renders_current_state_and_superseded_ones_are_not_sent(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = datetime.now(PARIS).date() + timedelta(days=6)
    made = book(mail_services, cafe, paris_at(day, 9))
    mail_services.booking.reschedule(made["id"], {"start_time": paris_at(day, 13)})
    drain(mail_services)  # both REQUESTs were queued before the worker ran
    cals = [m.calendar() for m in sink.to(ANN_MAIL)]
    assert len(cals) == 1, "the first REQUEST was superseded by the second"
    ev = _event(cals[0])
    assert ev.decoded("DTSTART").hour == 13 and int(ev["SEQUENCE"]) == 1


def test_staff_unassigned_gets_cancel_and_new_staff_gets_request(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    leo = add_staff(mail_services, cafe["location"]["id"], "Leo", "leo@pawsome.test")
    day = datetime.now(PARIS).date() + timedelta(days=4)
    made = book(mail_services, cafe, paris_at(day, 11))
    drain(mail_services)
    mail_services.booking.reschedule(made["id"], {"resourceIds": [cafe["table"]["id"], leo["id"]]})
    drain(mail_services)
    assert [str(m.calendar()["METHOD"]) for m in sink.to(MIA_MAIL)] == ["REQUEST", "CANCEL"]
    assert [str(m.calendar()["METHOD"]) for m in sink.to("leo@pawsome.test")] == ["REQUEST"]
    assert len(sink.to(ANN_MAIL)) == 1  # nothing changed for the customer


def test_shift_changes_and_reassignment_reach_old_and_new_staff(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    b = mail_services.booking
    leo = b.create_resource({"name": "Leo", "locationId": cafe["location"]["id"], "kind": "staff"})
    b.add_user("leo", "staff", "leo-password-1", resource_id=leo["id"], email="leo@pawsome.test")
    day = datetime.now(PARIS).date() + timedelta(days=3)
    shift = b.create_shift(
        {
            "resourceId": cafe["staff"]["id"],
            "start": paris_at(day, 9),
            "end": paris_at(day, 17),
            "rrule": "FREQ=WEEKLY;BYDAY=MO,TH",
        }
    )
    drain(mail_services)
    b.update_shift(shift["id"], {"resourceId": leo["id"]})
    drain(mail_services)
    b.delete_shift(shift["id"])
    drain(mail_services)
    mia = [m.calendar() for m in sink.to(MIA_MAIL)]
    leo_cals = [m.calendar() for m in sink.to("leo@pawsome.test")]
    assert [str(c["METHOD"]) for c in mia] == ["REQUEST", "CANCEL"]
    assert [str(c["METHOD"]) for c in leo_cals] == ["REQUEST", "CANCEL"]
    first = _event(mia[0])
    assert "FREQ=WEEKLY" in first["RRULE"].to_ical().decode()
    assert _event(leo_cals[1])["UID"] == first["UID"]
    assert int(_event(leo_cals[1])["SEQUENCE"]) > int(_event(leo_cals[0])["SEQUENCE"])


def test_failed_smtp_is_retried_with_backoff_and_shows_in_status(
    tmp_path: Path, db_url: str
) -> None:
    from hub.mail.status import mail_status
    from tests.mail.conftest import mail_settings, make_cafe
    from tests.support import build_test_services

    port = free_port()  # nobody listens yet: the SMTP server is "down"
    services = build_test_services(tmp_path, db_url, smtp=mail_settings(port))
    try:
        cafe = make_cafe(services)
        day = datetime.now(PARIS).date() + timedelta(days=3)
        book(services, cafe, paris_at(day, 12))
        drain(services)
        status = mail_status(services)
        assert status["status"] == "retrying" and status["retrying"] >= 1
        assert "SMTP" in status["lastError"]
        with services.db.reader() as s:
            rows = list(s.scalars(select(Outbox).where(Outbox.target == "mail")))
            waiting = [r for r in rows if r.attempts == 1 and r.status == "pending"]
            # Backed off: the next attempt is scheduled at least a second after the failure.
            assert waiting and all(
                r.next_attempt_at >= r.created_at + timedelta(seconds=1) for r in waiting
            )

        sink = Sink()
        ctl = start_smtp(sink, port)  # the server comes back
        try:
            deadline = time.monotonic() + 15
            # Each row waits out its own jittered backoff (1–2 s after the first failure).
            while mail_status(services)["pending"] and time.monotonic() < deadline:
                drain(services)
                time.sleep(0.3)
            assert len(sink.to(ANN_MAIL)) == 1 and len(sink.to(MIA_MAIL)) == 1
            assert mail_status(services)["status"] == "ok"
        finally:
            ctl.stop()
    finally:
        services.close()


def _worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_killed_worker_still_sends_exactly_once_after_restart(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    settings = mail_services.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
    env.update(
        CALHUB_HOME=str(settings.home),
        CALHUB_SECRET_KEY=settings.secret_key,
        CALHUB_SMTP_HOST="127.0.0.1",
        CALHUB_SMTP_PORT=str(sink.port),  # type: ignore[attr-defined]
        CALHUB_MAIL_FROM=settings.smtp.mail_from,
        CALHUB_WORKER_POLL_SECONDS="0.1",
    )
    if settings.database_url:
        env["CALHUB_DATABASE_URL"] = settings.database_url
    day = datetime.now(PARIS).date() + timedelta(days=8)
    # The booking commits while no worker runs: the invite waits in the outbox.
    made = book(mail_services, cafe, paris_at(day, 10))
    time.sleep(0.5)
    assert sink.messages == []

    first = _worker(env)
    try:
        sink.wait_for(2)  # Ann's and Mia's invites
        time.sleep(0.5)
    finally:
        first.send_signal(signal.SIGKILL)  # no clean shutdown
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    second = _worker(env)
    try:
        time.sleep(3.0)  # many poll cycles
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    to_ann = sink.to(ANN_MAIL)
    assert len(to_ann) == 1, [m.message["Message-ID"] for m in to_ann]
    assert str(_event(to_ann[0].calendar())["UID"]) == made["uid"]
    assert len(sink.to(MIA_MAIL)) == 1
    with mail_services.db.reader() as s:
        pending = s.scalars(
            select(Outbox).where(Outbox.target == "mail", Outbox.status != "done")
        ).all()
        assert pending == []


def test_an_expired_hold_with_a_customer_gets_a_cancel(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    from sqlalchemy import update

    from hub.store.models import Reservation

    day = datetime.now(PARIS).date() + timedelta(days=3)
    hold = mail_services.booking.hold(
        {
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["table"]["id"]],
            "start_time": paris_at(day, 12),
            "customer": {"firstName": "Ann", "email": ANN_MAIL},
        }
    )
    drain(mail_services)
    assert sink.to(ANN_MAIL) == []  # a hold is not an invitation
    with mail_services.db.write_session() as s, s.begin():
        s.execute(
            update(Reservation)
            .where(Reservation.id == hold["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert mail_services.booking.expire_holds() == 1
    drain(mail_services)
    (mail,) = sink.to(ANN_MAIL)
    cal = mail.calendar()
    assert str(cal["METHOD"]) == "CANCEL" and str(_event(cal)["UID"]) == hold["uid"]


def test_a_permanent_smtp_refusal_is_dead_lettered_and_reported(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    from hub.mail.status import mail_status

    sink.refuse = "550 5.1.1 mailbox unavailable"
    day = datetime.now(PARIS).date() + timedelta(days=3)
    book(mail_services, cafe, paris_at(day, 12))
    drain(mail_services)
    status = mail_status(mail_services)
    assert status["status"] == "failing" and status["dead"] == 2  # Ann's and Mia's invites
    assert "550" in status["lastError"]
    with mail_services.db.reader() as s:
        dead = s.scalars(select(Outbox).where(Outbox.status == "dead")).all()
        assert {r.attempts for r in dead} == {1}  # no retry can help a 5xx


def test_a_walk_in_recorded_afterwards_mails_nobody(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    yesterday = datetime.now(PARIS).date() - timedelta(days=1)
    book(
        mail_services,
        cafe,
        paris_at(yesterday, 12),
        channel="walk-in",
        resourceIds=[cafe["table"]["id"]],
    )
    drain(mail_services)
    assert sink.messages == []
