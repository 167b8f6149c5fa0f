"""Zoho Calendar API connector (OAuth 2, ``Authorization: Zoho-oauthtoken …``).

Contract (zoho.com/calendar/help/api): events are created with ``POST
/calendars/{calendar_uid}/events?eventdata={json}``, updated with ``PUT …/events/{event_uid}``
whose ``eventdata`` carries the event's current ``etag``, deleted with the ``etag`` as a header;
listing takes a ``range`` of at most 31 days (``Accept: application/json+large`` to get
descriptions) or ``lastmodified`` for changes since a time. Zoho has no client-supplied ids and
no deletion feed, so our id rides in a marker line of the description, a retried creation
first looks for that marker, and deletions are found by a periodic full listing.

Settings — ``config``: ``calendarUid`` (required), ``domain`` (data centre, default
"zoho.com"; or ``baseUrl`` default https://calendar.zoho.com/api/v1 and ``tokenUrl`` default
https://accounts.zoho.com/oauth/v2/token), ``windowPastDays`` (30), ``windowFutureDays`` (365),
``fullEvery`` (12: every n-th pull is a full listing, which finds deletions),
``maxIncrementalDays`` (30). ``credentials``: ``accessToken``, ``refreshToken``, ``expiresAt``,
``clientId``, ``clientSecret``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from hub.providers.base import (
    Capability,
    Connector,
    NotFoundError,
    OutboundEvent,
    PullResult,
    PushResult,
    RemoteEvent,
    RemoteRef,
)
from hub.providers.oauth import OAuth2Client
from hub.providers.support import raise_for, require

MARK_RE = re.compile(r"\[calhub:([a-z_]+):([^\]\s]+)\]")
ZFMT = "%Y%m%dT%H%M%SZ"
MAX_RANGE_DAYS = 31
MAX_DESCRIPTION = 10000
MAX_LOCATION = 255
LARGE = "application/json+large"


def _zoho_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(ZFMT)


def _parse_zoho_time(value: str | None) -> tuple[datetime | None, bool]:
    """(instant, all-day) from Zoho's yyyyMMdd'T'HHmmss'Z' / ±hhmm / yyyyMMdd forms."""
    if not value:
        return None, False
    for fmt, all_day in (("%Y%m%dT%H%M%SZ", False), ("%Y%m%dT%H%M%S%z", False), ("%Y%m%d", True)):
        try:
            dt = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return (dt.replace(tzinfo=dt.tzinfo or UTC).astimezone(UTC), all_day)
    return None, False


class ZohoConnector(Connector):
    """Zoho Calendar connector."""

    name: ClassVar[str] = "zoho"
    auth_scheme: ClassVar[str] = "oauth2"
    capabilities: ClassVar[Capability] = Capability.PUSH | Capability.PULL
    reports_deletions: ClassVar[bool] = False  # no deletion feed: full listings show them

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        cfg = self.config
        # config.domain picks the data centre (zoho.eu, zoho.in, zoho.com.au, …).
        domain = str(cfg.get("domain") or "zoho.com")
        base = str(cfg.get("baseUrl") or f"https://calendar.{domain}/api/v1").rstrip("/")
        cal = require(cfg, "calendarUid", "zoho")
        self.events_url = f"{base}/calendars/{quote(str(cal), safe='')}/events"
        self.oauth = OAuth2Client(
            self.http,
            str(cfg.get("tokenUrl") or f"https://accounts.{domain}/oauth/v2/token"),
            self.credentials,
            self.save_credentials,
            label="Zoho",
            config=cfg,
            header_scheme="Zoho-oauthtoken",
            params_in_query=True,
        )

    def _call(self, method: str, url: str, what: str, **kw: Any) -> Any:
        return self.oauth.request(method, url, what, **kw)

    # -- push ------------------------------------------------------------------------------

    def _eventdata(self, event: OutboundEvent) -> dict[str, Any]:
        title = event.summary
        if event.status == "cancelled":
            title = f"Cancelled: {title}"
        elif event.status == "tentative":
            title = f"(tentative) {title}"
        marker = f"[calhub:{event.entity}:{event.entity_id}]"
        # Zoho caps descriptions at 10000 and locations at 255 characters; the marker must
        # survive, so the free text gives way.
        text = (event.description or "")[: MAX_DESCRIPTION - len(marker) - 2]
        description = f"{text}\n\n{marker}" if text else marker
        data: dict[str, Any] = {
            "title": title,
            "dateandtime": {
                "timezone": event.timezone or "UTC",
                "start": _zoho_time(event.start),
                "end": _zoho_time(event.end),
            },
            "isallday": False,
            "description": description,
            "location": (event.location or "")[:MAX_LOCATION],
        }
        if event.color:
            data["color"] = event.color
        return data

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        """Create (after looking for one an earlier attempt made) or update the event."""
        data = self._eventdata(event)
        if existing is None:
            found = self._find_ours(event)
            if found is not None:
                existing = RemoteRef(found["uid"], str(found.get("etag")))
        if existing is not None:
            try:
                return self._update(existing, data)
            except NotFoundError:
                pass  # deleted in Zoho: put it back
        resp = self._call(
            "POST", self.events_url, "create event", params={"eventdata": json.dumps(data)}
        )
        raise_for(resp, "create event", object_call=False)
        ev = resp.json()["events"][0]
        return PushResult(remote_id=ev["uid"], etag=str(ev.get("etag")))

    def _find_ours(self, event: OutboundEvent) -> dict[str, Any] | None:
        start = event.start - timedelta(days=1)
        end = event.end + timedelta(days=1)
        for item in self._list_range(start, end):
            m = MARK_RE.search(item.get("description") or "")
            if m and (m.group(1), m.group(2)) == (event.entity, event.entity_id):
                return item
        return None

    def _read(self, uid: str) -> dict[str, Any]:
        resp = self._call(
            "GET",
            f"{self.events_url}/{quote(uid, safe='')}",
            "read event",
            headers={"Accept": LARGE},
        )
        raise_for(resp, "read event")
        return resp.json()["events"][0]

    @staticmethod
    def _etag_conflict(resp: Any) -> bool:
        return resp.status_code in (409, 412) or (
            resp.status_code == 400 and "etag" in resp.text.lower()
        )

    def _update(self, ref: RemoteRef, data: dict[str, Any]) -> PushResult:
        etag = ref.etag or str(self._read(ref.remote_id).get("etag"))
        url = f"{self.events_url}/{quote(ref.remote_id, safe='')}"
        for _ in range(2):
            resp = self._call(
                "PUT", url, "update event", params={"eventdata": json.dumps({**data, "etag": etag})}
            )
            if self._etag_conflict(resp):
                # Edited in Zoho since our last write; calhub owns the event, so write over it.
                etag = str(self._read(ref.remote_id).get("etag"))
                continue
            break
        raise_for(resp, "update event")
        ev = resp.json()["events"][0]
        return PushResult(remote_id=ev["uid"], etag=str(ev.get("etag")))

    def delete(self, ref: RemoteRef) -> None:
        """Delete the event (etag header); a missing one counts as deleted."""
        url = f"{self.events_url}/{quote(ref.remote_id, safe='')}"
        etag = ref.etag
        for _ in range(2):
            if not etag:
                try:
                    etag = str(self._read(ref.remote_id).get("etag"))
                except NotFoundError:
                    return
            resp = self._call("DELETE", url, "delete event", headers={"etag": etag})
            if resp.status_code in (404, 410):
                return
            if self._etag_conflict(resp):
                etag = None
                continue
            break
        raise_for(resp, "delete event")

    # -- pull ------------------------------------------------------------------------------

    def _list_range(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cur = start
        while cur < end:  # Zoho refuses ranges over 31 days
            upto = min(cur + timedelta(days=MAX_RANGE_DAYS - 1), end)
            rng = json.dumps({"start": _zoho_time(cur), "end": _zoho_time(upto)})
            resp = self._call(
                "GET",
                self.events_url,
                "list events",
                params={"range": rng},
                headers={"Accept": LARGE},
            )
            raise_for(resp, "list events", object_call=False)
            out.extend(resp.json().get("events") or [])
            cur = upto
        return out

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        """Changes since ``cursor['lastmodified']``; every ``fullEvery`` pulls a full listing."""
        now = datetime.now(UTC).replace(microsecond=0)
        since = cursor.get("lastmodified") if cursor else None
        pulls = int(cursor.get("incrementalPulls", 0)) if cursor else 0
        full_every = int(self.config.get("fullEvery", 12))
        max_age = timedelta(days=float(self.config.get("maxIncrementalDays", 30)))
        since_dt, _ = _parse_zoho_time(since)
        if since_dt is not None and now - since_dt < max_age and pulls < full_every:
            resp = self._call(
                "GET",
                self.events_url,
                "list changes",
                params={"lastmodified": since},
                headers={"Accept": LARGE},
            )
            raise_for(resp, "list changes", object_call=False)
            changes = [self._remote(e) for e in resp.json().get("events") or []]
            # Overlap by a second: an edit in the same second as the listing is seen again.
            cursor = {
                "lastmodified": _zoho_time(now - timedelta(seconds=1)),
                "incrementalPulls": pulls + 1,
            }
            return PullResult(changes=changes, cursor=cursor)
        start = now - timedelta(days=float(self.config.get("windowPastDays", 30)))
        end = now + timedelta(days=float(self.config.get("windowFutureDays", 365)))
        seen = {e["uid"]: self._remote(e) for e in self._list_range(start, end)}
        cursor = {"lastmodified": _zoho_time(now - timedelta(seconds=1)), "incrementalPulls": 0}
        return PullResult(
            changes=list(seen.values()), cursor=cursor, full=True, window=(start, end)
        )

    def _remote(self, item: dict[str, Any]) -> RemoteEvent:
        dat = item.get("dateandtime") or {}
        start, all_day = _parse_zoho_time(dat.get("start") or item.get("start"))
        end, _ = _parse_zoho_time(dat.get("end") or item.get("end"))
        m = MARK_RE.search(item.get("description") or "")
        return RemoteEvent(
            remote_id=item["uid"],
            deleted=bool(item.get("isdeleted")),
            etag=str(item.get("etag")) if item.get("etag") is not None else None,
            summary=item.get("title") or "",
            start=start,
            end=end,
            all_day=all_day or bool(item.get("isallday")),
            busy=item.get("transparency", "busy") != "free",
            calhub_entity=m.group(1) if m else None,
            calhub_id=m.group(2) if m else None,
            raw=item,
        )
