"""A Zoho Calendar API simulator.

Enforced contract (zoho.com/calendar/help/api): ``Authorization: Zoho-oauthtoken <token>``
(401 INVALID_OAUTHTOKEN when missing/expired), the accounts token endpoint (refresh params in
the query; ``{"error": "invalid_code"}`` once revoked, as Zoho answers), ``eventdata`` JSON in
the query string with ``title``-less events allowed but ``dateandtime.start/end`` mandatory in
``yyyyMMdd'T'HHmmss'Z'``, updates needing the current ``etag`` in eventdata and deletions in an
``etag`` header (400 ETAG_MISMATCH when stale), listings needing ``range`` (≤ 31 days) or
``lastmodified``, descriptions only with ``Accept: application/json+large``.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, jsonify, request

from tests.fakes.base import FakeServer, OAuthTokens, bearer, json_error

ZFMT = "%Y%m%dT%H%M%SZ"


def _err(status: int, code: str, message: str) -> Response:
    return json_error(status, {"error": [{"code": code, "message": message}]})


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    for fmt in (ZFMT, "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


class ZohoFake(FakeServer):
    """One Zoho account with calendars; see module docstring for the contract."""

    def __init__(self) -> None:
        super().__init__("zoho-fake")
        self.tokens = OAuthTokens("1000.ZOHOCLIENT", "zoho-secret")
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {}
        self._routes()

    def add_calendar(self, uid: str | None = None) -> str:
        """A calendar; returns its uid."""
        uid = uid or secrets.token_urlsafe(16) + "=="
        self.calendars.setdefault(uid, {})
        return uid

    def events(self, cal: str) -> list[dict[str, Any]]:
        """Live events of a calendar."""
        with self.lock:
            return [dict(e) for e in self.calendars[cal].values()]

    def user_create(self, cal: str, title: str, start: datetime, end: datetime) -> str:
        """The user adds an event in Zoho Calendar."""
        with self.lock:
            return self._create(
                cal,
                {
                    "title": title,
                    "dateandtime": {
                        "timezone": "UTC",
                        "start": start.astimezone(UTC).strftime(ZFMT),
                        "end": end.astimezone(UTC).strftime(ZFMT),
                    },
                },
            )["uid"]

    def user_update(self, cal: str, uid: str, **fields: Any) -> None:
        """The user edits an event (``start``/``end`` datetimes, or other eventdata keys)."""
        with self.lock:
            ev = self.calendars[cal][uid]
            for k, v in fields.items():
                if k in ("start", "end"):
                    ev["dateandtime"][k] = v.astimezone(UTC).strftime(ZFMT)
                else:
                    ev[k] = v
            self._touch(ev)

    def user_delete(self, cal: str, uid: str) -> None:
        """The user deletes an event."""
        with self.lock:
            del self.calendars[cal][uid]

    # -- internals -------------------------------------------------------------------------

    def _touch(self, ev: dict[str, Any]) -> None:
        ev["etag"] = int(time.time() * 1000) * 1000 + secrets.randbelow(1000)
        ev["_modified"] = time.time()
        ev["lastmodifiedtime"] = datetime.now(UTC).strftime(ZFMT)

    def _create(self, cal: str, data: dict[str, Any]) -> dict[str, Any]:
        uid = secrets.token_hex(16) + "@zoho.com"
        ev = {
            "uid": uid,
            "title": data.get("title", ""),
            "dateandtime": dict(data["dateandtime"]),
            "isallday": bool(data.get("isallday", False)),
            "description": data.get("description", ""),
            "location": data.get("location", ""),
            "color": data.get("color"),
            "createdtime": datetime.now(UTC).strftime(ZFMT),
        }
        self._touch(ev)
        self.calendars[cal][uid] = ev
        return ev

    def _public(self, ev: dict[str, Any], large: bool) -> dict[str, Any]:
        out = {k: v for k, v in ev.items() if not k.startswith("_")}
        if not large:
            out.pop("description", None)
        return out

    def error_response(self, status: int, retry_after: float | None = None) -> Response:
        code = {429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}.get(status, "INTERNAL_ERROR")
        return _err(status, code, "injected fault")

    def _auth(self) -> Response | None:
        if not self.tokens.valid(bearer(request.headers.get("Authorization"), "Zoho-oauthtoken")):
            return _err(401, "INVALID_OAUTHTOKEN", "Invalid OAuth access token.")
        return None

    def _eventdata(self) -> tuple[dict[str, Any] | None, Response | None]:
        raw = request.args.get("eventdata")
        if not raw:
            return None, _err(400, "PATTERN_NOT_MATCHED", "eventdata is mandatory.")
        try:
            data = json.loads(raw)
        except ValueError:
            return None, _err(400, "PATTERN_NOT_MATCHED", "eventdata is not valid JSON.")
        dat = data.get("dateandtime") if isinstance(data, dict) else None
        if not isinstance(dat, dict):
            return None, _err(400, "PATTERN_NOT_MATCHED", "dateandtime is mandatory.")
        start, end = _parse(dat.get("start")), _parse(dat.get("end"))
        if start is None or end is None:
            return None, _err(
                400,
                "PATTERN_NOT_MATCHED",
                "dateandtime.start and end must be yyyyMMdd'T'HHmmss'Z' or yyyyMMdd.",
            )
        if end < start:
            return None, _err(400, "INVALID_DATA", "The end time is before the start time.")
        if len(data.get("description") or "") > 10000 or len(data.get("location") or "") > 255:
            return None, _err(
                400, "LIMIT_EXCEEDED", "description ≤ 10000, location ≤ 255 characters."
            )
        return data, None

    def _overlaps(self, ev: dict[str, Any], start: datetime, end: datetime) -> bool:
        s = _parse(ev["dateandtime"]["start"])
        e = _parse(ev["dateandtime"]["end"])
        return bool(s and e and s < end and e > start)

    # -- routes ----------------------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app

        @app.post("/oauth/v2/token")
        def token() -> Response:
            # Zoho takes the refresh parameters in the query and reports errors with HTTP 200.
            status, body = self.tokens.refresh(
                {**request.form.to_dict(), **request.args.to_dict()}, rotate=False
            )
            if status != 200:
                return jsonify(
                    {"error": "invalid_code" if body["error"] == "invalid_grant" else body["error"]}
                )
            body["api_domain"] = self.url
            return jsonify(body)

        def calendar(cal: str) -> dict[str, dict[str, Any]] | None:
            return self.calendars.get(cal)

        @app.get("/api/v1/calendars/<cal>/events")
        def list_events(cal: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            evs = calendar(cal)
            if evs is None:
                return _err(404, "CALENDAR_NOT_FOUND", "No calendar with this uid.")
            large = request.headers.get("Accept", "") == "application/json+large"
            with self.lock:
                if "lastmodified" in request.args:
                    since = _parse(request.args["lastmodified"])
                    if since is None:
                        return _err(
                            400, "PATTERN_NOT_MATCHED", "lastmodified must be yyyyMMdd'T'HHmmss'Z'."
                        )
                    items = [e for e in evs.values() if e["_modified"] >= since.timestamp()]
                elif "range" in request.args:
                    try:
                        rng = json.loads(request.args["range"])
                        start, end = _parse(rng["start"]), _parse(rng["end"])
                    except (ValueError, KeyError, TypeError):
                        return _err(400, "PATTERN_NOT_MATCHED", 'range must be {"start","end"}.')
                    if start is None or end is None or end < start:
                        return _err(400, "PATTERN_NOT_MATCHED", "range start/end are not valid.")
                    if end - start > timedelta(days=31):
                        return _err(400, "RANGE_EXCEEDED", "The range cannot exceed 31 days.")
                    items = [
                        e
                        for e in evs.values()
                        if self._overlaps(
                            e, start, end + timedelta(days=1 if len(rng["end"]) == 8 else 0)
                        )
                    ]
                else:
                    return _err(
                        400, "MANDATORY_PARAM_MISSING", "range or lastmodified is mandatory."
                    )
                return jsonify({"events": [self._public(e, large) for e in items]})

        @app.post("/api/v1/calendars/<cal>/events")
        def create(cal: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            if calendar(cal) is None:
                return _err(404, "CALENDAR_NOT_FOUND", "No calendar with this uid.")
            data, err = self._eventdata()
            if err is not None:
                return err
            with self.lock:
                ev = self._create(cal, data)  # type: ignore[arg-type]
                resp = jsonify({"events": [self._public(ev, True)]})
            resp.status_code = 201
            return resp

        @app.get("/api/v1/calendars/<cal>/events/<uid>")
        def read(cal: str, uid: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            ev = (calendar(cal) or {}).get(uid)
            if ev is None:
                return _err(404, "EVENT_NOT_FOUND", "No event with this uid.")
            large = request.headers.get("Accept", "") == "application/json+large"
            return jsonify({"events": [self._public(ev, large)]})

        @app.put("/api/v1/calendars/<cal>/events/<uid>")
        def update(cal: str, uid: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            data, err = self._eventdata()
            if err is not None:
                return err
            assert data is not None
            with self.lock:
                ev = (calendar(cal) or {}).get(uid)
                if ev is None:
                    return _err(404, "EVENT_NOT_FOUND", "No event with this uid.")
                if "etag" not in data:
                    return _err(
                        400, "MANDATORY_PARAM_MISSING", "etag is mandatory to update an event."
                    )
                if str(data["etag"]) != str(ev["etag"]):
                    return _err(
                        400,
                        "ETAG_MISMATCH",
                        "The etag does not match the latest version of the event.",
                    )
                for k in ("title", "dateandtime", "isallday", "description", "location", "color"):
                    if k in data:
                        ev[k] = data[k]
                self._touch(ev)
                return jsonify({"events": [self._public(ev, True)]})

        @app.delete("/api/v1/calendars/<cal>/events/<uid>")
        def delete(cal: str, uid: str) -> Response:
            if (r := self._auth()) is not None:
                return r
            with self.lock:
                evs = calendar(cal) or {}
                ev = evs.get(uid)
                if ev is None:
                    return _err(404, "EVENT_NOT_FOUND", "No event with this uid.")
                etag = request.headers.get("etag")
                if not etag:
                    return _err(400, "MANDATORY_PARAM_MISSING", "The etag header is mandatory.")
                if etag != str(ev["etag"]):
                    return _err(
                        400,
                        "ETAG_MISMATCH",
                        "The etag does not match the latest version of the event.",
                    )
                del evs[uid]
            return jsonify({"events": [{"uid": uid, "deleted": True}]})
