"""Teamup connector (API key): one sub-calendar per staff member.

Contract (apidocs.teamup.com): every call carries ``Teamup-Token: <api key>``; URLs start with
the calendar key; events are created with ``subcalendar_ids``/``start_dt``/``end_dt``, updated
with their current ``version`` (a stale one is refused), deleted with ``?version=``; changes are
listed with ``GET /{calendarKey}/events?modifiedSince=<unix time>`` (at most 30 days back;
deleted events carry ``delete_dt``), answering the server ``timestamp`` for the next call.
Our id travels in the event's ``remote_id`` field, which Teamup keeps for syncing systems.

Settings — ``config``: ``calendarKey`` (required, a key with modify permission), ``baseUrl``
(default https://api.teamup.com), ``subcalendarId`` (a staff-scoped integration's sub-calendar),
``subcalendarMap`` ({calhub resource id: sub-calendar id}, for a location-scoped one; events go
to the sub-calendars of their ``OutboundEvent.resource_ids``), ``pullSubcalendarIds`` (extra
sub-calendars whose events block time), ``windowPastDays`` (30), ``windowFutureDays`` (365),
``listChunkDays`` (90). ``credentials``: ``apiKey`` (sent as Teamup-Token), optional
``authToken`` (a user bearer token for password-protected calendars).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from hub.providers.base import (
    Capability,
    Connector,
    NotFoundError,
    OutboundEvent,
    ProviderError,
    PullResult,
    PushResult,
    RejectedError,
    RemoteEvent,
    RemoteRef,
)
from hub.providers.support import raise_for, require, send

DEFAULT_BASE = "https://api.teamup.com"
MARK = "calhub:"
MAX_MODIFIED_SINCE_DAYS = 30


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class TeamupConnector(Connector):
    """Teamup calendar connector."""

    name: ClassVar[str] = "teamup"
    auth_scheme: ClassVar[str] = "api_key"
    capabilities: ClassVar[Capability] = Capability.PUSH | Capability.PULL

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        cfg = self.config
        base = str(cfg.get("baseUrl") or DEFAULT_BASE).rstrip("/")
        key = require(cfg, "calendarKey", "teamup")
        self.root = f"{base}/{quote(str(key), safe='')}"
        self.sub_map: dict[str, int] = {
            str(k): int(v) for k, v in (cfg.get("subcalendarMap") or {}).items()
        }
        self.default_sub = int(cfg["subcalendarId"]) if cfg.get("subcalendarId") else None
        subs = set(self.sub_map.values())
        if self.default_sub is not None:
            subs.add(self.default_sub)
        subs.update(int(s) for s in cfg.get("pullSubcalendarIds") or [])
        self.watched_subs = sorted(subs)

    # -- HTTP ------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        key = self.credentials.get("apiKey")
        if not key:
            raise RejectedError("teamup: missing credential 'apiKey'")
        hdrs = {"Teamup-Token": str(key), "Accept": "application/json"}
        if self.credentials.get("authToken"):  # a user bearer token for protected calendars
            hdrs["Authorization"] = f"Bearer {self.credentials['authToken']}"
        return hdrs

    def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        return send(self.http, method, self.root + path, what, headers=self._headers(), **kw)

    # -- push ------------------------------------------------------------------------------

    def _subcalendars(self, event: OutboundEvent) -> list[int]:
        ids = [self.sub_map[r] for r in event.resource_ids if r in self.sub_map]
        if not ids and self.default_sub is not None:
            ids = [self.default_sub]
        if not ids:
            raise RejectedError(
                "teamup: no sub-calendar for this event: set config.subcalendarId or map its "
                "staff member in config.subcalendarMap"
            )
        return sorted(set(ids))

    def _body(self, event: OutboundEvent) -> dict[str, Any]:
        title = event.summary
        if event.status == "cancelled":
            title = f"Cancelled: {title}"
        elif event.status == "tentative":
            title = f"(tentative) {title}"
        return {
            "subcalendar_ids": self._subcalendars(event),
            "start_dt": event.start.astimezone(UTC).isoformat(),
            "end_dt": event.end.astimezone(UTC).isoformat(),
            "all_day": False,
            "title": title,
            "notes": event.description or "",
            "location": event.location or "",
            "remote_id": f"{MARK}{event.entity}:{event.entity_id}",
            "tz": event.timezone or "UTC",
        }

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        """Create (after looking for one an earlier attempt made) or update the event."""
        body = self._body(event)
        if existing is None:
            found = self._find_ours(event, body["remote_id"])
            if found is not None:
                existing = RemoteRef(str(found["id"]), found.get("version"))
        if existing is not None:
            try:
                return self._update(existing, body)
            except NotFoundError:
                pass  # deleted in Teamup: put it back
        resp = self._call("POST", "/events", "create event", json=body)
        raise_for(resp, "create event", object_call=False)
        ev = resp.json()["event"]
        return PushResult(remote_id=str(ev["id"]), etag=ev.get("version"))

    def _find_ours(self, event: OutboundEvent, remote_id: str) -> dict[str, Any] | None:
        # Teamup does not de-duplicate creations, so a retry first looks around the event's
        # dates for one carrying our remote_id (an earlier attempt may have landed).
        start = event.start.astimezone(UTC).date() - timedelta(days=1)
        end = event.end.astimezone(UTC).date() + timedelta(days=1)
        for ev in self._list_range(start, end):
            if ev.get("remote_id") == remote_id and not ev.get("delete_dt"):
                return ev
        return None

    def _current_version(self, remote_id: str) -> str | None:
        resp = self._call("GET", f"/events/{quote(remote_id, safe='')}", "read event")
        raise_for(resp, "read event")
        ev = resp.json()["event"]
        if ev.get("delete_dt"):
            raise NotFoundError("read event: deleted in Teamup", status=404)
        return ev.get("version")

    def _update(self, ref: RemoteRef, body: dict[str, Any]) -> PushResult:
        version = ref.etag or self._current_version(ref.remote_id)
        for _ in range(2):
            payload = {**body, "id": ref.remote_id, "version": version}
            resp = self._call(
                "PUT", f"/events/{quote(ref.remote_id, safe='')}", "update event", json=payload
            )
            if resp.status_code == 409:
                # Someone edited it in Teamup since we last wrote: calhub owns this event,
                # so re-read the version and write our state over it.
                version = self._current_version(ref.remote_id)
                continue
            raise_for(resp, "update event")
            ev = resp.json()["event"]
            return PushResult(remote_id=str(ev["id"]), etag=ev.get("version"))
        raise_for(resp, "update event")
        raise ProviderError("unreachable")  # pragma: no cover

    def delete(self, ref: RemoteRef) -> None:
        """Delete the event; a missing one counts as deleted."""
        version = ref.etag
        for _ in range(2):
            params = {"version": version} if version else {}
            resp = self._call(
                "DELETE", f"/events/{quote(ref.remote_id, safe='')}", "delete event", params=params
            )
            if resp.status_code in (404, 410):
                return
            if resp.status_code == 409:
                try:
                    version = self._current_version(ref.remote_id)
                except NotFoundError:
                    return
                continue
            raise_for(resp, "delete event")
            return
        raise_for(resp, "delete event")

    # -- pull ------------------------------------------------------------------------------

    def _sub_params(self) -> list[tuple[str, str]]:
        return [("subcalendarId[]", str(s)) for s in self.watched_subs]

    def _list_range(self, start: date, end: date) -> list[dict[str, Any]]:
        params = [("startDate", start.isoformat()), ("endDate", end.isoformat())]
        resp = self._call("GET", "/events", "list events", params=params + self._sub_params())
        raise_for(resp, "list events", object_call=False)
        return resp.json().get("events", [])

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        """Changes since ``cursor['modifiedSince']``; a full listing without one or when stale."""
        since = cursor.get("modifiedSince") if cursor else None
        horizon = time.time() - (MAX_MODIFIED_SINCE_DAYS - 1) * 86400
        if since is not None and float(since) > horizon:
            # No sub-calendar filter here: an event moved to another staff member's
            # sub-calendar must still show up, as a removal from ours (see _remote).
            params = [("modifiedSince", str(int(since)))]
            resp = self._call("GET", "/events", "list changes", params=params)
            stale = resp.status_code == 400 and "modifiedsince" in resp.text.lower()
            if not stale:
                raise_for(resp, "list changes", object_call=False)
                data = resp.json()
                changes = [self._remote(e) for e in data.get("events", [])]
                return PullResult(
                    changes=changes, cursor={"modifiedSince": data.get("timestamp", since)}
                )
        return self._full()

    def _full(self) -> PullResult:
        today = datetime.now(UTC).date()
        start = today - timedelta(days=int(self.config.get("windowPastDays", 30)))
        end = today + timedelta(days=int(self.config.get("windowFutureDays", 365)))
        chunk = timedelta(days=int(self.config.get("listChunkDays", 90)))
        stamp = int(time.time())  # taken before listing: later edits show up next time
        seen: dict[str, RemoteEvent] = {}
        cur = start
        while cur < end:
            upto = min(cur + chunk, end)
            for item in self._list_range(cur, upto):
                ev = self._remote(item)
                if not ev.deleted:
                    seen[ev.remote_id] = ev
            cur = upto
        # Teamup's date range is inclusive of whole days (in the calendar's zone: allow a day).
        window = (
            datetime.combine(start, datetime.min.time(), UTC) + timedelta(days=1),
            datetime.combine(end, datetime.min.time(), UTC),
        )
        return PullResult(
            changes=list(seen.values()), cursor={"modifiedSince": stamp}, full=True, window=window
        )

    def _remote(self, item: dict[str, Any]) -> RemoteEvent:
        rid = str(item["id"])
        subs = {int(s) for s in item.get("subcalendar_ids") or [item.get("subcalendar_id")] if s}
        gone = bool(item.get("delete_dt")) or (
            bool(self.watched_subs) and not subs & set(self.watched_subs)
        )
        if gone:
            return RemoteEvent(remote_id=rid, deleted=True, raw=item)
        entity = calhub_id = None
        mark = item.get("remote_id") or ""
        if mark.startswith(MARK) and mark.count(":") >= 2:
            entity, calhub_id = mark[len(MARK) :].split(":")[:2]
        owners = tuple(sorted(r for r, sub in self.sub_map.items() if sub in subs))
        return RemoteEvent(
            remote_id=rid,
            resource_ids=owners,
            etag=item.get("version"),
            summary=item.get("title") or "",
            start=_dt(item.get("start_dt")),
            end=_dt(item.get("end_dt")),
            all_day=bool(item.get("all_day")),
            calhub_entity=entity,
            calhub_id=calhub_id,
            raw=item,
        )
