"""A Google Calendar API v3 + OAuth 2 simulator: a real HTTP server on 127.0.0.1.

It enforces the documented contract calhub relies on (developers.google.com/calendar/api):
``Authorization: Bearer`` on every call (401 when missing or expired); events.insert with a
client-supplied id that must be base32hex (``[a-v0-9]``, 5–1024 characters) and unique (409
"duplicate", also for deleted events); start and end required; events.patch/get/delete (a second
delete answers 410); events.list with maxResults/pageToken paging, showDeleted, timeMin and
privateExtendedProperty, incremental sync with nextSyncToken on the last page and 410
"fullSyncRequired" for an invalid token (never combined with timeMin); events.watch web_hook
channels that POST X-Goog-* notifications on every change, channels.stop; the OAuth token endpoint
(authorization_code with PKCE S256, refresh_token, invalid_grant when revoked) and an
auto-consenting authorize endpoint. Faults: ``set_faults(share, kinds)`` fails that share of
calendar calls with 500, 429 (with Retry-After) or a timeout (the write happens, the answer is
late — exactly the case that tempts clients into duplicates).
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import re
import secrets
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Response, redirect, request

from tests.fakes.base import FakeServer

RECURRENCE_KINDS = ("RRULE", "EXRULE", "RDATE", "EXDATE")
ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
NO_SYNC_WITH = (
    "timeMin",
    "timeMax",
    "updatedMin",
    "orderBy",
    "q",
    "iCalUID",
    "privateExtendedProperty",
)


def _err(code: int, message: str, reason: str, status: str = "") -> Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "status": status,
        }
    }
    return Response(json.dumps(body), status=code, mimetype="application/json")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _instant(part: Any) -> datetime | None:
    if not isinstance(part, dict):
        return None
    try:
        if part.get("dateTime"):
            return datetime.fromisoformat(str(part["dateTime"]).replace("Z", "+00:00"))
        if part.get("date"):
            return datetime.strptime(part["date"], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return None


class GoogleCalendarSim(FakeServer):
    """See module docstring. ``url`` is the server root; ``base_url``/``token_url`` for config."""

    fault_only = ("/calendar/v3/",)  # the OAuth endpoints never fail on purpose

    def __init__(
        self, *, access_ttl: int = 3600, retry_after: int = 1, timeout_sleep: float = 0.6
    ) -> None:
        super().__init__("google-sim")
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {}
        self.counter = 0
        self.min_sync = 0
        self.access_ttl = access_ttl
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> client id
        self.clients: dict[str, str] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.deleted_calendars: set[str] = set()  # answer 404 for these (a calendar removed)
        self.retry_after = retry_after
        self.timeout_sleep = timeout_sleep
        self.writes = 0  # successful insert/patch/delete calls through the API
        self.api_calls: Counter[str] = Counter()  # "METHOD /route/rule" -> count
        self.notifications_sent = 0
        self._notify_q: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()
        self._notifier = threading.Thread(target=self._notify_loop, daemon=True)
        self._build_app()
        self.base_url = f"{self.url}/calendar/v3"
        self.token_url = f"{self.url}/token"
        self.authorize_url = f"{self.url}/o/oauth2/auth"

    # ---- lifecycle and knobs -------------------------------------------------------------------

    def start(self) -> GoogleCalendarSim:
        """Serve in background threads."""
        super().start()
        self._notifier.start()
        return self

    def stop(self) -> None:
        """Shut down."""
        self._notify_q.put(None)
        super().stop()

    def set_faults(self, share: float, kinds: tuple[str, ...] = ("500", "429", "timeout")) -> None:
        """Fail ``share`` of calendar API calls with one of ``kinds`` (seeded: runs repeat)."""
        self.fail_randomly(
            share,
            kinds,
            retry_after=self.retry_after,
            hang_seconds=self.timeout_sleep,
            seed=7,
        )

    def error_response(self, status: int, retry_after: float | None = None) -> Response:
        """Google's error body for an injected fault."""
        reasons = {500: "backendError", 429: "rateLimitExceeded", 400: "badRequest"}
        messages = {500: "Backend Error", 429: "Rate Limit Exceeded", 400: "Bad Request"}
        return _err(status, messages.get(status, "Error"), reasons.get(status, "error"))

    def add_client(self, client_id: str = "calhub-client", secret: str = "calhub-secret") -> None:
        """Register an OAuth client."""
        self.clients[client_id] = secret

    def grant(
        self, client_id: str = "calhub-client", *, expires_in: int | None = None
    ) -> dict[str, Any]:
        """Tokens as if a user had consented: the API's credentials shape."""
        self.add_client(client_id, self.clients.get(client_id, "calhub-secret"))
        access, refresh = self._issue(client_id)
        if expires_in is not None:
            self.access_tokens[access] = time.time() + expires_in
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "expiresAt": datetime.fromtimestamp(self.access_tokens[access], UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "clientId": client_id,
            "clientSecret": self.clients[client_id],
        }

    def revoke(self, refresh_token: str) -> None:
        """The user removed calhub's access: the refresh token and its access tokens stop working."""
        with self.lock:
            self.refresh_tokens.pop(refresh_token, None)
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Every access token expires now (refresh tokens stay valid)."""
        with self.lock:
            for k in self.access_tokens:
                self.access_tokens[k] = 0

    def invalidate_sync_tokens(self) -> None:
        """Make every sync token handed out so far answer 410 Gone."""
        with self.lock:
            self.min_sync = self.counter + 1

    def live_events(self, calendar: str) -> list[dict[str, Any]]:
        """Events not deleted, as stored."""
        with self.lock:
            return [
                dict(e)
                for e in self.calendars.get(calendar, {}).values()
                if e.get("status") != "cancelled"
            ]

    def user_create(
        self, calendar: str, summary: str, start: datetime, end: datetime, **extra: Any
    ) -> dict[str, Any]:
        """A person creates an event in Google's own UI."""
        with self.lock:
            eid = secrets.token_hex(10)
            ev = {
                "id": eid,
                "summary": summary,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
                **extra,
            }
            return self._store(calendar, ev, new=True)

    def user_update(self, calendar: str, event_id: str, **fields: Any) -> dict[str, Any]:
        """A person edits an event in Google's UI (e.g. drags it)."""
        with self.lock:
            ev = dict(self.calendars[calendar][event_id])
            ev.update(fields)
            return self._store(calendar, ev)

    def user_move(
        self, calendar: str, event_id: str, start: datetime, end: datetime
    ) -> dict[str, Any]:
        """A person moves an event."""
        return self.user_update(
            calendar,
            event_id,
            start={"dateTime": start.isoformat()},
            end={"dateTime": end.isoformat()},
        )

    def user_delete(self, calendar: str, event_id: str) -> None:
        """A person deletes an event."""
        with self.lock:
            ev = dict(self.calendars[calendar][event_id])
            ev["status"] = "cancelled"
            self._store(calendar, ev)

    # ---- internals ------------------------------------------------------------------------------

    def _issue(self, client_id: str) -> tuple[str, str]:
        access, refresh = "ya29." + secrets.token_urlsafe(24), "1//" + secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[access] = time.time() + self.access_ttl
            self.refresh_tokens[refresh] = client_id
        return access, refresh

    def _store(self, calendar: str, ev: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
        self.counter += 1
        now = _iso(_now())
        ev.setdefault("kind", "calendar#event")
        ev.setdefault("status", "confirmed")
        ev.setdefault("iCalUID", f"{ev['id']}@google.com")
        if new:
            ev["created"] = now
        ev["updated"] = now
        ev["etag"] = f'"{self.counter}{secrets.token_hex(2)}"'
        ev["_mod"] = self.counter
        self.calendars.setdefault(calendar, {})[ev["id"]] = ev
        self._notify(calendar)
        return self._public(ev)

    @staticmethod
    def _public(ev: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ev.items() if not k.startswith("_")}

    def _notify(self, calendar: str) -> None:
        for ch in list(self.channels.values()):
            if ch["calendar"] != calendar or ch["expiration"] < time.time() * 1000:
                continue
            ch["number"] += 1
            headers = {
                "X-Goog-Channel-ID": ch["id"],
                "X-Goog-Channel-Expiration": datetime.fromtimestamp(
                    ch["expiration"] / 1000, UTC
                ).strftime("%a, %d %b %Y %H:%M:%S GMT"),
                "X-Goog-Resource-ID": ch["resourceId"],
                "X-Goog-Resource-URI": f"{self.base_url}/calendars/{calendar}/events?alt=json",
                "X-Goog-Resource-State": "sync" if ch["number"] == 1 else "exists",
                "X-Goog-Message-Number": str(ch["number"]),
            }
            if ch.get("token"):
                headers["X-Goog-Channel-Token"] = ch["token"]
            self._notify_q.put((ch["address"], headers))

    def _notify_loop(self) -> None:
        session = requests.Session()
        while True:
            item = self._notify_q.get()
            if item is None:
                return
            url, headers = item
            try:
                session.post(url, headers=headers, data=b"", timeout=5)
                self.notifications_sent += 1
            except requests.RequestException:
                pass  # Google retries with backoff; the hub's reconciliation covers a lost one

    def _sync_token(self, calendar: str, counter: int) -> str:
        return base64.urlsafe_b64encode(f"sync:{calendar}:{counter}".encode()).decode()

    def _read_sync(self, calendar: str, token: str) -> int | None:
        try:
            kind, cal, n = base64.urlsafe_b64decode(token.encode()).decode().split(":", 2)
            value = int(n)
        except (ValueError, UnicodeDecodeError):
            return None
        if kind != "sync" or cal != calendar or value < self.min_sync:
            return None
        return value

    def _auth(self) -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        with self.lock:
            expiry = self.access_tokens.get(token.strip()) if scheme == "Bearer" else None
        if expiry is None or expiry < time.time():
            return _err(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "authError",
                "UNAUTHENTICATED",
            )
        return None

    # ---- the app --------------------------------------------------------------------------------

    def _build_app(self) -> None:
        app = self.app
        sim = self

        @app.before_request
        def guard() -> Response | None:
            if not request.path.startswith("/calendar/v3/"):
                return None
            sim.api_calls[
                f"{request.method} {request.url_rule.rule if request.url_rule else request.path}"
            ] += 1
            denied = sim._auth()
            if denied is not None:
                return denied
            if (request.view_args or {}).get("cal") in sim.deleted_calendars:
                return _err(404, "Not Found", "notFound")
            return None

        @app.post("/calendar/v3/calendars/<cal>/events")
        def insert(cal: str) -> Response:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return _err(400, "Parse Error", "parseError")
            if _instant(body.get("start")) is None:
                return _err(400, "Missing start time.", "required")
            if _instant(body.get("end")) is None:
                return _err(400, "Missing end time.", "required")
            if _instant(body["end"]) < _instant(body["start"]):
                return _err(400, "The specified time range is empty.", "timeRangeEmpty")
            if (bad := _bad_recurrence(body)) is not None:
                return bad
            with sim.lock:
                eid = body.get("id")
                if eid is not None:
                    if not isinstance(eid, str) or not ID_RE.match(eid):
                        return _err(400, "Invalid resource id value.", "invalid")
                    if eid in sim.calendars.get(cal, {}):
                        return _err(409, "The requested identifier already exists.", "duplicate")
                else:
                    eid = secrets.token_hex(13)
                ev = {k: v for k, v in body.items() if k not in ("etag", "updated", "created")}
                ev["id"] = eid
                sim.writes += 1
                return Response(
                    json.dumps(sim._store(cal, ev, new=True)), mimetype="application/json"
                )

        @app.get("/calendar/v3/calendars/<cal>/events/<eid>")
        def get(cal: str, eid: str) -> Response:
            with sim.lock:
                ev = sim.calendars.get(cal, {}).get(eid)
                if ev is None:
                    return _err(404, "Not Found", "notFound")
                return Response(json.dumps(sim._public(ev)), mimetype="application/json")

        @app.patch("/calendar/v3/calendars/<cal>/events/<eid>")
        def patch(cal: str, eid: str) -> Response:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return _err(400, "Parse Error", "parseError")
            with sim.lock:
                current = sim.calendars.get(cal, {}).get(eid)
                if current is None:
                    return _err(404, "Not Found", "notFound")
                if "iCalUID" in body and body["iCalUID"] != current.get("iCalUID"):
                    return _err(400, "Invalid iCalUID value: it cannot change.", "invalid")
                ev = dict(current)
                for k, v in body.items():
                    if k == "extendedProperties" and isinstance(v, dict):
                        ext = {
                            kk: dict(vv) for kk, vv in (ev.get("extendedProperties") or {}).items()
                        }
                        for scope, props in v.items():
                            ext.setdefault(scope, {}).update(props or {})
                        ev["extendedProperties"] = ext
                    elif k not in ("id", "etag", "updated", "created"):
                        ev[k] = v
                if _instant(ev.get("end")) is None or _instant(ev.get("start")) is None:
                    return _err(400, "Missing start or end time.", "required")
                if _instant(ev["end"]) < _instant(ev["start"]):
                    return _err(400, "The specified time range is empty.", "timeRangeEmpty")
                if current.get("status") == "cancelled" and "status" not in body:
                    ev["status"] = "confirmed"  # writing a deleted event brings it back
                sim.writes += 1
                return Response(json.dumps(sim._store(cal, ev)), mimetype="application/json")

        @app.delete("/calendar/v3/calendars/<cal>/events/<eid>")
        def remove(cal: str, eid: str) -> Response:
            with sim.lock:
                current = sim.calendars.get(cal, {}).get(eid)
                if current is None:
                    return _err(404, "Not Found", "notFound")
                if current.get("status") == "cancelled":
                    return _err(410, "Resource has been deleted", "deleted")
                ev = dict(current)
                ev["status"] = "cancelled"
                sim.writes += 1
                sim._store(cal, ev)
                return Response(status=204)

        @app.get("/calendar/v3/calendars/<cal>/events")
        def listing(cal: str) -> Response:
            args = request.args
            try:
                max_results = min(int(args.get("maxResults", 250)), 2500)
            except ValueError:
                return _err(400, "Invalid value for maxResults", "invalid")
            if max_results < 1:
                return _err(400, "Invalid value for maxResults", "invalid")
            sync = args.get("syncToken")
            if sync and any(k in args for k in NO_SYNC_WITH):
                return _err(400, "Sync token cannot be combined with these parameters.", "invalid")
            with sim.lock:
                since = None
                if sync:
                    since = sim._read_sync(cal, sync)
                    if since is None:
                        return _err(
                            410,
                            "Sync token is no longer valid, a full sync is required.",
                            "fullSyncRequired",
                        )
                page = args.get("pageToken")
                if page:
                    try:
                        state = json.loads(base64.urlsafe_b64decode(page.encode()))
                        offset, snapshot = int(state["o"]), int(state["s"])
                    except (ValueError, KeyError, TypeError):
                        return _err(400, "Invalid page token value.", "invalid")
                else:
                    offset, snapshot = 0, sim.counter
                show_deleted = args.get("showDeleted") == "true" or since is not None
                time_min = None
                if args.get("timeMin"):
                    time_min = datetime.fromisoformat(args["timeMin"].replace("Z", "+00:00"))
                prop = args.get("privateExtendedProperty")
                items = []
                for ev in sorted(sim.calendars.get(cal, {}).values(), key=lambda e: e["id"]):
                    if ev["_mod"] > snapshot:
                        continue  # changed after this listing began: the next sync brings it
                    if since is not None and ev["_mod"] <= since:
                        continue
                    if ev.get("status") == "cancelled" and not show_deleted:
                        continue
                    if time_min is not None and (_instant(ev.get("end")) or time_min) < time_min:
                        continue
                    if prop:
                        k, _, v = prop.partition("=")
                        if ((ev.get("extendedProperties") or {}).get("private") or {}).get(k) != v:
                            continue
                    items.append(sim._public(ev))
                chunk = items[offset : offset + max_results]
                out: dict[str, Any] = {"kind": "calendar#events", "summary": cal, "items": chunk}
                if offset + max_results < len(items):
                    out["nextPageToken"] = base64.urlsafe_b64encode(
                        json.dumps({"o": offset + max_results, "s": snapshot}).encode()
                    ).decode()
                else:
                    out["nextSyncToken"] = sim._sync_token(cal, snapshot)
                return Response(json.dumps(out), mimetype="application/json")

        @app.post("/calendar/v3/calendars/<cal>/events/watch")
        def watch(cal: str) -> Response:
            body = request.get_json(silent=True) or {}
            if not body.get("id") or body.get("type") != "web_hook" or not body.get("address"):
                return _err(400, "A channel needs id, type web_hook and address.", "required")
            with sim.lock:
                if body["id"] in sim.channels:
                    return _err(400, "Channel id not unique.", "channelIdNotUnique")
                ttl = int((body.get("params") or {}).get("ttl", 604800))
                ch = {
                    "id": body["id"],
                    "resourceId": secrets.token_urlsafe(12),
                    "address": body["address"],
                    "token": body.get("token"),
                    "expiration": int((time.time() + ttl) * 1000),
                    "calendar": cal,
                    "number": 0,
                }
                sim.channels[ch["id"]] = ch
                sim._notify(cal)  # the "sync" message that opens every channel
                return Response(
                    json.dumps(
                        {
                            "kind": "api#channel",
                            "id": ch["id"],
                            "resourceId": ch["resourceId"],
                            "resourceUri": f"{sim.base_url}/calendars/{cal}/events?alt=json",
                            "token": ch["token"],
                            "expiration": str(ch["expiration"]),
                        }
                    ),
                    mimetype="application/json",
                )

        @app.post("/calendar/v3/channels/stop")
        def stop_channel() -> Response:
            body = request.get_json(silent=True) or {}
            with sim.lock:
                ch = sim.channels.get(body.get("id", ""))
                if ch is None or ch["resourceId"] != body.get("resourceId"):
                    return _err(404, "Channel not found", "notFound")
                del sim.channels[ch["id"]]
            return Response(status=204)

        @app.get("/o/oauth2/auth")
        def authorize() -> Response:
            a = request.args
            if a.get("response_type") != "code" or a.get("client_id") not in sim.clients:
                return Response("invalid_client or response_type", status=400)
            if a.get("code_challenge_method") != "S256" or not a.get("code_challenge"):
                return Response("PKCE with S256 is required", status=400)
            code = secrets.token_urlsafe(16)
            sim.codes[code] = {
                "client_id": a["client_id"],
                "redirect_uri": a.get("redirect_uri"),
                "challenge": a["code_challenge"],
            }
            return redirect(
                f"{a['redirect_uri']}?{urlencode({'code': code, 'state': a.get('state', ''), 'scope': a.get('scope', '')})}"
            )

        @app.post("/token")
        def token() -> Response:
            form = request.form
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if request.authorization and request.authorization.type == "basic":
                client_id, secret = request.authorization.username, request.authorization.password
            if client_id not in sim.clients or sim.clients[client_id] != secret:
                return _oauth_err(401, "invalid_client", "The OAuth client was not found.")
            grant = form.get("grant_type")
            if grant == "refresh_token":
                with sim.lock:
                    owner = sim.refresh_tokens.get(form.get("refresh_token", ""))
                if owner != client_id:
                    return _oauth_err(400, "invalid_grant", "Token has been expired or revoked.")
                access, _ = sim._issue(client_id)
                return _token_json(access, None, sim.access_ttl)
            if grant == "authorization_code":
                entry = sim.codes.pop(form.get("code", ""), None)
                if (
                    entry is None
                    or entry["client_id"] != client_id
                    or entry["redirect_uri"] != form.get("redirect_uri")
                ):
                    return _oauth_err(400, "invalid_grant", "Malformed auth code.")
                verifier = form.get("code_verifier", "")
                digest = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                    .rstrip(b"=")
                    .decode()
                )
                if digest != entry["challenge"]:
                    return _oauth_err(400, "invalid_grant", "Invalid code verifier.")
                access, refresh = sim._issue(client_id)
                return _token_json(access, refresh, sim.access_ttl)
            return _oauth_err(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")


def _bad_recurrence(body: dict[str, Any]) -> Response | None:
    """Google's rules for ``recurrence``: RFC 5545 lines; a recurring event needs a timeZone."""
    rec = body.get("recurrence")
    if not rec:
        return None
    if not isinstance(rec, list) or not all(
        isinstance(x, str) and x.split(":", 1)[0].split(";", 1)[0] in RECURRENCE_KINDS for x in rec
    ):
        return _err(400, "Invalid recurrence rule.", "invalid")
    if not (body.get("start") or {}).get("timeZone"):
        return _err(400, "Missing time zone definition for start time.", "missingTimeZone")
    return None


def _oauth_err(status: int, error: str, description: str) -> Response:
    return Response(
        json.dumps({"error": error, "error_description": description}),
        status=status,
        mimetype="application/json",
    )


def _token_json(access: str, refresh: str | None, ttl: int) -> Response:
    body: dict[str, Any] = {
        "access_token": access,
        "expires_in": ttl,
        "token_type": "Bearer",
        "scope": "https://www.googleapis.com/auth/calendar.events",
    }
    if refresh:
        body["refresh_token"] = refresh
    return Response(json.dumps(body), mimetype="application/json")


def later(minutes: int) -> datetime:
    """Now plus ``minutes``, second precision (a helper for tests)."""
    return (_now() + timedelta(minutes=minutes)).replace(microsecond=0)
