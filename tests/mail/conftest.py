"""Mail fixtures: a real SMTP server (aiosmtpd) that keeps what it receives, and a Paris café."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiosmtpd.controller import Controller

from hub.config import SmtpSettings
from hub.services import Services
from hub.sync.runtime import build_worker
from tests.support import build_test_services, free_port

PARIS = ZoneInfo("Europe/Paris")


def strict(text: str | bytes) -> icalendar.Calendar:
    """Parse and fail on anything icalendar could not read (its lenient mode only records it)."""
    cal = icalendar.Calendar.from_ical(text)
    for comp in cal.walk():
        assert not comp.errors, (comp.name, comp.errors)
    return cal


@dataclass
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    def calendar(self) -> icalendar.Calendar:
        """The text/calendar part, parsed strictly."""
        for part in self.message.walk():
            if part.get_content_type() == "text/calendar":
                return strict(part.get_content())
        raise AssertionError("no text/calendar part")


class Sink:
    """Records every message; ``refuse`` (an SMTP reply such as "550 …") refuses them instead."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse: str | None = None
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse
        with self._lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        """Messages addressed to ``address``."""
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def wait_for(self, n: int, timeout: float = 30.0) -> list[Received]:
        """Block until at least ``n`` messages arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= n:
                return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {n} messages, got {len(self.messages)}")


def start_smtp(sink: Sink, port: int | None = None) -> Controller:
    """A real SMTP server on 127.0.0.1."""
    ctl = Controller(sink, hostname="127.0.0.1", port=port or free_port(), ready_timeout=10)
    ctl.start()
    return ctl


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A running SMTP server collecting messages; its port is ``sink.port``."""
    s = Sink()
    ctl = start_smtp(s)
    s.port = ctl.port  # type: ignore[attr-defined]
    yield s
    ctl.stop()


def mail_settings(port: int) -> SmtpSettings:
    """SMTP settings pointing at the test server."""
    return SmtpSettings(host="127.0.0.1", port=port, mail_from="calhub@pawsome.test", timeout=10)


@pytest.fixture
def mail_services(tmp_path: Path, db_url: str, sink: Sink) -> Iterator[Services]:
    """Hub services that send mail to ``sink``."""
    svc = build_test_services(
        tmp_path, db_url, smtp=mail_settings(sink.port), reminder_offsets_minutes=[1440, 120]
    )
    yield svc
    svc.close()


def drain(services: Services, rounds: int = 20) -> int:
    """Run the outbox worker until nothing is due; returns deliveries attempted."""
    worker = build_worker(services)
    total = 0
    try:
        for _ in range(rounds):
            n = worker.run_once()
            total += n
            if not n:
                break
    finally:
        worker.handlers["mail"].mailer.close()  # type: ignore[attr-defined]
    return total


def next_dst_change(after: date) -> date:
    """The day (after ``after``) on which Paris changes its UTC offset."""
    day = after
    noon = lambda d: datetime(d.year, d.month, d.day, 12, tzinfo=PARIS).utcoffset()  # noqa: E731
    while noon(day + timedelta(days=1)) == noon(day):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def paris_at(day: date, hour: int, minute: int = 0) -> str:
    """Local Paris wall-clock time as an ISO UTC instant."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_staff(services: Services, location_id: str, name: str, address: str | None) -> dict:
    """A staff member who works every day 07:00–22:00 Paris time.

    The address is set after the shift exists, so this set-up mails nobody and each test sees
    only the messages it causes.
    """
    b = services.booking
    staff = b.create_resource({"name": name, "locationId": location_id, "kind": "staff"})
    today = datetime.now(PARIS).date()
    b.create_shift(
        {
            "resourceId": staff["id"],
            "start": paris_at(today, 7),
            "end": paris_at(today, 22),
            "rrule": "FREQ=DAILY",
        }
    )
    if address:
        staff = b.update_resource(staff["id"], {"email": address})
    return staff


def make_cafe(services: Services, decline_policy: str = "cancel") -> dict[str, Any]:
    """An always-open Paris café with a table, a staff member with an address, and a service."""
    b = services.booking
    loc = b.create_location(
        {
            "name": "Pawsome",
            "timezone": "Europe/Paris",
            "email": "hello@pawsome.test",
            "address": "12 Rue des Chats, Paris",
            "declinePolicy": decline_policy,
        }
    )
    table = b.create_resource(
        {"name": "Table 1", "locationId": loc["id"], "kind": "table", "capacity": 4}
    )
    staff = add_staff(services, loc["id"], "Mia", "mia@pawsome.test")
    svc = b.create_service({"name": "Cats & coffee", "locationId": loc["id"], "duration": 60})
    return {"location": loc, "table": table, "staff": staff, "service": svc}


ANN = {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "+33 6 11"}


def book(services: Services, cafe: dict[str, Any], start: str, **extra: Any) -> dict[str, Any]:
    """Book the table (and Mia) for Ann."""
    data = {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [cafe["table"]["id"], cafe["staff"]["id"]],
        "start_time": start,
        "partySize": 2,
        "notes": "window seat please",
        "customer": dict(ANN),
    }
    data.update(extra)
    return services.booking.create(data)


@pytest.fixture
def cafe(mail_services: Services) -> dict[str, Any]:
    """The Paris café on the mail-enabled hub."""
    return make_cafe(mail_services)
