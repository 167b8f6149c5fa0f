"""Reminders: planned in the database, sent once when due, never for a cancelled or moved booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hub.services import Services
from hub.store.models import Reminder
from tests.mail.conftest import PARIS, Sink, book, drain, paris_at

ANN = "ann@example.com"


def _reminders(services: Services, rid: str) -> list[Reminder]:
    with services.db.reader() as s:
        return list(
            s.scalars(
                select(Reminder)
                .where(Reminder.reservation_id == rid)
                .order_by(Reminder.planned_for_start, Reminder.offset_minutes)
            )
        )


def _make_due(services: Services, rid: str) -> None:
    # Stand-in for the clock reaching the due time: the planned rows become due now.
    with services.db.write_session() as s, s.begin():
        s.execute(
            update(Reminder)
            .where(Reminder.reservation_id == rid)
            .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def _reminder_mails(sink: Sink) -> list[Any]:
    return [m for m in sink.to(ANN) if m.message["Subject"].startswith("Reminder:")]


def test_reminders_are_planned_moved_sent_once(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = datetime.now(PARIS).date() + timedelta(days=4)
    made = book(mail_services, cafe, paris_at(day, 10))
    drain(mail_services)  # the change's plan-reminders row runs in the worker
    planned = _reminders(mail_services, made["id"])
    start = datetime.fromisoformat(made["start_time"].replace("Z", "+00:00"))
    assert [(r.offset_minutes, r.due_at) for r in planned] == [
        (120, start - timedelta(minutes=120)),
        (1440, start - timedelta(minutes=1440)),
    ]

    # Moving the booking cancels the old reminders and plans new ones for the new start.
    moved = mail_services.booking.reschedule(made["id"], {"start_time": paris_at(day, 14)})
    drain(mail_services)
    rows = _reminders(mail_services, made["id"])
    old = [r for r in rows if r.planned_for_start == start]
    new_start = datetime.fromisoformat(moved["start_time"].replace("Z", "+00:00"))
    new = [r for r in rows if r.planned_for_start == new_start]
    assert len(old) == 2 and all(r.cancelled_at is not None for r in old)
    assert len(new) == 2 and all(r.cancelled_at is None and r.sent_at is None for r in new)

    _make_due(mail_services, made["id"])  # the old ones too: they must still not go out
    assert mail_services.booking.dispatch_due_reminders() == 2
    assert mail_services.booking.dispatch_due_reminders() == 0  # never twice
    drain(mail_services)
    mails = _reminder_mails(sink)
    assert len(mails) == 2
    text = mails[0].message.get_body(("plain",)).get_content()
    assert "14:00–15:00 (Europe/Paris)" in text
    assert f"/invites/{made['id']}/decline?sig=" in text  # can't come? one click tells the café
    after = _reminders(mail_services, made["id"])
    assert all(r.sent_at is not None for r in after if r.planned_for_start == new_start)
    assert all(r.sent_at is None for r in after if r.planned_for_start == start)


def test_no_reminder_for_a_cancelled_booking(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = datetime.now(PARIS).date() + timedelta(days=4)
    made = book(mail_services, cafe, paris_at(day, 10))
    drain(mail_services)
    _make_due(mail_services, made["id"])
    # Cancelled after the reminders became due but before the worker picked them up.
    mail_services.booking.cancel(made["id"], {"by": "customer"})
    assert mail_services.booking.dispatch_due_reminders() == 0
    drain(mail_services)
    assert _reminder_mails(sink) == []
    assert all(r.cancelled_at is not None for r in _reminders(mail_services, made["id"]))


def test_a_reminder_queued_before_a_move_is_not_sent(
    mail_services: Services, cafe: dict[str, Any], sink: Sink
) -> None:
    day = datetime.now(PARIS).date() + timedelta(days=4)
    made = book(mail_services, cafe, paris_at(day, 10))
    drain(mail_services)
    _make_due(mail_services, made["id"])
    assert mail_services.booking.dispatch_due_reminders() == 2  # queued in the outbox …
    mail_services.booking.reschedule(made["id"], {"start_time": paris_at(day, 16)})
    drain(mail_services)  # … but the booking moved before the worker sent them
    assert _reminder_mails(sink) == []
