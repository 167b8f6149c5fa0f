"""One uniform handle per provider: its simulator (or real server), a connector factory, and the
remote user's actions. The contract suite runs over these; the sync engine's end-to-end tests
can reuse them (``HARNESSES[name]()``, ``h.config``/``h.credentials`` for an integration).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.providers import REGISTRY
from hub.providers.base import Connector, OutboundEvent
from hub.providers.http import make_session
from tests.fakes.graph import GraphFake
from tests.fakes.proxy import FaultProxy
from tests.fakes.radicale_server import RadicaleServer
from tests.fakes.teamup import TeamupFake
from tests.fakes.zoho import ZohoFake

# Short read timeout so an injected "timeout" (server hangs after applying) costs little.
TEST_TIMEOUT = (2.0, 0.6)
HANG_SECONDS = 1.0


def outbound(entity_id: str | None = None, **kw: Any) -> OutboundEvent:
    """A reservation event two days ahead, with overridable fields."""
    entity_id = entity_id or uuid.uuid4().hex[:12]
    start = kw.pop("start", datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=2))
    end = kw.pop("end", start + timedelta(hours=1))
    fields: dict[str, Any] = {
        "entity": "reservation",
        "entity_id": entity_id,
        "uid": f"{entity_id}@calhub.test",
        "version": 1,
        "sequence": 0,
        "summary": "Table 4 — Ada (2 guests)",
        "start": start,
        "end": end,
        "timezone": "Europe/Paris",
        "description": "Booked via calhub",
        "location": "Café Miaou",
    }
    fields.update(kw)
    return OutboundEvent(**fields)


class Harness:
    """Base: subclasses wire one provider."""

    name: str
    oauth = False
    faults = True  # the remote side can inject 500/429/timeouts
    incremental_deletes = True  # deletions show up in an incremental pull
    create_method = "POST"  # the HTTP method that creates a remote event

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.credentials: dict[str, Any] = {}
        self.saved: list[dict[str, Any]] = []

    def connector(self, **config: Any) -> Connector:
        """A fresh connector over a fresh session (as the engine builds one per job)."""
        cls = REGISTRY[self.name]
        return cls(
            {**self.config, **config},
            self.credentials,
            make_session(TEST_TIMEOUT),
            self._save,
        )

    def api_body(self, scope: dict[str, str], name: str | None = None) -> dict[str, Any]:
        """The ``POST /api/v1/integrations`` body that connects this remote."""
        return {
            "provider": self.name,
            "name": name or f"{self.name} test",
            "scope": scope,
            "config": dict(self.config),
            "credentials": dict(self.credentials),
        }

    def _save(self, creds: dict[str, Any]) -> None:
        self.saved.append(creds)
        self.credentials = creds

    def stop(self) -> None:
        """Shut the remote down."""

    # remote state and the remote user's actions ----------------------------------------
    def ours(self, entity_id: str) -> list[dict[str, Any]]:
        """Remote events carrying calhub's id ``entity_id``, as (id, title, start) dicts."""
        raise NotImplementedError

    def user_create(self, title: str, start: datetime, end: datetime) -> str:
        raise NotImplementedError

    def user_move(self, remote_id: str, start: datetime, end: datetime) -> None:
        raise NotImplementedError

    def user_delete(self, remote_id: str) -> None:
        raise NotImplementedError

    def stale_cursor(self, cursor: dict[str, Any]) -> dict[str, Any]:
        """A cursor the remote no longer honours."""
        raise NotImplementedError

    def expire_tokens(self) -> None:
        raise NotImplementedError

    def revoke(self) -> None:
        raise NotImplementedError

    def fail_next(
        self, kind: str, count: int = 1, retry_after: float | None = None, method: str | None = None
    ) -> None:
        self.server.fail_next(kind, count, retry_after, method)  # type: ignore[attr-defined]

    def fail_randomly(
        self, rate: float, seed: int, *, hang_seconds: float = HANG_SECONDS, retry_after: float = 1
    ) -> None:
        """Fail ``rate`` of calls with 500/429/timeout. A "timeout" only bites a client whose
        read timeout is below ``hang_seconds`` (connectors here use TEST_TIMEOUT)."""
        self.server.fail_randomly(  # type: ignore[attr-defined]
            rate, retry_after=retry_after, hang_seconds=hang_seconds, seed=seed
        )


class MicrosoftHarness(Harness):
    name = "microsoft"
    oauth = True

    def __init__(self) -> None:
        super().__init__()
        self.server = GraphFake().start()
        self.server.add_calendar("work")
        self.config = {
            "calendarId": "work",
            "baseUrl": self.server.url + "/v1.0",
            "tokenUrl": self.server.url + "/common/oauth2/v2.0/token",
        }
        self.credentials = self.server.tokens.issue()

    def stop(self) -> None:
        self.server.stop()

    def ours(self, entity_id: str) -> list[dict[str, Any]]:
        out = []
        for e in self.server.events("work"):
            props = {p["id"]: p["value"] for p in e.get("singleValueExtendedProperties") or []}
            if any(v == f"reservation:{entity_id}" for v in props.values()):
                out.append(
                    {"id": e["id"], "title": e["subject"], "start": e["start"]["dateTime"][:16]}
                )
        return out

    def user_create(self, title: str, start: datetime, end: datetime) -> str:
        return self.server.user_create("work", title, start, end)

    def user_move(self, remote_id: str, start: datetime, end: datetime) -> None:
        self.server.user_update(remote_id, start=start, end=end)

    def user_delete(self, remote_id: str) -> None:
        self.server.user_delete(remote_id)

    def stale_cursor(self, cursor: dict[str, Any]) -> dict[str, Any]:
        self.server.forget_delta_tokens()
        return cursor

    def expire_tokens(self) -> None:
        self.server.tokens.expire_all()

    def revoke(self) -> None:
        self.server.tokens.revoke()


class ZohoHarness(Harness):
    name = "zoho"
    oauth = True
    incremental_deletes = False  # Zoho has no deletion feed: found by the periodic full listing

    def __init__(self) -> None:
        super().__init__()
        self.server = ZohoFake().start()
        self.cal = self.server.add_calendar()
        self.config = {
            "calendarUid": self.cal,
            "baseUrl": self.server.url + "/api/v1",
            "tokenUrl": self.server.url + "/oauth/v2/token",
        }
        self.credentials = self.server.tokens.issue()

    def stop(self) -> None:
        self.server.stop()

    def ours(self, entity_id: str) -> list[dict[str, Any]]:
        return [
            {"id": e["uid"], "title": e["title"], "start": e["dateandtime"]["start"]}
            for e in self.server.events(self.cal)
            if f"[calhub:reservation:{entity_id}]" in (e.get("description") or "")
        ]

    def user_create(self, title: str, start: datetime, end: datetime) -> str:
        return self.server.user_create(self.cal, title, start, end)

    def user_move(self, remote_id: str, start: datetime, end: datetime) -> None:
        self.server.user_update(self.cal, remote_id, start=start, end=end)

    def user_delete(self, remote_id: str) -> None:
        self.server.user_delete(self.cal, remote_id)

    def stale_cursor(self, cursor: dict[str, Any]) -> dict[str, Any]:
        return {**cursor, "lastmodified": "20200101T000000Z"}

    def expire_tokens(self) -> None:
        self.server.tokens.expire_all()

    def revoke(self) -> None:
        self.server.tokens.revoke()


class TeamupHarness(Harness):
    name = "teamup"

    def __init__(self) -> None:
        super().__init__()
        self.server = TeamupFake().start()
        self.sub = self.server.add_subcalendar("Ada (staff)")
        self.other_sub = self.server.add_subcalendar("Bob (staff)")
        self.config = {
            "calendarKey": self.server.calendar_key,
            "baseUrl": self.server.url,
            "subcalendarId": self.sub,
        }
        self.credentials = {"apiKey": self.server.api_key}

    def stop(self) -> None:
        self.server.stop()

    def ours(self, entity_id: str) -> list[dict[str, Any]]:
        return [
            {"id": e["id"], "title": e["title"], "start": e["start_dt"][:16]}
            for e in self.server.events()
            if e.get("remote_id") == f"calhub:reservation:{entity_id}"
        ]

    def user_create(self, title: str, start: datetime, end: datetime) -> str:
        return self.server.user_create(self.sub, title, start, end)

    def user_move(self, remote_id: str, start: datetime, end: datetime) -> None:
        self.server.user_update(remote_id, start_dt=start, end_dt=end)

    def user_delete(self, remote_id: str) -> None:
        self.server.user_delete(remote_id)

    def stale_cursor(self, cursor: dict[str, Any]) -> dict[str, Any]:
        return {"modifiedSince": int(self.server.now()) - 31 * 86400}

    def revoke(self) -> None:
        self.server.api_keys.clear()  # the key was deleted in Teamup's settings


class CalDAVHarness(Harness):
    name = "caldav"
    create_method = "PUT"

    def __init__(self, **config: Any) -> None:
        super().__init__()
        self.radicale = RadicaleServer().start()
        # The connector talks to Radicale through a proxy that can inject faults.
        self.server = FaultProxy(self.radicale.url).start()  # type: ignore[assignment]
        self.cal_url = self.radicale.make_calendar("Work")
        proxied = self.server.url + "/" + self.cal_url.removeprefix(self.radicale.url)
        self.config = {"url": self.server.url + "/", "calendarUrl": proxied, **config}
        self.credentials = {"username": self.radicale.user, "password": self.radicale.password}

    def stop(self) -> None:
        self.server.stop()
        self.radicale.stop()

    def ours(self, entity_id: str) -> list[dict[str, Any]]:
        from icalendar import Calendar

        out = []
        for path, text in self.radicale.list(self.cal_url).items():
            ev = next(iter(Calendar.from_ical(text).walk("VEVENT")))
            if str(ev.get("X-CALHUB-ID")) == f"reservation:{entity_id}":
                start = ev.decoded("DTSTART").astimezone(UTC)
                out.append(
                    {
                        "id": path,
                        "title": str(ev.get("SUMMARY")),
                        "start": start.strftime("%Y-%m-%dT%H:%M"),
                    }
                )
        return out

    def _ical(self, uid: str, title: str, start: datetime, end: datetime) -> str:
        fmt = "%Y%m%dT%H%M%SZ"
        return (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{datetime.now(UTC).strftime(fmt)}\r\n"
            f"DTSTART:{start.astimezone(UTC).strftime(fmt)}\r\nDTEND:{end.astimezone(UTC).strftime(fmt)}\r\n"
            f"SUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )

    def user_create(self, title: str, start: datetime, end: datetime) -> str:
        uid = uuid.uuid4().hex
        return self.radicale.put(self.cal_url, f"{uid}.ics", self._ical(uid, title, start, end))

    def user_move(self, remote_id: str, start: datetime, end: datetime) -> None:
        from icalendar import Calendar

        text = self.radicale.get(remote_id)
        assert text
        ev = next(iter(Calendar.from_ical(text).walk("VEVENT")))
        name = remote_id.rsplit("/", 1)[1]
        self.radicale.put(
            self.cal_url, name, self._ical(str(ev["UID"]), str(ev.get("SUMMARY")), start, end)
        )

    def user_delete(self, remote_id: str) -> None:
        self.radicale.delete(remote_id)

    def stale_cursor(self, cursor: dict[str, Any]) -> dict[str, Any]:
        if cursor.get("mode") == "etag":
            return {}
        return {"syncToken": "http://radicale.org/ns/sync/" + "0" * 64}

    def revoke(self) -> None:
        self.radicale.set_password("changed-by-user")  # the app password was revoked


HARNESSES: dict[str, Callable[[], Harness]] = {
    "microsoft": MicrosoftHarness,
    "caldav": CalDAVHarness,
    "zoho": ZohoHarness,
    "teamup": TeamupHarness,
}


@contextmanager
def running(name: str) -> Iterator[Harness]:
    """A started harness for provider ``name``, stopped afterwards."""
    harness = HARNESSES[name]()
    try:
        yield harness
    finally:
        harness.stop()
