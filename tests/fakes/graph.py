"""A Microsoft Graph v1.0 simulator: calendar events, calendarView delta, subscriptions, OAuth.

Enforced contract (per learn.microsoft.com/graph): Bearer tokens (401 InvalidAuthenticationToken
when missing or expired), the token endpoint (``invalid_grant`` once revoked), required event
fields (400), ``transactionId`` de-duplication (same content → the existing event; different or
deleted → 409 ErrorDuplicateTransactionId), delta rounds with ``$skiptoken`` pages and a
``$deltatoken`` cursor, ``@removed`` items, 410 SyncStateNotFound for forgotten tokens,
subscription creation that validates the notification URL (``validationToken`` echoed as
text/plain within 10 s) and change notifications carrying ``clientState``.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from flask import Response, jsonify, redirect, request

from tests.fakes.base import FakeServer, OAuthTokens, bearer, json_error, token_form

PROP_RE = re.compile(r"ep/id eq '([^']+)' and ep/value eq '((?:[^']|'')*)'")
MAX_SUB_MINUTES = 4230


def _err(status: int, code: str, message: str) -> Response:
    return json_error(status, {"error": {"code": code, "message": message}})


def _parse_dt(value: Any) -> datetime | None:
    if not isinstance(value, dict) or not value.get("dateTime") or not value.get("timeZone"):
        return None
    text = str(value["dateTime"]).split(".")[0].replace("Z", "")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value["timeZone"] != "UTC":
        from zoneinfo import ZoneInfo

        dt = dt.replace(tzinfo=ZoneInfo(value["timeZone"]))
    return dt.replace(tzinfo=dt.tzinfo or UTC).astimezone(UTC)


def _fmt(dt: datetime) -> dict[str, str]:
    return {"dateTime": dt.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


class GraphFake(FakeServer):
    """One mailbox with named calendars; see module docstring for the contract."""

    def __init__(self) -> None:
        super().__init__("graph-fake")
        self.tokens = OAuthTokens()
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {"calendar": {}}
        self.seq = 0
        self.tombstones: dict[str, tuple[str, int]] = {}  # event id -> (calendar, seq)
        self.transactions: dict[str, str] = {}  # transactionId -> event id
        self.delta_states: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.notifications_sent: list[dict[str, Any]] = []
        self.require_https = False
        self.page_size = 10
        self._routes()

    # -- test-side helpers -----------------------------------------------------------------

    def add_calendar(self, cal_id: str) -> None:
        """A calendar the user owns."""
        self.calendars.setdefault(cal_id, {})

    def events(self, cal_id: str) -> list[dict[str, Any]]:
        """Live events of a calendar."""
        with self.lock:
            return [dict(e) for e in self.calendars[cal_id].values()]

    def user_create(
        self, cal_id: str, subject: str, start: datetime, end: datetime, **kw: Any
    ) -> str:
        """The user adds an event in Outlook."""
        body = {"subject": subject, "start": _fmt(start), "end": _fmt(end), **kw}
        with self.lock:
            eid = self._store_new(cal_id, body)["id"]
        self._notify(cal_id, eid, "created")
        return eid

    def user_update(self, event_id: str, **fields: Any) -> None:
        """The user edits an event in Outlook (start/end as datetimes allowed)."""
        for k in ("start", "end"):
            if isinstance(fields.get(k), datetime):
                fields[k] = _fmt(fields[k])
        with self.lock:
            cal, ev = self._locate(event_id)
            assert ev is not None, event_id
            self._apply(ev, fields)
        self._notify(cal, event_id, "updated")

    def user_delete(self, event_id: str) -> None:
        """The user deletes an event in Outlook."""
        with self.lock:
            cal, _ = self._locate(event_id)
            assert cal is not None
            self._remove(cal, event_id)
        self._notify(cal, event_id, "deleted")

    def forget_delta_tokens(self) -> None:
        """Every outstanding delta/skip token becomes unknown (next use answers 410)."""
        with self.lock:
            self.delta_states.clear()

    # -- internals -------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _locate(self, event_id: str) -> tuple[str | None, dict[str, Any] | None]:
        for cal, evs in self.calendars.items():
            if event_id in evs:
                return cal, evs[event_id]
        return None, None

    def _apply(self, ev: dict[str, Any], body: dict[str, Any]) -> None:
        for key in (
            "subject",
            "body",
            "start",
            "end",
            "location",
            "showAs",
            "isAllDay",
            "isReminderOn",
            "categories",
            "singleValueExtendedProperties",
            "isCancelled",
            "recurrence",
        ):
            if key in body:
                ev[key] = body[key]
        ev["_seq"] = self._next_seq()
        ev["changeKey"] = secrets.token_hex(8)
        ev["@odata.etag"] = f'W/"{ev["changeKey"]}"'
        ev["lastModifiedDateTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _store_new(self, cal: str, body: dict[str, Any]) -> dict[str, Any]:
        eid = "AAMk" + secrets.token_urlsafe(24)
        ev: dict[str, Any] = {"id": eid, "showAs": "busy", "isAllDay": False, "isCancelled": False}
        if body.get("transactionId"):
            ev["transactionId"] = body["transactionId"]
        self._apply(ev, body)
        self.calendars[cal][eid] = ev
        return ev

    def _remove(self, cal: str, eid: str) -> None:
        del self.calendars[cal][eid]
        self.tombstones[eid] = (cal, self._next_seq())

    def _public(self, ev: dict[str, Any], expand_props: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in ev.items() if not k.startswith("_")}
        if not expand_props:
            out.pop("singleValueExtendedProperties", None)
        return out

    def _auth(self) -> Response | None:
        token = bearer(request.headers.get("Authorization"))
        if not self.tokens.valid(token):
            return _err(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid."
                if token
                else "Access token is empty.",
            )
        return None

    def _cal(self, cal: str | None) -> str | None:
        cal = cal or "calendar"
        return cal if cal in self.calendars else None

    def error_response(self, status: int, retry_after: float | None = None) -> Response:
        code = {429: "TooManyRequests", 503: "ServiceNotAvailable"}.get(status, "generalException")
        return _err(status, code, "injected fault")

    def _in_window(self, ev: dict[str, Any], start: datetime, end: datetime) -> bool:
        s, e = _parse_dt(ev.get("start")), _parse_dt(ev.get("end"))
        return bool(s and e and s < end and e > start)

    def _notify(self, cal: str | None, eid: str, change: str) -> None:
        subs = [s for s in self.subscriptions.values() if s["_cal"] == cal]
        for sub in subs:
            if change not in sub["changeType"].split(","):
                continue
            payload = {
                "value": [
                    {
                        "subscriptionId": sub["id"],
                        "subscriptionExpirationDateTime": sub["expirationDateTime"],
                        "changeType": change,
                        "resource": f"Users/fake-user/Events/{eid}",
                        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": eid},
                        "clientState": sub.get("clientState"),
                        "tenantId": "fake-tenant",
                    }
                ]
            }
            self.notifications_sent.append(payload)
            threading.Thread(
                target=self._deliver, args=(sub["notificationUrl"], payload), daemon=True
            ).start()

    @staticmethod
    def _deliver(url: str, payload: dict[str, Any]) -> None:
        try:
            requests.post(url, json=payload, timeout=10)
        except requests.RequestException:
            pass  # Graph retries for a while, then drops; the hub's reconciliation catches up

    # -- routes ----------------------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app
        user = "/v1.0/me"

        @app.post("/<tenant>/oauth2/v2.0/token")
        def token(tenant: str) -> Response:
            status, body = self.tokens.refresh(token_form())
            return json_error(status, body) if status != 200 else jsonify(body)

        @app.get("/<tenant>/oauth2/v2.0/authorize")
        def authorize(tenant: str) -> Response:
            # The user signs in and consents at once (a browser test needs no clicking).
            status, where = self.tokens.authorize(request.args.to_dict())
            return redirect(where) if status == 302 else Response(where, status=status)

        def cal_routes(prefix: str, cal_part: str, tag: str) -> None:
            def get_cal(kw: dict[str, Any]) -> str | None:
                return self._cal(kw.get("cal"))

            @app.post(f"{prefix}{cal_part}/events", endpoint=f"create_{tag}")
            def create(**kw: Any) -> Response:
                if (r := self._auth()) is not None:
                    return r
                cal = get_cal(kw)
                if cal is None:
                    return _err(
                        404, "ErrorItemNotFound", "The specified object was not found in the store."
                    )
                body = request.get_json(silent=True)
                if not isinstance(body, dict):
                    return _err(400, "BadRequest", "Empty Payload. JSON content expected.")
                start, end = _parse_dt(body.get("start")), _parse_dt(body.get("end"))
                if start is None or end is None:
                    return _err(
                        400,
                        "ErrorInvalidRequest",
                        "start and end with dateTime and timeZone are required.",
                    )
                if end < start:
                    return _err(
                        400, "ErrorInvalidRequest", "The end of the event must be after its start."
                    )
                with self.lock:
                    tx = body.get("transactionId")
                    if tx and tx in self.transactions:
                        _c, prior = self._locate(self.transactions[tx])
                        same = prior is not None and all(
                            prior.get(k) == body.get(k) for k in ("subject", "start", "end")
                        )
                        if not same:
                            return _err(
                                409,
                                "ErrorDuplicateTransactionId",
                                "Your request can't be completed. The TransactionId specified in the request has already been used to create a different event.",
                            )
                        return self._created(prior)
                    ev = self._store_new(cal, body)
                    if tx:
                        self.transactions[tx] = ev["id"]
                self._notify(cal, ev["id"], "created")
                return self._created(ev)

            @app.get(f"{prefix}{cal_part}/events", endpoint=f"list_{tag}")
            def list_events(**kw: Any) -> Response:
                if (r := self._auth()) is not None:
                    return r
                cal = get_cal(kw)
                if cal is None:
                    return _err(
                        404, "ErrorItemNotFound", "The specified object was not found in the store."
                    )
                flt = request.args.get("$filter")
                with self.lock:
                    items = list(self.calendars[cal].values())
                    if flt:
                        m = PROP_RE.search(flt)
                        if not m:
                            return _err(400, "BadRequest", "Unsupported $filter.")
                        pid, val = m.group(1), m.group(2).replace("''", "'")
                        items = [
                            e
                            for e in items
                            if any(
                                p.get("id", "").lower() == pid.lower() and p.get("value") == val
                                for p in e.get("singleValueExtendedProperties") or []
                            )
                        ]
                    return jsonify({"value": [self._public(e) for e in items]})

            @app.get(f"{prefix}{cal_part}/calendarView/delta", endpoint=f"delta_{tag}")
            def delta(**kw: Any) -> Response:
                if (r := self._auth()) is not None:
                    return r
                cal = get_cal(kw)
                if cal is None:
                    return _err(
                        404, "ErrorItemNotFound", "The specified object was not found in the store."
                    )
                return self._delta(cal)

        cal_routes(user, "/calendars/<cal>", "me_cal")
        cal_routes(user, "/calendar", "me_default")
        cal_routes("/v1.0/users/<uid>", "/calendars/<cal>", "user_cal")
        cal_routes("/v1.0/users/<uid>", "/calendar", "user_default")

        def event_routes(prefix: str, tag: str) -> None:
            @app.patch(f"{prefix}/events/<eid>", endpoint=f"patch{tag}")
            def patch(eid: str, **kw: Any) -> Response:
                if (r := self._auth()) is not None:
                    return r
                body = request.get_json(silent=True)
                if not isinstance(body, dict):
                    return _err(400, "BadRequest", "Empty Payload. JSON content expected.")
                if "transactionId" in body:
                    return _err(400, "ErrorInvalidRequest", "transactionId cannot be changed.")
                for k in ("start", "end"):
                    if k in body and _parse_dt(body[k]) is None:
                        return _err(400, "ErrorInvalidRequest", f"{k} needs dateTime and timeZone.")
                with self.lock:
                    cal, ev = self._locate(eid)
                    if ev is None:
                        return _err(
                            404,
                            "ErrorItemNotFound",
                            "The specified object was not found in the store.",
                        )
                    match = request.headers.get("If-Match")
                    if match and match != ev["@odata.etag"]:
                        return _err(
                            412, "ErrorIrresolvableConflict", "The change key does not match."
                        )
                    self._apply(ev, body)
                    out = self._public(ev)
                self._notify(cal, eid, "updated")
                return jsonify(out)

            @app.delete(f"{prefix}/events/<eid>", endpoint=f"delete{tag}")
            def delete(eid: str, **kw: Any) -> Response:
                if (r := self._auth()) is not None:
                    return r
                with self.lock:
                    cal, ev = self._locate(eid)
                    if ev is None:
                        return _err(
                            404,
                            "ErrorItemNotFound",
                            "The specified object was not found in the store.",
                        )
                    self._remove(cal, eid)  # type: ignore[arg-type]
                self._notify(cal, eid, "deleted")
                return Response(status=204)

        event_routes(user, "me")
        event_routes("/v1.0/users/<uid>", "users")

        @app.post("/v1.0/subscriptions")
        def create_subscription() -> Response:
            if (r := self._auth()) is not None:
                return r
            body = request.get_json(silent=True) or {}
            for key in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
                if not body.get(key):
                    return _err(400, "InvalidRequest", f"{key} is required.")
            url = body["notificationUrl"]
            if self.require_https and not url.startswith("https://"):
                return _err(400, "InvalidRequest", "The Url must be https.")
            m = re.fullmatch(
                r"(?:me|users/[^/]+)/(?:calendars/([^/]+)|calendar)/events", body["resource"]
            )
            if not m or self._cal(m.group(1)) is None:
                return _err(400, "InvalidRequest", f"Unsupported resource {body['resource']!r}.")
            try:
                exp = datetime.fromisoformat(
                    body["expirationDateTime"].split(".")[0].replace("Z", "")
                ).replace(tzinfo=UTC)
            except ValueError:
                return _err(400, "InvalidRequest", "expirationDateTime is not a date.")
            if exp > datetime.now(UTC) + timedelta(minutes=MAX_SUB_MINUTES, seconds=30):
                return _err(
                    400,
                    "InvalidRequest",
                    "Subscription expiration can only be 4230 minutes in the future.",
                )
            if len(body.get("clientState") or "") > 128:
                return _err(400, "InvalidRequest", "clientState is longer than 128 characters.")
            urls = {url, body.get("lifecycleNotificationUrl") or url}
            if not all(self._validate_endpoint(u) for u in urls):
                return _err(
                    400,
                    "InvalidRequest",
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                )
            sub = {
                "id": secrets.token_hex(16),
                "resource": body["resource"],
                "changeType": body["changeType"],
                "notificationUrl": url,
                "expirationDateTime": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "clientState": body.get("clientState"),
                "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
                "_cal": self._cal(m.group(1)),
            }
            with self.lock:
                self.subscriptions[sub["id"]] = sub
            resp = jsonify({k: v for k, v in sub.items() if not k.startswith("_")})
            resp.status_code = 201
            return resp

        @app.patch("/v1.0/subscriptions/<sid>")
        def renew_subscription(sid: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            sub = self.subscriptions.get(sid)
            if sub is None:
                return _err(404, "ResourceNotFound", "The object was not found.")
            body = request.get_json(silent=True) or {}
            if not body.get("expirationDateTime"):
                return _err(400, "InvalidRequest", "expirationDateTime is required.")
            sub["expirationDateTime"] = body["expirationDateTime"]
            return jsonify({k: v for k, v in sub.items() if not k.startswith("_")})

        @app.delete("/v1.0/subscriptions/<sid>")
        def delete_subscription(sid: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            if self.subscriptions.pop(sid, None) is None:
                return _err(404, "ResourceNotFound", "The object was not found.")
            return Response(status=204)

    def _created(self, ev: dict[str, Any]) -> Response:
        resp = jsonify(self._public(ev))
        resp.status_code = 201
        return resp

    def _validate_endpoint(self, url: str) -> bool:
        token = "Validation: Testing client application reachability " + secrets.token_hex(6)
        try:
            resp = requests.post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain"},
                timeout=10,
            )
        except requests.RequestException:
            return False
        return (
            resp.status_code == 200
            and resp.headers.get("Content-Type", "").startswith("text/plain")
            and resp.text == token
        )

    def _delta(self, cal: str) -> Response:
        args = request.args
        page = self.page_size
        m = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("Prefer", ""))
        if m:
            page = min(int(m.group(1)), 1000)
        with self.lock:
            if "$skiptoken" in args or "$deltatoken" in args:
                key = args.get("$skiptoken") or args.get("$deltatoken")
                state = self.delta_states.get(key or "")
                if state is None or state["cal"] != cal:
                    return _err(
                        410,
                        "SyncStateNotFound",
                        "The sync state generation is not found. Resync required.",
                    )
                if "$deltatoken" in args:
                    state = self._new_round(cal, state["start"], state["end"], since=state["seq"])
            else:
                try:
                    start = datetime.fromisoformat(args["startDateTime"].replace("Z", "+00:00"))
                    end = datetime.fromisoformat(args["endDateTime"].replace("Z", "+00:00"))
                except (KeyError, ValueError):
                    return _err(
                        400,
                        "ErrorInvalidParameter",
                        "startDateTime and endDateTime are required ISO 8601 values.",
                    )
                state = self._new_round(cal, start.astimezone(UTC), end.astimezone(UTC), since=None)
            items = state["items"][state["offset"] : state["offset"] + page]
            state["offset"] += len(items)
            body: dict[str, Any] = {"value": items}
            base = request.base_url
            if state["offset"] < len(state["items"]):
                tok = secrets.token_urlsafe(16)
                self.delta_states[tok] = state
                body["@odata.nextLink"] = f"{base}?$skiptoken={tok}"
            else:
                tok = secrets.token_urlsafe(16)
                self.delta_states[tok] = {
                    "cal": cal,
                    "start": state["start"],
                    "end": state["end"],
                    "seq": state["seq"],
                }
                body["@odata.deltaLink"] = f"{base}?$deltatoken={tok}"
        return jsonify(body)

    def _new_round(
        self, cal: str, start: datetime, end: datetime, since: int | None
    ) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        for ev in self.calendars[cal].values():
            if since is not None and ev["_seq"] <= since:
                continue
            if self._in_window(ev, start, end):
                items.append(self._public(ev))
            elif since is not None:  # moved out of the window: gone from this view
                items.append({"id": ev["id"], "@removed": {"reason": "deleted"}})
        if since is not None:
            for eid, (c, seq) in self.tombstones.items():
                if c == cal and seq > since:
                    items.append({"id": eid, "@removed": {"reason": "deleted"}})
        return {
            "cal": cal,
            "start": start,
            "end": end,
            "seq": self.seq,
            "items": items,
            "offset": 0,
        }
