"""Microsoft Graph v1.0 connector (Microsoft 365 and Outlook.com calendars).

- Push: events on one chosen calendar; creation carries a deterministic ``transactionId`` so a
  retried POST returns the event the first attempt made instead of a duplicate; our id also
  rides in a single-value extended property so it can be looked up with ``$filter``.
- Pull: delta queries on ``calendarView/delta`` over a moving window (``@odata.nextLink``
  paging, ``@odata.deltaLink`` cursor, ``@removed`` deletions); 410 ``syncStateNotFound`` /
  ``resyncRequired`` starts a full round.
- Watch: change-notification subscriptions (clientState, renewal by PATCH before expiry), the
  ``validationToken`` handshake answered in plain text without any I/O.

Settings — ``config``: ``calendarId`` (a calendar id; absent or "primary" = the default
calendar), ``userId`` (use ``/users/{id}`` instead of ``/me``, for application permissions),
``baseUrl`` (default https://graph.microsoft.com/v1.0), ``tokenUrl`` (default
https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token), ``tenant`` (default "common"),
``scope`` (sent on refresh, e.g. "offline_access Calendars.ReadWrite"), ``windowPastDays`` (30),
``windowFutureDays`` (365), ``windowRefreshDays`` (7: start a new delta round so the window
follows today), ``pageSize`` (100), ``subscriptionMinutes`` (≤ 4230), ``categories`` (list),
``channel`` (what :meth:`watch` returned, to verify notifications) or ``clientState``,
``integrationId`` (echoed in Notification). ``credentials``: ``accessToken``, ``refreshToken``,
``expiresAt`` (epoch seconds or ISO 8601), ``clientId``, ``clientSecret``.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.providers.base import (
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
from hub.providers.support import raise_for

DEFAULT_BASE = "https://graph.microsoft.com/v1.0"
DEFAULT_TOKEN = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
# Our id lives in this single-value extended property (a stable, calhub-owned GUID namespace).
PROP_ID = "String {8b0c2e4a-6c1d-4f3e-9a57-3c6d0f1e2b9a} Name calhubId"
TX_PREFIX = "calhub:"
# Outlook event subscriptions live at most 4230 minutes (just under three days).
MAX_SUBSCRIPTION_MINUTES = 4230


def _graph_time(dt: datetime) -> dict[str, str]:
    return {"dateTime": dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _parse_graph_time(value: dict[str, Any] | None) -> datetime | None:
    if not value or not value.get("dateTime"):
        return None
    text = str(value["dateTime"])
    if "." in text:  # Graph sends 7 fractional digits; Python takes at most 6
        head, frac = text.split(".", 1)
        text = head + "." + frac[:6].ljust(6, "0")
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        tzname = value.get("timeZone") or "UTC"
        try:
            tz: Any = UTC if tzname in ("UTC", "tzone://Microsoft/Utc") else ZoneInfo(tzname)
        except (ZoneInfoNotFoundError, ValueError):
            tz = UTC  # Windows zone names: we ask for UTC via Prefer, so this is a fallback
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def _iso_utc(graph_time: str) -> str:
    """Graph's ``2026-01-01T10:00:00.0000000Z`` as plain ISO 8601 UTC (the engine's form)."""
    return str(graph_time).split(".")[0].rstrip("Z") + "Z"


GRAPH_DAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}


def patterned_recurrence(event: OutboundEvent) -> dict[str, Any] | None:
    """Graph's patternedRecurrence for the event's RRULE, or None when Graph cannot say it.

    Covers DAILY, WEEKLY (BYDAY), MONTHLY (one BYMONTHDAY) with INTERVAL, COUNT or UNTIL.
    """
    if not event.rrule:
        return None
    parts = dict(p.split("=", 1) for p in event.rrule.upper().split(";") if "=" in p)
    known = {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "BYMONTHDAY", "WKST"}
    if set(parts) - known:
        return None
    tz = ZoneInfo(event.timezone)
    local_start = event.start.astimezone(tz)
    interval = int(parts.get("INTERVAL", "1"))
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    if any(d not in GRAPH_DAYS for d in days):
        return None  # ordinal BYDAY (e.g. 2MO) is a relative pattern: not covered
    freq = parts.get("FREQ")
    pattern: dict[str, Any]
    if freq == "DAILY" and not days and "BYMONTHDAY" not in parts:
        pattern = {"type": "daily", "interval": interval}
    elif (freq == "WEEKLY" or (freq == "DAILY" and interval == 1)) and "BYMONTHDAY" not in parts:
        weekday = list(GRAPH_DAYS)[local_start.weekday()]
        pattern = {
            "type": "weekly",
            "interval": interval if freq == "WEEKLY" else 1,
            "daysOfWeek": [GRAPH_DAYS[d] for d in (days or [weekday])],
            "firstDayOfWeek": GRAPH_DAYS.get(parts.get("WKST", "MO"), "monday"),
        }
    elif freq == "MONTHLY" and not days and parts.get("BYMONTHDAY", "").isdigit():
        pattern = {
            "type": "absoluteMonthly",
            "interval": interval,
            "dayOfMonth": int(parts["BYMONTHDAY"]),
        }
    elif freq == "MONTHLY" and not days and "BYMONTHDAY" not in parts:
        pattern = {"type": "absoluteMonthly", "interval": interval, "dayOfMonth": local_start.day}
    else:
        return None
    rng: dict[str, Any] = {
        "startDate": local_start.date().isoformat(),
        "recurrenceTimeZone": event.timezone,
    }
    if "COUNT" in parts:
        rng.update(type="numbered", numberOfOccurrences=int(parts["COUNT"]))
    elif "UNTIL" in parts:
        raw = parts["UNTIL"]
        until = (
            datetime.strptime(raw[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC).astimezone(tz)
            if "T" in raw
            else datetime.strptime(raw[:8], "%Y%m%d")
        )
        rng.update(type="endDate", endDate=until.date().isoformat())
    else:
        rng["type"] = "noEnd"
    return {"pattern": pattern, "range": rng}


class _SyncStateGone(Exception):
    """410 on a delta/skip token: start a new round."""


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MicrosoftConnector(Connector):
    """Microsoft Graph calendar connector."""

    name: ClassVar[str] = "microsoft"
    auth_scheme: ClassVar[str] = "oauth2"
    capabilities: ClassVar[Capability] = (
        Capability.PUSH | Capability.PULL | Capability.WATCH | Capability.WEBHOOK
    )
    # The browser connect flow (/oauth/microsoft/start); config authorizeUrl/tokenUrl override
    # these for a single-tenant app (login.microsoftonline.com/<tenant>/…).
    oauth_authorize_url: ClassVar[str | None] = (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    oauth_token_url: ClassVar[str | None] = DEFAULT_TOKEN.replace("{tenant}", "common")
    oauth_scopes: ClassVar[tuple[str, ...]] = (
        "offline_access",
        "https://graph.microsoft.com/Calendars.ReadWrite",
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        cfg = self.config
        self.base = str(cfg.get("baseUrl") or DEFAULT_BASE).rstrip("/")
        user = cfg.get("userId")
        self.user_path = f"/users/{quote(str(user), safe='@')}" if user else "/me"
        cal = cfg.get("calendarId")
        self.calendar_path = (
            f"{self.user_path}/calendars/{quote(str(cal), safe='')}"
            if cal and cal != "primary"
            else f"{self.user_path}/calendar"
        )
        token_url = str(cfg.get("tokenUrl") or DEFAULT_TOKEN).replace(
            "{tenant}", str(cfg.get("tenant") or "common")
        )
        extra = {"scope": str(cfg["scope"])} if cfg.get("scope") else {}
        self.oauth = OAuth2Client(
            self.http,
            token_url,
            self.credentials,
            self.save_credentials,
            label="Microsoft",
            config=cfg,
            extra_form=extra,
        )
        self.page_size = int(cfg.get("pageSize") or 100)

    # -- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, path_or_url: str, what: str, **kw: Any) -> Any:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        headers = {
            "Prefer": f'outlook.timezone="UTC", odata.maxpagesize={self.page_size}',
            **kw.pop("headers", {}),
        }
        resp = self.oauth.request(method, url, what, headers=headers, **kw)
        return resp

    # -- push ------------------------------------------------------------------------------

    def _body(self, event: OutboundEvent) -> dict[str, Any]:
        subject = event.summary
        show_as = "busy" if event.busy else "free"
        if event.status == "tentative":
            show_as = "tentative"
        if event.status == "cancelled":
            subject, show_as = f"Cancelled: {event.summary}", "free"
        body: dict[str, Any] = {
            "subject": subject,
            "body": {"contentType": "text", "content": event.description or ""},
            "start": _graph_time(event.start),
            "end": _graph_time(event.end),
            "isAllDay": False,
            "showAs": show_as,
            "isReminderOn": False,
            "location": {"displayName": event.location or ""},
            "singleValueExtendedProperties": [
                {"id": PROP_ID, "value": f"{event.entity}:{event.entity_id}"}
            ],
        }
        categories = self.config.get("categories")
        if categories:
            body["categories"] = list(categories)
        if event.entity == "shift":
            recurrence = patterned_recurrence(event)
            body["recurrence"] = recurrence  # None removes a dropped rule
            if recurrence is not None:  # expanded in local time: start/end in the same zone
                tz = ZoneInfo(event.timezone)
                for key, when in (("start", event.start), ("end", event.end)):
                    local = when.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")
                    body[key] = {"dateTime": local, "timeZone": event.timezone}
        return body

    def supports(self, event: OutboundEvent) -> bool:
        """Recurring events whose rule Graph's patterns express, without left-out dates.

        (Graph leaves occurrences out only by deleting instances one by one: not done here.)
        """
        return event.rrule is None or (
            not event.exdates and patterned_recurrence(event) is not None
        )

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        """Create (idempotently, via transactionId) or update the Graph event."""
        body = self._body(event)
        if existing is not None:
            try:
                return self._patch(existing.remote_id, body)
            except NotFoundError:
                pass  # deleted remotely: put it back as a new event below
        return self._create(event, body)

    def _patch(self, remote_id: str, body: dict[str, Any]) -> PushResult:
        resp = self._call(
            "PATCH",
            f"{self.user_path}/events/{quote(remote_id, safe='')}",
            "update event",
            json=body,
        )
        raise_for(resp, "update event")
        data = resp.json()
        return PushResult(remote_id=data["id"], etag=data.get("@odata.etag"))

    def _create(self, event: OutboundEvent, body: dict[str, Any]) -> PushResult:
        tx = f"{TX_PREFIX}{event.entity}:{event.entity_id}"
        for attempt in range(3):
            payload = {**body, "transactionId": tx}
            resp = self._call("POST", f"{self.calendar_path}/events", "create event", json=payload)
            if resp.status_code == 409 and "DuplicateTransactionId" in resp.text:
                # The id was used before: for this very event (then update it), or for one
                # since deleted (then create under a fresh id tied to this version).
                found = self._find_ours(event)
                if found:
                    return self._patch(found, body)
                tx = f"{TX_PREFIX}{event.entity}:{event.entity_id}:v{event.version}.{attempt}"
                continue
            raise_for(resp, "create event", object_call=False)
            data = resp.json()
            return PushResult(remote_id=data["id"], etag=data.get("@odata.etag"))
        raise RejectedError("create event: Graph kept refusing the transactionId")

    def _find_ours(self, event: OutboundEvent) -> str | None:
        value = f"{event.entity}:{event.entity_id}".replace("'", "''")
        flt = (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP_ID}' and ep/value eq '{value}')"
        )
        resp = self._call(
            "GET", f"{self.calendar_path}/events", "find event", params={"$filter": flt}
        )
        raise_for(resp, "find event", object_call=False)
        items = resp.json().get("value", [])
        return items[0]["id"] if items else None

    def delete(self, ref: RemoteRef) -> None:
        """Delete the event; an already-missing one counts as deleted."""
        resp = self._call(
            "DELETE", f"{self.user_path}/events/{quote(ref.remote_id, safe='')}", "delete event"
        )
        if resp.status_code in (404, 410):
            return
        raise_for(resp, "delete event")

    # -- pull ------------------------------------------------------------------------------

    def _window(self) -> tuple[datetime, datetime]:
        now = datetime.now(UTC).replace(microsecond=0)
        past = float(self.config.get("windowPastDays", 30))
        future = float(self.config.get("windowFutureDays", 365))
        return now - timedelta(days=past), now + timedelta(days=future)

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        """Changes since the delta link in ``cursor``; a full round when there is none."""
        link = cursor.get("deltaLink") if cursor else None
        started = cursor.get("roundStartedAt") if cursor else None
        refresh_days = float(self.config.get("windowRefreshDays", 7))
        if link and started:
            age = datetime.now(UTC) - datetime.fromisoformat(started.replace("Z", "+00:00"))
            if age > timedelta(days=refresh_days):
                link = None  # the window has drifted: start a new round over today's window
        if link:
            try:
                return self._round(link, full=False, started=started)
            except _SyncStateGone:
                pass  # 410 syncStateNotFound / resyncRequired: the token is no good any more
        for _ in range(2):  # a full round's own skip tokens can expire mid-round too
            start, end = self._window()
            first = (
                f"{self.base}{self.calendar_path}/calendarView/delta?"
                f"startDateTime={_iso(start)}&endDateTime={_iso(end)}"
            )
            try:
                result = self._round(first, full=True, started=_iso(datetime.now(UTC)))
                result.window = (start, end)
                return result
            except _SyncStateGone:
                continue
        raise TransientError("delta query: the sync state kept expiring during a full round")

    def _round(self, url: str, *, full: bool, started: str | None) -> PullResult:
        changes: dict[str, RemoteEvent] = {}
        next_url: str | None = url
        delta_link: str | None = None
        while next_url:
            resp = self._call("GET", next_url, "delta query")
            if resp.status_code == 410:
                raise _SyncStateGone(resp.text[:200])
            raise_for(resp, "delta query", object_call=False)
            data = resp.json()
            for item in data.get("value", []):
                ev = self._remote(item)
                changes[ev.remote_id] = ev  # a later page wins for the same id
            next_url = data.get("@odata.nextLink")
            delta_link = data.get("@odata.deltaLink") or delta_link
        if not delta_link:
            raise RejectedError("delta query ended without an @odata.deltaLink")
        if full:
            changes = {k: v for k, v in changes.items() if not v.deleted}
        cursor = {
            "deltaLink": delta_link,
            "roundStartedAt": started,
            "syncedAt": _iso(datetime.now(UTC)),
        }
        return PullResult(changes=list(changes.values()), cursor=cursor, full=full)

    def _remote(self, item: dict[str, Any]) -> RemoteEvent:
        rid = item["id"]
        if "@removed" in item:
            return RemoteEvent(remote_id=rid, deleted=True, raw=item)
        entity = calhub_id = None
        tx = item.get("transactionId") or ""
        marker = tx[len(TX_PREFIX) :] if tx.startswith(TX_PREFIX) else None
        for prop in item.get("singleValueExtendedProperties") or []:
            if prop.get("id", "").lower() == PROP_ID.lower():
                marker = prop.get("value")
        if marker and ":" in marker:
            entity, calhub_id = marker.split(":")[:2]
        return RemoteEvent(
            remote_id=rid,
            # A cancelled foreign meeting blocks nobody; our own cancelled events stay visible.
            deleted=bool(item.get("isCancelled")) and calhub_id is None,
            etag=item.get("@odata.etag") or item.get("changeKey"),
            summary=item.get("subject") or "",
            start=_parse_graph_time(item.get("start")),
            end=_parse_graph_time(item.get("end")),
            all_day=bool(item.get("isAllDay")),
            busy=(item.get("showAs") or "busy") not in ("free", "workingElsewhere"),
            calhub_entity=entity,
            calhub_id=calhub_id,
            raw=item,
        )

    # -- watch -----------------------------------------------------------------------------

    def _resource(self) -> str:
        return f"{self.calendar_path.lstrip('/')}/events"

    def _expiry(self) -> str:
        minutes = min(
            float(self.config.get("subscriptionMinutes", MAX_SUBSCRIPTION_MINUTES)),
            MAX_SUBSCRIPTION_MINUTES,
        )
        return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime(
            "%Y-%m-%dT%H:%M:%S.0000000Z"
        )

    def watch(self, callback_url: str, token: str) -> dict[str, Any]:
        """Create a change-notification subscription (Graph validates the URL synchronously)."""
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": callback_url,
            "resource": self._resource(),
            "expirationDateTime": self._expiry(),
            "clientState": token,
        }
        if self.config.get("lifecycleNotifications", True):
            # reauthorizationRequired / subscriptionRemoved / missed arrive at the same
            # endpoint (parse_notification reports them as resource_state) so the engine
            # re-subscribes or pulls instead of silently going deaf.
            body["lifecycleNotificationUrl"] = callback_url
        resp = self._call("POST", "/subscriptions", "create subscription", json=body)
        raise_for(resp, "create subscription", object_call=False)
        data = resp.json()
        return {
            "id": data["id"],
            "token": token,
            "resource": data.get("resource", body["resource"]),
            "callbackUrl": callback_url,
            "expiresAt": data.get("expirationDateTime", body["expirationDateTime"]),
            "expiration": _iso_utc(data.get("expirationDateTime", body["expirationDateTime"])),
        }

    def renew_watch(self, channel: dict[str, Any]) -> dict[str, Any]:
        """Extend a subscription before it expires; NotFoundError means make a new one."""
        body = {"expirationDateTime": self._expiry()}
        resp = self._call(
            "PATCH",
            f"/subscriptions/{quote(channel['id'], safe='')}",
            "renew subscription",
            json=body,
        )
        raise_for(resp, "renew subscription")
        data = resp.json()
        expires = data.get("expirationDateTime", body["expirationDateTime"])
        return {**channel, "expiresAt": expires, "expiration": _iso_utc(expires)}

    def stop_watch(self, channel: dict[str, Any]) -> None:
        """Delete the subscription; a missing one is fine."""
        resp = self._call(
            "DELETE", f"/subscriptions/{quote(channel['id'], safe='')}", "delete subscription"
        )
        if resp.status_code in (404, 410):
            return
        raise_for(resp, "delete subscription")

    def parse_notification(
        self, headers: dict[str, str], body: bytes, query: dict[str, str]
    ) -> Notification:
        """The validationToken handshake, or a change notification with a verified clientState."""
        integration = self.config.get("integrationId")
        token = query.get("validationToken")
        if token is not None:
            # Must be echoed as text/plain within 10 s; no I/O happens on this path.
            return Notification(
                integration_id=integration,
                resource_state="handshake",
                reply=(200, "text/plain", token),
            )
        # The engine sets ``self.channel`` from what ``watch`` returned; config is the fallback.
        channel = self.channel or self.config.get("channel") or {}
        expected = channel.get("token") or self.config.get("clientState")
        if not expected:
            raise RejectedError("no clientState is configured for this subscription")
        try:
            items = json.loads(body or b"{}").get("value")
        except (ValueError, AttributeError) as e:
            raise RejectedError("notification body is not JSON") from e
        if not isinstance(items, list) or not items:
            raise RejectedError("notification carries no value[] items")
        states = []
        sub_id = None
        got = ""
        for item in items:
            got = str(item.get("clientState") or "")
            if not hmac.compare_digest(got.encode(), str(expected).encode()):
                raise RejectedError("clientState mismatch: notification not from our subscription")
            if channel.get("id") and item.get("subscriptionId") != channel["id"]:
                raise RejectedError("notification for an unknown subscription")
            sub_id = item.get("subscriptionId")
            states.append(item.get("changeType") or item.get("lifecycleEvent") or "changed")
        return Notification(
            integration_id=integration,
            channel_id=sub_id,
            resource_state=",".join(sorted(set(states))),
            reply=(202, "text/plain", ""),
            token=got,
        )
