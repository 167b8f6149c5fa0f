"""A Teamup API simulator.

Enforced contract (apidocs.teamup.com): ``Teamup-Token`` API key on every call (401 without a
valid one), the calendar key in the path (404 for an unknown one, 403 for a read-only key on a
write), required fields on create/update (400 ``validation_error``), the event ``version`` on
update (409 when stale), ``modifiedSince`` at most 30 days back (400), deleted events listed with
``delete_dt``, responses carrying a server ``timestamp``, 429 with Retry-After under faults.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, jsonify, request

from tests.fakes.base import FakeServer, json_error


def _err(status: int, eid: str, message: str) -> Response:
    return json_error(
        status, {"error": {"id": eid, "title": eid.replace("_", " "), "message": message}}
    )


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else None


class TeamupFake(FakeServer):
    """One calendar (with its keys) holding sub-calendars and events."""

    def __init__(self, calendar_key: str = "ks-calhub-test") -> None:
        super().__init__("teamup-fake")
        self.calendar_key = calendar_key
        self.readonly_keys: set[str] = set()
        self.api_keys: set[str] = {"tk-" + secrets.token_hex(8)}
        self.subcalendars: dict[int, str] = {}
        self.store: dict[str, dict[str, Any]] = {}
        self._next_id = 1000
        self.clock_offset = 0.0  # tests move time forward to age timestamps
        self._routes()

    @property
    def api_key(self) -> str:
        """A valid API key."""
        return next(iter(self.api_keys))

    def add_subcalendar(self, name: str) -> int:
        """A sub-calendar (one per staff member); returns its id."""
        sid = 9000 + len(self.subcalendars) + 1
        self.subcalendars[sid] = name
        return sid

    def now(self) -> float:
        """The simulator's clock."""
        return time.time() + self.clock_offset

    def events(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Stored events."""
        with self.lock:
            return [dict(e) for e in self.store.values() if include_deleted or not e["delete_dt"]]

    def user_create(self, sub: int, title: str, start: datetime, end: datetime) -> str:
        """Somebody adds an event in Teamup."""
        with self.lock:
            return self._create(
                {
                    "subcalendar_ids": [sub],
                    "title": title,
                    "start_dt": start.isoformat(),
                    "end_dt": end.isoformat(),
                }
            )["id"]

    def user_update(self, eid: str, **fields: Any) -> None:
        """Somebody edits an event in Teamup."""
        with self.lock:
            ev = self.store[eid]
            for k, v in fields.items():
                ev[k] = v.isoformat() if isinstance(v, datetime) else v
            self._touch(ev)

    def user_delete(self, eid: str) -> None:
        """Somebody deletes an event in Teamup."""
        with self.lock:
            ev = self.store[eid]
            ev["delete_dt"] = self._stamp()
            self._touch(ev, deleted=True)

    # -- internals -------------------------------------------------------------------------

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).isoformat()

    def _touch(self, ev: dict[str, Any], deleted: bool = False) -> None:
        ev["version"] = secrets.token_hex(6)
        ev["_modified"] = self.now()
        if not deleted:
            ev["update_dt"] = self._stamp()

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        subs = [int(s) for s in body["subcalendar_ids"]]
        ev = {
            "id": str(self._next_id),
            "series_id": None,
            "remote_id": body.get("remote_id"),
            "subcalendar_id": subs[0],
            "subcalendar_ids": subs,
            "all_day": bool(body.get("all_day", False)),
            "rrule": "",
            "title": body.get("title", ""),
            "who": body.get("who", ""),
            "location": body.get("location", ""),
            "notes": body.get("notes", ""),
            "readonly": False,
            "tz": body.get("tz"),
            "start_dt": body["start_dt"],
            "end_dt": body["end_dt"],
            "creation_dt": self._stamp(),
            "update_dt": None,
            "delete_dt": None,
        }
        self._touch(ev)
        self.store[ev["id"]] = ev
        return ev

    @staticmethod
    def _public(ev: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ev.items() if not k.startswith("_")}

    def error_response(self, status: int, retry_after: float | None = None) -> Response:
        eid = {429: "rate_limit_exceeded", 503: "maintenance"}.get(status, "unexpected_error")
        return _err(status, eid, "injected fault")

    def _check(self, key: str, write: bool) -> Response | None:
        token = request.headers.get("Teamup-Token")
        if not token or token not in self.api_keys:
            return _err(
                401, "no_valid_api_key", "A valid API key is required in the Teamup-Token header."
            )
        if key not in (self.calendar_key, *self.readonly_keys):
            return _err(404, "calendar_not_found", "Calendar not found.")
        if write and key in self.readonly_keys:
            return _err(403, "no_permission", "This calendar key does not have modify permission.")
        return None

    def _validate(
        self, body: Any, *, update: bool
    ) -> tuple[dict[str, Any] | None, Response | None]:
        if not isinstance(body, dict):
            return None, _err(400, "validation_error", "A JSON body is required.")
        subs = body.get("subcalendar_ids")
        if not subs or not isinstance(subs, list):
            return None, _err(400, "validation_error", "subcalendar_ids is required.")
        if any(int(s) not in self.subcalendars for s in subs):
            return None, _err(400, "validation_error", "Unknown sub-calendar id.")
        start, end = _parse(body.get("start_dt")), _parse(body.get("end_dt"))
        if start is None or end is None:
            return None, _err(
                400,
                "validation_error",
                "start_dt and end_dt must be ISO 8601 date-times with an offset.",
            )
        if end < start:
            return None, _err(400, "validation_error", "end_dt must not be before start_dt.")
        if update and not body.get("version"):
            return None, _err(400, "validation_error", "version is required to update an event.")
        return body, None

    def _in_range(self, ev: dict[str, Any], start: date, end: date) -> bool:
        s = _parse(ev["start_dt"])
        e = _parse(ev["end_dt"])
        assert s and e
        lo = datetime.combine(start, datetime.min.time(), UTC)
        hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
        return s < hi and e > lo

    # -- routes ----------------------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app

        @app.get("/<key>/subcalendars")
        def subcalendars(key: str) -> Response:
            if (r := self._check(key, write=False)) is not None:
                return r
            return jsonify(
                {"subcalendars": [{"id": i, "name": n} for i, n in self.subcalendars.items()]}
            )

        @app.get("/<key>/events")
        def list_events(key: str) -> Response:
            if (r := self._check(key, write=False)) is not None:
                return r
            args = request.args
            subs = {int(s) for s in args.getlist("subcalendarId[]")}
            now = self.now()
            with self.lock:
                items = list(self.store.values())
                if "modifiedSince" in args:
                    try:
                        since = int(args["modifiedSince"])
                    except ValueError:
                        return _err(
                            400, "validation_error", "modifiedSince must be a unix timestamp."
                        )
                    if since < now - 30 * 86400:
                        return _err(
                            400,
                            "validation_error",
                            "modifiedSince must not be more than 30 days in the past.",
                        )
                    items = [e for e in items if e["_modified"] >= since]
                else:
                    try:
                        start = date.fromisoformat(
                            args.get("startDate") or date.today().isoformat()
                        )
                        end = date.fromisoformat(
                            args.get("endDate") or (start + timedelta(days=1)).isoformat()
                        )
                    except ValueError:
                        return _err(
                            400, "validation_error", "startDate and endDate must be YYYY-MM-DD."
                        )
                    if end < start:
                        return _err(400, "validation_error", "endDate is before startDate.")
                    items = [
                        e for e in items if not e["delete_dt"] and self._in_range(e, start, end)
                    ]
                if subs:
                    items = [e for e in items if subs & set(e["subcalendar_ids"])]
                return jsonify({"events": [self._public(e) for e in items], "timestamp": int(now)})

        @app.post("/<key>/events")
        def create(key: str) -> Response:
            if (r := self._check(key, write=True)) is not None:
                return r
            body, err = self._validate(request.get_json(silent=True), update=False)
            if err is not None:
                return err
            with self.lock:
                ev = self._create(body)  # type: ignore[arg-type]
                resp = jsonify({"event": self._public(ev), "undo_id": secrets.token_hex(4)})
            resp.status_code = 201
            return resp

        @app.get("/<key>/events/<eid>")
        def read(key: str, eid: str) -> Response:
            if (r := self._check(key, write=False)) is not None:
                return r
            ev = self.store.get(eid)
            if ev is None:
                return _err(404, "event_not_found", "Event not found.")
            return jsonify({"event": self._public(ev)})

        @app.put("/<key>/events/<eid>")
        def update(key: str, eid: str) -> Response:
            if (r := self._check(key, write=True)) is not None:
                return r
            body, err = self._validate(request.get_json(silent=True), update=True)
            if err is not None:
                return err
            assert body is not None
            if str(body.get("id")) != eid:
                return _err(
                    400, "validation_error", "The event id in the body does not match the URL."
                )
            with self.lock:
                ev = self.store.get(eid)
                if ev is None or ev["delete_dt"]:
                    return _err(404, "event_not_found", "Event not found.")
                if body["version"] != ev["version"]:
                    return _err(
                        409,
                        "event_validation_conflict",
                        "The event was modified by someone else; reload it and try again.",
                    )
                for k in (
                    "subcalendar_ids",
                    "title",
                    "start_dt",
                    "end_dt",
                    "all_day",
                    "notes",
                    "location",
                    "who",
                    "remote_id",
                    "tz",
                ):
                    if k in body:
                        ev[k] = body[k]
                ev["subcalendar_id"] = int(ev["subcalendar_ids"][0])
                self._touch(ev)
                return jsonify({"event": self._public(ev), "undo_id": secrets.token_hex(4)})

        @app.delete("/<key>/events/<eid>")
        def delete(key: str, eid: str) -> Response:
            if (r := self._check(key, write=True)) is not None:
                return r
            with self.lock:
                ev = self.store.get(eid)
                if ev is None or ev["delete_dt"]:
                    return _err(404, "event_not_found", "Event not found.")
                version = request.args.get("version")
                if version and version != ev["version"]:
                    return _err(
                        409, "event_validation_conflict", "The event was modified by someone else."
                    )
                ev["delete_dt"] = self._stamp()
                self._touch(ev, deleted=True)
            return jsonify({"undo_id": secrets.token_hex(4)})
