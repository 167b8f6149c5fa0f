"""One write path: a command writes its rows, change log and outbox in one transaction, or nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.domain.errors import Conflict
from hub.services import Services
from hub.store.models import ChangeLog, ChangeRef, Outbox, Reservation
from tests.conftest import next_weekday, z


def _counts(services: Services) -> dict[str, int]:
    with services.db.reader() as s:
        return {
            "reservations": s.scalar(select(func.count()).select_from(Reservation)),
            "change_log": s.scalar(select(func.count()).select_from(ChangeLog)),
            "outbox": s.scalar(select(func.count()).select_from(Outbox)),
        }


def _subscribe_webhook(services: Services) -> None:
    # One subscription, so that appointment changes owe an outbox delivery.
    services.booking.create_webhook(
        {"url": "http://127.0.0.1:9/hook", "events": ["appointment.created"], "secret": "s" * 24},
        box=services.secrets,
    )


def _booking(cafe: dict[str, Any], start: str) -> dict[str, Any]:
    return {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [cafe["table"]["id"]],
        "start_time": start,
        "partySize": 1,
        "customer": {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"},
    }


def test_success_writes_row_change_log_and_outbox_together(
    services: Services, cafe: dict[str, Any]
) -> None:
    _subscribe_webhook(services)
    before = _counts(services)
    start = z(next_weekday(2, 10))
    made = services.booking.create(_booking(cafe, start))
    after = _counts(services)
    assert after["reservations"] == before["reservations"] + 1
    assert after["change_log"] > before["change_log"]
    assert after["outbox"] == before["outbox"] + 1
    with services.db.reader() as s:
        entry = s.scalars(select(ChangeLog).where(ChangeLog.entity_id == made["id"])).one()
        assert entry.event == "appointment.created"
        out = s.scalars(select(Outbox).where(Outbox.seq == entry.seq)).one()
        assert out.target == "webhook" and out.object_key == f"reservation:{made['id']}"
        refs = set(s.scalars(select(ChangeRef.ref).where(ChangeRef.seq == entry.seq)))
        assert f"resource:{cafe['table']['id']}" in refs


def test_refused_command_leaves_nothing_behind(services: Services, cafe: dict[str, Any]) -> None:
    _subscribe_webhook(services)
    start = z(next_weekday(2, 10))
    services.booking.create(_booking(cafe, start))
    before = _counts(services)
    with pytest.raises(Conflict) as err:
        # Same capacity-1 table, overlapping time, and a new customer that would be created.
        data = _booking(cafe, z(next_weekday(2, 10) + timedelta(minutes=30)))
        data["customer"] = {"firstName": "Bob", "email": "bob@example.com"}
        services.booking.create(data)
    assert "fully booked" in str(err.value)
    assert _counts(services) == before
    with services.db.reader() as s:
        from hub.store.models import Customer

        assert (
            s.scalars(select(Customer).where(Customer.email == "bob@example.com")).first() is None
        )


def test_sequence_numbers_are_gapless_and_ordered(services: Services, cafe: dict[str, Any]) -> None:
    for hour in (9, 11, 13):
        services.booking.create(_booking(cafe, z(next_weekday(3, hour))))
    with services.db.reader() as s:
        seqs = list(s.scalars(select(ChangeLog.seq).order_by(ChangeLog.seq)))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
