"""Remote CalDAV connector (iCloud, Fastmail, Nextcloud, Zoho's CalDAV, any RFC 4791 server).

Built on the ``caldav`` library's DAVClient (auth negotiation, discovery, sync-collection):

- Push: our events are PUT as VEVENTs at deterministic hrefs (``calhub-<seed>.ics``) with the
  object's uid, so a retried creation lands on the same resource: ``If-None-Match: *`` on
  create, ``If-Match`` on update (a 412 means someone edited our event remotely; calhub owns it
  and writes its state over it), DELETE with a missing resource counting as deleted.
- Pull: ``sync-collection`` (RFC 6578) where the server offers it — an invalid or expired token
  (403/409 valid-sync-token) restarts with a full listing — else ctag + ETag polling (PROPFIND
  Depth 1 for getetag, GET of what changed, absence = deletion).
- Foreign events come back as RemoteEvents with their iCalendar text in ``ical``.

Provider presets (``config.preset``) only fill in URLs and quirks; see :data:`PRESETS`.

Settings — ``config``: ``url`` (the DAV root or principal URL; presets fill it in),
``calendarUrl`` (absolute, or relative to ``url``) or ``calendarName`` (display name, found via
the principal), ``preset`` ("icloud", "fastmail", "nextcloud", "zoho"), ``syncCollection``
(override the preset), ``authType`` ("basic" default, "digest", "bearer", "" to negotiate),
``timeout``. ``credentials``: ``username``, ``password`` (an app-specific password for iCloud
and Fastmail).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from lxml import etree

from hub.providers.base import (
    AuthError,
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
    TransientError,
)

DAV = "DAV:"
CS = "http://calendarserver.org/ns/"
C = "urn:ietf:params:xml:ns:caldav"
HREF_PREFIX = "calhub-"
X_PROP = "X-CALHUB-ID"

# URLs and quirks per provider family; everything else is plain CalDAV.
PRESETS: dict[str, dict[str, Any]] = {
    "icloud": {"url": "https://caldav.icloud.com/", "syncCollection": True},
    "fastmail": {"url": "https://caldav.fastmail.com/dav/", "syncCollection": True},
    # Nextcloud: config.url is the server root; the DAV endpoint hangs below it.
    "nextcloud": {"path": "remote.php/dav/", "syncCollection": True},
    # Zoho's CalDAV has no usable sync-collection: poll ctag/ETags.
    "zoho": {"url": "https://calendar.zoho.com/caldav/", "syncCollection": False},
}


def _translate(e: Exception, what: str) -> ProviderError:
    """A caldav/niquests exception as one of the four kinds."""
    from caldav.lib import error as cerr

    if isinstance(e, ProviderError):
        return e
    if isinstance(e, cerr.RateLimitError):
        return TransientError(
            f"{what}: server busy ({e.status or 429})",
            status=e.status or 429,
            retry_after=e.retry_after_seconds,
        )
    if isinstance(e, cerr.AuthorizationError):
        return AuthError(f"{what}: the server refused our credentials ({e.reason})", status=401)
    if isinstance(e, cerr.NotFoundError):
        return NotFoundError(f"{what}: not found ({e.reason})", status=404)
    if isinstance(e, cerr.DAVError):
        status = getattr(e, "status", None)
        try:
            code = int(status) if status is not None else None
        except (TypeError, ValueError):
            code = None
        if code is None or code >= 500:
            return TransientError(f"{what}: {e.reason}", status=code)
        return RejectedError(f"{what}: {e.reason}", status=code)
    # niquests/requests/urllib3/socket errors: network trouble, try again later
    return TransientError(f"{what}: {e.__class__.__name__}: {e}")


def _ical_for(event: OutboundEvent) -> str:
    from icalendar import Calendar, Event, vRecur

    cal = Calendar()
    cal.add("prodid", "-//calhub//calhub//EN")
    cal.add("version", "2.0")
    ev = Event()
    ev.add("uid", event.uid)
    ev.add("dtstamp", datetime.now(UTC))
    # A recurring item repeats in local time (DST-proof): DTSTART with TZID + its VTIMEZONE.
    zone = ZoneInfo(event.timezone) if event.rrule else UTC
    ev.add("dtstart", event.start.astimezone(zone))
    ev.add("dtend", event.end.astimezone(zone))
    if event.rrule:
        ev.add("rrule", vRecur.from_ical(event.rrule))
        if event.exdates:
            ev.add("exdate", [x.astimezone(zone) for x in event.exdates])
    ev.add("summary", event.summary)
    if event.description:
        ev.add("description", event.description)
    if event.location:
        ev.add("location", event.location)
    ev.add(
        "status",
        {"cancelled": "CANCELLED", "tentative": "TENTATIVE"}.get(event.status, "CONFIRMED"),
    )
    ev.add("transp", "OPAQUE" if event.busy and event.status != "cancelled" else "TRANSPARENT")
    ev.add("sequence", event.sequence)
    if event.color:
        ev.add("color", event.color)
    ev.add(X_PROP, f"{event.entity}:{event.entity_id}")
    cal.add_component(ev)
    if event.rrule:
        cal.add_missing_timezones()
    return cal.to_ical().decode()


def _as_utc(value: Any) -> tuple[datetime | None, bool]:
    if value is None:
        return None, False
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # floating time: best effort
        return value.astimezone(UTC), False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC), True
    return None, False


class CalDAVConnector(Connector):
    """Generic CalDAV connector; presets and subclasses only change URLs and quirks."""

    name: ClassVar[str] = "caldav"
    auth_scheme: ClassVar[str] = "basic"
    capabilities: ClassVar[Capability] = Capability.PUSH | Capability.PULL
    preset: ClassVar[str | None] = None

    def supports(self, event: OutboundEvent) -> bool:
        """CalDAV shows recurring events (RRULE/EXDATE with a VTIMEZONE)."""
        return True

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        preset_name = self.preset or self.config.get("preset")
        preset = PRESETS.get(str(preset_name), {}) if preset_name else {}
        url = self.config.get("url") or preset.get("url")
        if not url:
            raise RejectedError("caldav: missing required setting 'url'")
        url = str(url)
        if preset.get("path"):
            url = urljoin(url.rstrip("/") + "/", preset["path"])
        self.url = url
        self.sync_collection = bool(
            self.config.get("syncCollection", preset.get("syncCollection", True))
        )
        self._client: Any = None
        self._calendar: Any = None

    # -- plumbing --------------------------------------------------------------------------

    def client(self) -> Any:
        """The DAVClient (built lazily; caldav keeps its own HTTP session)."""
        if self._client is None:
            import caldav

            # The engine's session carries the timeouts; caldav keeps its own HTTP session.
            timeout = self.config.get("timeout") or getattr(self.http, "_timeout", None) or 20
            self._client = caldav.DAVClient(
                url=self.url,
                username=self.credentials.get("username"),
                password=self.credentials.get("password"),
                timeout=timeout,
                # Basic up front (iCloud, Fastmail, Nextcloud all take it) saves a 401 round
                # trip per request; config.authType "digest"/"bearer", or "" to negotiate.
                auth_type=self.config.get("authType", "basic") or None,
                rate_limit_handle=False,  # retries are the sync engine's job
                headers={"User-Agent": self.http.headers.get("User-Agent", "calhub")},
            )
        return self._client

    def calendar(self) -> Any:
        """The chosen calendar: ``calendarUrl`` (absolute or relative) or ``calendarName``."""
        if self._calendar is not None:
            return self._calendar
        client = self.client()
        cal_url = self.config.get("calendarUrl")
        try:
            if cal_url:
                self._calendar = client.calendar(url=urljoin(self.url, str(cal_url)))
            elif self.config.get("calendarName"):
                wanted = str(self.config["calendarName"])
                for cal in client.principal().calendars():
                    if cal.get_display_name() == wanted:
                        self._calendar = cal
                        break
                else:
                    raise NotFoundError(f"caldav: no calendar named {wanted!r} on {self.url}")
            else:
                raise RejectedError("caldav: set config.calendarUrl or config.calendarName")
        except Exception as e:
            raise _translate(e, "find calendar") from e
        return self._calendar

    def _cal_url(self) -> str:
        url = str(self.calendar().url)
        return url if url.endswith("/") else url + "/"

    def _request(
        self, method: str, url: str, what: str, body: str = "", headers: dict | None = None
    ) -> Any:
        try:
            resp = self.client().request(url, method, body, headers or {})
        except Exception as e:
            raise _translate(e, what) from e
        status = int(resp.status)
        if status >= 500 or status in (408, 429):
            raise TransientError(f"{what}: HTTP {status}", status=status)
        return resp

    @staticmethod
    def href_for(event: OutboundEvent) -> str:
        """Our deterministic resource name for an object."""
        return f"{HREF_PREFIX}{event.remote_id_seed()[:40]}.ics"

    def _abs(self, remote_id: str) -> str:
        return urljoin(self._cal_url(), remote_id)

    def _path(self, url: str) -> str:
        return urlsplit(str(url)).path

    # -- push ------------------------------------------------------------------------------

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        """PUT the VEVENT at its deterministic href (create or update)."""
        body = _ical_for(event)
        url = self._abs(existing.remote_id) if existing else self._abs(self.href_for(event))
        hdrs = {"Content-Type": "text/calendar; charset=utf-8"}
        if existing is None:
            cond = {"If-None-Match": "*"}
        elif existing.etag:
            cond = {"If-Match": existing.etag}
        else:
            cond = {}
        resp = self._request("PUT", url, "put event", body, {**hdrs, **cond})
        if int(resp.status) == 412:
            # Created by an earlier attempt, or edited remotely since our last write: the
            # object is ours (deterministic href), so calhub's state wins.
            resp = self._request("PUT", url, "put event", body, hdrs)
        status = int(resp.status)
        if status in (403, 409) and b"no-uid-conflict" in _raw(resp):
            # The uid already lives at another href (the user imported or copied our event):
            # take that resource over instead of failing forever.
            other = self._href_of_uid(event.uid)
            if other and other != self._path(url):
                url = self._abs(other)
                resp = self._request("PUT", url, "put event", body, hdrs)
                status = int(resp.status)
        if status in (404, 409) and not self._calendar_exists():
            raise NotFoundError(f"put event: the calendar is gone (HTTP {status})", status=status)
        if status >= 400:
            raise RejectedError(
                f"put event: HTTP {status} {getattr(resp, 'reason', '')}", status=status
            )
        etag = resp.headers.get("ETag")
        return PushResult(remote_id=self._path(url), etag=etag)

    def _calendar_exists(self) -> bool:
        body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>'
        resp = self._request("PROPFIND", self._cal_url(), "check calendar", body, {"Depth": "0"})
        return int(resp.status) not in (404, 410)

    def _href_of_uid(self, uid: str) -> str | None:
        """The path of the resource holding ``uid`` (calendar-query on UID, RFC 4791 §9.7.5)."""
        from xml.sax.saxutils import escape

        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<c:calendar-query xmlns:d="{DAV}" xmlns:c="{C}"><d:prop><d:getetag/></d:prop>'
            '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
            '<c:prop-filter name="UID"><c:text-match collation="i;octet">'
            f"{escape(uid)}</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter>"
            "</c:filter></c:calendar-query>"
        )
        resp = self._request(
            "REPORT",
            self._cal_url(),
            "find uid",
            body,
            {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
        if int(resp.status) >= 400:
            return None
        for r in etree.fromstring(_raw(resp)).iter(f"{{{DAV}}}response"):
            href = r.findtext(f"{{{DAV}}}href")
            if href:
                return self._path(href)
        return None

    def delete(self, ref: RemoteRef) -> None:
        """DELETE the resource; a missing one counts as deleted."""
        url = self._abs(ref.remote_id)
        hdrs = {"If-Match": ref.etag} if ref.etag else {}
        resp = self._request("DELETE", url, "delete event", headers=hdrs)
        if int(resp.status) == 412:
            resp = self._request("DELETE", url, "delete event")
        status = int(resp.status)
        if status in (404, 410) or status < 300:
            return
        raise RejectedError(f"delete event: HTTP {status}", status=status)

    # -- pull ------------------------------------------------------------------------------

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        """sync-collection since ``cursor['syncToken']``, or ETag polling when not offered."""
        mode = (cursor or {}).get("mode")
        if self.sync_collection and mode != "etag":
            token = (cursor or {}).get("syncToken")
            try:
                return self._sync(token)
            except _StaleToken:
                return self._sync(None)
            except _NoSyncSupport:
                self.sync_collection = False
                cursor = {}
        return self._poll((cursor or {}) if mode == "etag" else {})

    def _sync(self, token: str | None) -> PullResult:
        from caldav.lib import error as cerr

        cal = self.calendar()
        try:
            # Only hrefs and etags here; the data comes by calendar-multiget below rather
            # than the library's one GET per object.
            res = cal.get_objects_by_sync_token(
                sync_token=token, load_objects=False, disable_fallback=True
            )
        except cerr.RateLimitError as e:
            raise _translate(e, "sync-collection") from e
        except cerr.DAVError as e:
            raise self._classify_sync_error(e, token) from e
        except Exception as e:
            raise _translate(e, "sync-collection") from e
        deleted = {self._path(u) for u in (res.deleted_urls or set())}
        changes: list[RemoteEvent] = [RemoteEvent(remote_id=p, deleted=True) for p in deleted]
        wanted = [self._path(o.url) for o in res.objects if self._path(o.url) not in deleted]
        wanted = [p for p in wanted if p.endswith(".ics") or "." not in p.rsplit("/", 1)[-1]]
        cal_url = self._cal_url()
        for i in range(0, len(wanted), 50):
            batch = wanted[i : i + 50]
            got = self._multiget(cal_url, batch)
            for path in batch:
                if path in got:
                    ical, etag = got[path]
                    changes.append(self._remote(path, ical, etag))
                else:  # vanished between the listing and the fetch
                    changes.append(RemoteEvent(remote_id=path, deleted=True))
        full = token is None
        if full:
            changes = [c for c in changes if not c.deleted]
        return PullResult(changes=changes, cursor={"syncToken": res.sync_token}, full=full)

    @staticmethod
    def _classify_sync_error(e: Exception, token: str | None) -> Exception:
        """What a failed sync-collection REPORT means: stale token, no support, or an error."""
        from caldav.lib import error as cerr

        try:
            status = int(getattr(e, "status", None) or 0) or None
        except (TypeError, ValueError):
            status = None
        preconditions = getattr(e, "preconditions", []) or []
        if token is not None and (
            "{DAV:}valid-sync-token" in preconditions
            or isinstance(e, cerr.AuthorizationError)  # Radicale: 403 for a token it forgot
            or status in (400, 403, 409, 410, 412)
        ):
            return _StaleToken()  # a full sync then tells a real auth failure apart
        if isinstance(e, cerr.AuthorizationError):
            return _translate(e, "sync-collection")
        if isinstance(e, cerr.NotFoundError) or status == 404:
            return NotFoundError("sync-collection: the calendar is gone", status=404)
        if token is None and status in (400, 403, 405, 415, 422, 501):
            return _NoSyncSupport()
        if status is None or status >= 500 or status in (408, 429):
            return TransientError(f"sync-collection: {getattr(e, 'reason', e)}", status=status)
        return _translate(e, "sync-collection")

    def _poll(self, cursor: dict[str, Any]) -> PullResult:
        cal_url = self._cal_url()
        ctag, etags = self._propfind_etags(cal_url)
        old: dict[str, str] = dict(cursor.get("etags") or {})
        full = not cursor
        if not full and ctag is not None and ctag == cursor.get("ctag"):
            return PullResult(changes=[], cursor=cursor)
        wanted = [p for p, etag in etags.items() if full or old.get(p) != etag]
        changes: list[RemoteEvent] = []
        for i in range(0, len(wanted), 50):  # calendar-multiget in batches, not one GET each
            for path, (ical, etag) in self._multiget(cal_url, wanted[i : i + 50]).items():
                changes.append(self._remote(path, ical, etag or etags.get(path)))
        if not full:
            changes.extend(RemoteEvent(remote_id=p, deleted=True) for p in old if p not in etags)
        return PullResult(
            changes=changes, cursor={"mode": "etag", "ctag": ctag, "etags": etags}, full=full
        )

    def _multiget(self, cal_url: str, paths: list[str]) -> dict[str, tuple[str, str | None]]:
        """path -> (iCalendar text, etag) via one calendar-multiget REPORT (RFC 4791 §7.9)."""
        from xml.sax.saxutils import escape

        hrefs = "".join(f"<d:href>{escape(p)}</d:href>" for p in paths)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<c:calendar-multiget xmlns:d="{DAV}" xmlns:c="{C}"><d:prop><d:getetag/>'
            f"<c:calendar-data/></d:prop>{hrefs}</c:calendar-multiget>"
        )
        resp = self._request(
            "REPORT",
            cal_url,
            "get events",
            body,
            {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
        if int(resp.status) >= 400:
            raise RejectedError(f"get events: HTTP {resp.status}", status=int(resp.status))
        out: dict[str, tuple[str, str | None]] = {}
        for r in etree.fromstring(_raw(resp)).iter(f"{{{DAV}}}response"):
            data = r.findtext(f".//{{{C}}}calendar-data")
            if data:  # a 404 propstat (deleted meanwhile) carries no data
                path = self._path(r.findtext(f"{{{DAV}}}href") or "")
                out[path] = (data, r.findtext(f".//{{{DAV}}}getetag"))
        return out

    def _propfind_etags(self, cal_url: str) -> tuple[str | None, dict[str, str]]:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<d:propfind xmlns:d="{DAV}" xmlns:cs="{CS}"><d:prop><d:getetag/><cs:getctag/>'
            "<d:resourcetype/></d:prop></d:propfind>"
        )
        resp = self._request(
            "PROPFIND",
            cal_url,
            "list etags",
            body,
            {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
        if int(resp.status) in (404, 410):
            raise NotFoundError("list etags: the calendar is gone", status=int(resp.status))
        if int(resp.status) >= 400:
            raise RejectedError(f"list etags: HTTP {resp.status}", status=int(resp.status))
        root = etree.fromstring(_raw(resp))
        ctag = None
        etags: dict[str, str] = {}
        own = self._path(cal_url).rstrip("/")
        for r in root.iter(f"{{{DAV}}}response"):
            href = r.findtext(f"{{{DAV}}}href") or ""
            path = self._path(href)
            if path.rstrip("/") == own:
                ctag = r.findtext(f".//{{{CS}}}getctag")
                continue
            if r.find(f".//{{{DAV}}}resourcetype/{{{DAV}}}collection") is not None:
                continue
            etag = r.findtext(f".//{{{DAV}}}getetag")
            if etag and path.endswith(".ics"):
                etags[path] = etag
        return ctag, etags

    def _remote(self, path: str, ical: str, etag: str | None) -> RemoteEvent:
        from icalendar import Calendar

        try:
            cal = Calendar.from_ical(ical)
        except ValueError:
            return RemoteEvent(remote_id=path, etag=etag, ical=ical)
        master = None
        for comp in cal.walk("VEVENT"):
            if comp.get("RECURRENCE-ID") is None:
                master = comp
                break
            master = master or comp
        if master is None:  # a VTODO or VJOURNAL: nothing that blocks time
            return RemoteEvent(remote_id=path, etag=etag, busy=False, ical=ical)
        start, all_day = _as_utc(master.decoded("DTSTART", None))
        end, _ = _as_utc(master.decoded("DTEND", None))
        entity = calhub_id = None
        mark = str(master.get(X_PROP) or "")
        if ":" in mark:
            entity, calhub_id = mark.split(":", 1)
        status = str(master.get("STATUS") or "").upper()
        return RemoteEvent(
            remote_id=path,
            deleted=status == "CANCELLED" and calhub_id is None,
            etag=etag,
            summary=str(master.get("SUMMARY") or ""),
            start=start,
            end=end,
            all_day=all_day,
            busy=str(master.get("TRANSP") or "OPAQUE").upper() != "TRANSPARENT",
            calhub_entity=entity,
            calhub_id=calhub_id,
            ical=ical,
        )


class _StaleToken(Exception):
    pass


class _NoSyncSupport(Exception):
    pass


def _raw(resp: Any) -> bytes:
    raw = getattr(resp, "_raw", None)
    if isinstance(raw, bytes):
        return raw
    raw = getattr(resp, "raw", None)
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode()
    tree = getattr(resp, "tree", None)
    if tree is not None:
        return etree.tostring(tree)
    return b""


class ICloudConnector(CalDAVConnector):
    """iCloud: app-specific password; caldav.icloud.com discovery."""

    preset = "icloud"


class FastmailConnector(CalDAVConnector):
    """Fastmail: app password; caldav.fastmail.com."""

    preset = "fastmail"


class NextcloudConnector(CalDAVConnector):
    """Nextcloud: config.url is the server root; DAV lives at remote.php/dav."""

    preset = "nextcloud"


class ZohoCalDAVConnector(CalDAVConnector):
    """Zoho Calendar over CalDAV: ETag polling."""

    preset = "zoho"
