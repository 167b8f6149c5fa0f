"""Google Calendar API v3 connector: events with client-supplied ids, syncToken pulls, watch channels.

Config: ``{"calendarId", "baseUrl"?, "tokenUrl"?, "authorizeUrl"?, "channelTtlSeconds"?}``.
Credentials: ``{"accessToken", "refreshToken", "expiresAt", "clientId", "clientSecret"}``.
Cursor (opaque to the engine): ``{"syncToken": …}``; empty means a full listing.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from hub.providers.base import (
    AuthError,
    Capability,
    Connector,
    NotFoundError,
    Notification,
    OutboundEvent,
    PullResult,
    PushResult,
    RejectedError,
    RemoteEvent,
    RemoteRef,
    TransientError,
)
from hub.providers.oauth import OAuth2Client
from hub.providers.support import parse_retry_after, recurrence_lines

DEFAULT_BASE_URL = "https://www.googleapis.com/calendar/v3"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
PAGE_SIZE = 250
FULL_LISTING_DAYS_BACK = 30
LABEL = "Google"

# Google's fixed event colour palette (colorId → background), to map a service's colour.
EVENT_COLORS = {
    "1": "#a4bdfc",
    "2": "#7ae7bf",
    "3": "#dbadff",
    "4": "#ff887c",
    "5": "#fbd75b",
    "6": "#ffb878",
    "7": "#46d6db",
    "8": "#e1e1e1",
    "9": "#5484ed",
    "10": "#51b749",
    "11": "#dc2127",
}


def _rgb(hexcolor: str) -> tuple[int, int, int] | None:
    h = hexcolor.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    if len(h) != 6:
        return None
    try:
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    except ValueError:
        return None


def color_id(hexcolor: str | None) -> str | None:
    """The Google event colorId nearest to a ``#rrggbb`` colour (None when there is none)."""
    rgb = _rgb(hexcolor) if hexcolor else None
    if rgb is None:
        return None

    def dist(item: tuple[str, str]) -> int:
        other = _rgb(item[1]) or (0, 0, 0)
        return sum((a - b) ** 2 for a, b in zip(rgb, other, strict=True))

    return min(EVENT_COLORS.items(), key=dist)[0]


def event_id(event: OutboundEvent) -> str:
    """A deterministic Google event id: base32hex (a–v, 0–9), 58 characters, stable per object."""
    return event_id_for(event.entity, event.entity_id)


def event_id_for(entity: str, entity_id: str) -> str:
    """The Google event id of one calhub object (sha256 of ``OutboundEvent.remote_id_seed``)."""
    seed = hashlib.sha256(f"calhub:{entity}:{entity_id}".encode()).hexdigest()
    digest = hashlib.sha256(seed.encode()).digest()
    return "calhub" + base64.b32hexencode(digest).decode().lower().rstrip("=")


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(part: dict[str, Any] | None) -> tuple[datetime | None, bool]:
    """(instant, all_day) of a Google start/end; all-day dates become midnight UTC."""
    if not part:
        return None, False
    if part.get("dateTime"):
        return datetime.fromisoformat(part["dateTime"].replace("Z", "+00:00")).astimezone(
            UTC
        ), False
    if part.get("date"):
        d = datetime.strptime(part["date"], "%Y-%m-%d")
        return d.replace(tzinfo=UTC), True
    return None, False


def _recurrence_ical(item: dict[str, Any], start: datetime, end: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//calhub//google//EN",
        "BEGIN:VEVENT",
        f"UID:{item.get('iCalUID') or item['id']}",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{end:%Y%m%dT%H%M%SZ}",
        *[line for line in item.get("recurrence", []) if ":" in line],
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def to_remote(item: dict[str, Any]) -> RemoteEvent:
    """A Google event resource as calhub's neutral RemoteEvent."""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    start, all_day = _parse_time(item.get("start"))
    end, _ = _parse_time(item.get("end"))
    ical = None
    if item.get("recurrence") and start and end:
        ical = _recurrence_ical(item, start, end)
    return RemoteEvent(
        remote_id=item["id"],
        deleted=item.get("status") == "cancelled",
        etag=item.get("etag"),
        summary=item.get("summary") or "",
        start=start,
        end=end,
        all_day=all_day,
        busy=item.get("transparency", "opaque") != "transparent",
        calhub_entity=private.get("calhubEntity"),
        calhub_id=private.get("calhubId"),
        ical=ical,
        raw=item,
    )


class GoogleCalendar(Connector):
    """Google Calendar API v3 (see module docstring)."""

    name = "google"
    auth_scheme = "oauth2"
    capabilities = Capability.PUSH | Capability.PULL | Capability.WATCH | Capability.WEBHOOK
    oauth_authorize_url = DEFAULT_AUTHORIZE_URL
    oauth_token_url = DEFAULT_TOKEN_URL
    oauth_scopes = ("https://www.googleapis.com/auth/calendar.events",)

    @classmethod
    def validate_setup(cls, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        """calendarId is required; URLs must be http(s); a refresh token needs a client id."""
        allowed = {
            "calendarId",
            "baseUrl",
            "tokenUrl",
            "authorizeUrl",
            "channelTtlSeconds",
            "clientId",
        }
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValueError(f"unknown Google config key(s): {', '.join(unknown)}")
        if not isinstance(config.get("calendarId"), str) or not config["calendarId"].strip():
            raise ValueError('config.calendarId is required (e.g. "primary" or the calendar\'s id)')
        for key in ("baseUrl", "tokenUrl", "authorizeUrl"):
            value = config.get(key)
            if value is not None and (
                not isinstance(value, str) or not value.startswith(("http://", "https://"))
            ):
                raise ValueError(f"config.{key} must be an http(s) URL")
        if credentials:
            known = {"accessToken", "refreshToken", "expiresAt", "clientId", "clientSecret"}
            unknown = sorted(set(credentials) - known)
            if unknown:
                raise ValueError(f"unknown Google credential key(s): {', '.join(unknown)}")
            if not credentials.get("accessToken") and not credentials.get("refreshToken"):
                if not (credentials.get("clientId") and credentials.get("clientSecret")):
                    raise ValueError(
                        "credentials need an accessToken or a refreshToken, or clientId and "
                        "clientSecret to sign in through the browser (connectUrl)"
                    )
            if credentials.get("refreshToken") and not (
                (credentials.get("clientId") or config.get("clientId"))
                and credentials.get("clientSecret")
            ):
                raise ValueError("a refreshToken needs clientId and clientSecret to be refreshed")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = (self.config.get("baseUrl") or DEFAULT_BASE_URL).rstrip("/")
        self.events_url = (
            f"{self.base}/calendars/{quote(self.config['calendarId'], safe='')}/events"
        )
        self.tokens = OAuth2Client(
            self.http,
            self.config.get("tokenUrl") or DEFAULT_TOKEN_URL,
            self.credentials,
            self.save_credentials,
            label=LABEL,
            config=self.config,
        )

    # ---- HTTP ---------------------------------------------------------------------------------

    def _call(self, method: str, url: str, **kw: Any) -> requests.Response:
        """One API call with a fresh bearer token; one refresh-and-retry on 401."""
        return self.tokens.request(method, url, f"{LABEL} {method}", **kw)

    @staticmethod
    def _reason(resp: requests.Response) -> str:
        try:
            err = resp.json().get("error") or {}
        except ValueError:
            return resp.text[:200]
        if isinstance(err, dict):
            reasons = [e.get("reason") for e in err.get("errors", []) if isinstance(e, dict)]
            return (err.get("message") or "") + (
                f" ({', '.join(r for r in reasons if r)})" if any(reasons) else ""
            )
        return str(err)

    def _raise(self, resp: requests.Response, what: str) -> None:
        """Translate a non-2xx answer into one of the four error kinds."""
        code = resp.status_code
        reason = self._reason(resp)
        if code in (429, 500, 502, 503, 504) or (code == 403 and "rateLimitExceeded" in reason):
            raise TransientError(
                f"{LABEL} {what}: HTTP {code} {reason}".strip(),
                status=code,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        if code == 401:
            raise AuthError(
                f"{LABEL} refused the access token even after a refresh: reconnect the integration",
                status=code,
            )
        if code == 403:
            raise AuthError(
                f"{LABEL} denied access to calendar {self.config['calendarId']!r} ({reason}): reconnect with a user who may edit it",
                status=code,
            )
        if code in (404, 410):
            raise NotFoundError(f"{LABEL} {what}: not found ({reason})", status=code)
        raise RejectedError(f"{LABEL} refused {what}: HTTP {code} {reason}".strip(), status=code)

    # ---- push ---------------------------------------------------------------------------------

    def _body(self, event: OutboundEvent) -> dict[str, Any]:
        body: dict[str, Any] = {
            "summary": event.summary,
            "description": event.description,
            "location": event.location,
            "start": {"dateTime": _rfc3339(event.start), "timeZone": event.timezone},
            "end": {"dateTime": _rfc3339(event.end), "timeZone": event.timezone},
            "status": "tentative" if event.status == "tentative" else "confirmed",
            "transparency": "opaque" if event.busy else "transparent",
            "iCalUID": event.uid,
            "sequence": event.sequence,
            "extendedProperties": {
                "private": {
                    "calhubId": event.entity_id,
                    "calhubEntity": event.entity,
                    "calhubVersion": str(event.version),
                }
            },
        }
        cid = color_id(event.color)
        if cid:
            body["colorId"] = cid
        if event.entity == "shift":  # expanded in start.timeZone; [] clears a dropped rule
            body["recurrence"] = recurrence_lines(event)
        return body

    def supports(self, event: OutboundEvent) -> bool:
        """Google shows recurring events (RRULE/EXDATE in ``recurrence``)."""
        return True

    def remote_id_for(self, entity: str, entity_id: str) -> str | None:
        """Google takes client-supplied ids: ours are deterministic."""
        return event_id_for(entity, entity_id)

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        """Insert with our deterministic id; an id that already exists (a retry) is patched."""
        body = self._body(event)
        if existing is None:
            eid = event_id(event)
            resp = self._call("POST", self.events_url, json={**body, "id": eid})
            if resp.status_code == 409:  # created by an earlier attempt whose answer was lost
                body.pop("iCalUID", None)  # iCalUID cannot change on patch
                resp = self._call("PATCH", f"{self.events_url}/{eid}", json=body)
            if resp.status_code == 404:
                raise NotFoundError(
                    f"{LABEL} calendar {self.config['calendarId']!r} does not exist or is not shared with this account",
                    status=404,
                )
        else:
            body.pop("iCalUID", None)
            resp = self._call(
                "PATCH", f"{self.events_url}/{quote(existing.remote_id, safe='')}", json=body
            )
        if not resp.ok:
            self._raise(resp, "the event write")
        item = resp.json()
        return PushResult(remote_id=item["id"], etag=item.get("etag"))

    def delete(self, ref: RemoteRef) -> None:
        """Delete the event; 404/410 (already gone) count as deleted."""
        resp = self._call("DELETE", f"{self.events_url}/{quote(ref.remote_id, safe='')}")
        if resp.status_code in (404, 410) or resp.ok:
            return
        self._raise(resp, "the event delete")

    # ---- pull ---------------------------------------------------------------------------------

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        """events.list with the syncToken (all pages); a 410 Gone restarts with a full listing."""
        sync_token = cursor.get("syncToken")
        params: dict[str, Any] = {"maxResults": PAGE_SIZE}
        if sync_token:
            params["syncToken"] = sync_token
            params["showDeleted"] = "true"
        else:
            since = datetime.now(UTC) - timedelta(days=FULL_LISTING_DAYS_BACK)
            params["timeMin"] = _rfc3339(since)
        changes: list[RemoteEvent] = []
        page: str | None = None
        while True:
            resp = self._call(
                "GET", self.events_url, params={**params, **({"pageToken": page} if page else {})}
            )
            if resp.status_code == 410 and sync_token:
                return self.pull({})  # the token expired: Google wants a full resync
            if not resp.ok:
                self._raise(resp, "the event listing")
            data = resp.json()
            changes.extend(to_remote(item) for item in data.get("items", []))
            page = data.get("nextPageToken")
            if not page:
                return PullResult(
                    changes, {"syncToken": data.get("nextSyncToken")}, full=not sync_token
                )

    # ---- push channels ------------------------------------------------------------------------

    def watch(self, callback_url: str, token: str) -> dict[str, Any]:
        """events.watch: a web_hook channel carrying ``token`` in X-Goog-Channel-Token."""
        ttl = int(self.config.get("channelTtlSeconds") or 7 * 86400)
        body = {
            "id": str(uuid.uuid4()),
            "type": "web_hook",
            "address": callback_url,
            "token": token,
            "params": {"ttl": str(ttl)},
        }
        resp = self._call("POST", f"{self.events_url}/watch", json=body)
        if not resp.ok:
            self._raise(resp, "opening a push channel")
        data = resp.json()
        expiration = data.get("expiration")
        expires = (
            datetime.fromtimestamp(int(expiration) / 1000, UTC)
            if expiration
            else datetime.now(UTC) + timedelta(seconds=ttl)
        )
        return {
            "id": data.get("id", body["id"]),
            "resourceId": data.get("resourceId"),
            "expiration": _rfc3339(expires),
        }

    def stop_watch(self, channel: dict[str, Any]) -> None:
        """channels.stop; an unknown channel counts as stopped."""
        resp = self._call(
            "POST",
            f"{self.base}/channels/stop",
            json={"id": channel.get("id"), "resourceId": channel.get("resourceId")},
        )
        if resp.ok or resp.status_code == 404:
            return
        self._raise(resp, "closing a push channel")

    def parse_notification(
        self, headers: dict[str, str], body: bytes, query: dict[str, str]
    ) -> Notification:
        """Read X-Goog-* headers; a channel we did not open is refused."""
        h = {k.lower(): v for k, v in headers.items()}
        channel_id = h.get("x-goog-channel-id")
        state = h.get("x-goog-resource-state")
        if not channel_id or not state:
            raise RejectedError(
                "not a Google Calendar push notification (X-Goog-Channel-ID missing)"
            )
        if self.channel and self.channel.get("id") not in (None, channel_id):
            raise RejectedError(
                f"push channel {channel_id} is not this integration's current channel"
            )
        return Notification(
            integration_id=None,
            channel_id=channel_id,
            resource_state=state,
            token=h.get("x-goog-channel-token", ""),
        )
