"""The OpenAPI 3 document of /api/v1, built as a plain dict (served at /api/v1/openapi.json).

A test checks that every Flask route under /api/v1 is described here and that every path
described here is served, and Schemathesis checks the running service against it.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

from hub import __version__
from hub.booking.availability import MAX_PARTY_SIZE
from hub.booking.webhooks import WEBHOOK_EVENTS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (OpenAPI 3.0 style)."""
    return {**schema, "nullable": True}


ID = {"type": "string", "minLength": 1, "maxLength": 32, "example": "01HZX3K9Q2T8V5M7N4B6C1D0EF"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
INSTANT = {
    "type": "string",
    "format": "date-time",
    # A year-range pattern would be exact, but makes generated examples crawl; said in words.
    "description": "ISO 8601 with an offset or Z, years 1970–2200; answers are UTC with Z",
    "example": "2026-05-01T09:00:00Z",
}
EMAIL = {"type": "string", "format": "email", "maxLength": 320, "example": "anna@example.com"}
COLOR = {"type": "string", "pattern": "^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$", "example": "#3366ff"}
RRULE = {
    "type": "string",
    "minLength": 1,
    "pattern": "^(RRULE:)?FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY)"
    "(;(INTERVAL|COUNT|UNTIL|BYDAY|BYMONTHDAY|BYMONTH|BYSETPOS|BYYEARDAY|BYWEEKNO|WKST)"
    "=[A-Z0-9,+-]+)*$",
    "description": "RFC 5545 RRULE (DAILY, WEEKLY, MONTHLY or YEARLY); unknown parts are refused",
    "example": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10",
}
HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}
OPENING_HOURS = {
    "type": "object",
    "description": "Opening spans per weekday in the location's time zone; null = always open",
    "properties": {
        day: {
            "type": "array",
            "items": {"type": "array", "items": HHMM, "minItems": 2, "maxItems": 2},
        }
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "additionalProperties": False,
    "example": {"mon": [["09:00", "18:00"]], "sat": [["10:00", "14:00"]]},
}
STATUS_LIST = r"^(IN|BK|seated|completed|no_show|CN)(,(IN|BK|seated|completed|no_show|CN))*$"
TIMEZONES = sorted(available_timezones() - {"Factory", "localtime"})
ID_LIST = {"type": "array", "items": ID, "maxItems": 50}


def _int(lo: int, hi: int, **extra: Any) -> Schema:
    return {"type": "integer", "minimum": lo, "maximum": hi, **extra}


# Writable fields of each set-up kind: name → (schema, required on create).
SETUP_FIELDS: dict[str, dict[str, tuple[Schema, bool]]] = {
    "Location": {
        "name": (TEXT, True),
        "slug": ({"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,79}$"}, False),
        "timezone": ({"type": "string", "enum": TIMEZONES, "example": "Europe/Berlin"}, True),
        "expirationDelay": (_int(10, 7 * 86400, description="seconds a hold lives"), False),
        "openingHours": (nullable(OPENING_HOURS), False),
        "slotInterval": (_int(5, 1440, description="minutes between offered starts"), False),
        "email": (nullable(EMAIL), False),
        "address": (nullable({**TEXT, "maxLength": 500}), False),
        "declinePolicy": ({"type": "string", "enum": ["cancel", "flag"]}, False),
    },
    "Service": {
        "name": (TEXT, True),
        "locationId": (ID, True),
        "duration": (_int(5, 1440, description="minutes"), True),
        "bufferBefore": (_int(0, 1440, description="minutes"), False),
        "bufferAfter": (_int(0, 1440, description="minutes"), False),
        "involvesPets": ({"type": "boolean"}, False),
        "color": (nullable(COLOR), False),
        "resourceIds": (nullable(ID_LIST), False),
    },
    "Resource": {
        "name": (TEXT, True),
        "locationId": (ID, True),
        "kind": ({"type": "string", "enum": ["staff", "table", "room", "area"]}, True),
        "capacity": (_int(1, 10_000), False),
        "email": (nullable(EMAIL), False),
        "color": (nullable(COLOR), False),
        "active": ({"type": "boolean"}, False),
    },
    "Customer": {
        "firstName": ({**TEXT, "maxLength": 120}, True),
        "lastName": ({**TEXT, "maxLength": 120}, False),
        "email": (nullable(EMAIL), False),
        "phone": (nullable({**TEXT, "maxLength": 40}), False),
    },
    "Shift": {
        "resourceId": ({**ID, "description": "a staff resource"}, True),
        "start": (INSTANT, True),
        "end": (INSTANT, True),
        "role": (nullable({**TEXT, "maxLength": 80}), False),
        "rrule": (nullable(RRULE), False),
        "exdates": ({"type": "array", "items": INSTANT}, False),
    },
    "Blackout": {
        "locationId": (ID, True),
        "resourceId": (nullable(ID), False),
        "kind": ({"type": "string", "enum": ["holiday", "closure", "no_pets"]}, True),
        "start": (INSTANT, True),
        "end": (INSTANT, True),
        "allDay": ({"type": "boolean"}, False),
        "summary": ({**TEXT, "maxLength": 300}, False),
        "rrule": (nullable(RRULE), False),
        "source": (nullable({"type": "string", "maxLength": 2000}), False),
    },
    "Event": {
        "locationId": (ID, True),
        "start": (INSTANT, True),
        "end": (INSTANT, True),
        "summary": ({**TEXT, "maxLength": 300}, True),
        "description": (nullable({**TEXT, "maxLength": 5000}), False),
        "capacity": (_int(0, 100_000), False),
        "blocksRegularBookings": ({"type": "boolean"}, False),
        "rrule": (nullable(RRULE), False),
    },
}
# Fields that cannot change after creation (PATCH refuses them).
IMMUTABLE = {"Service": {"locationId"}, "Resource": {"locationId"}}


def _obj(props: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "object", "properties": props, **extra}
    if required:
        out["required"] = required
    return out


def _views() -> dict[str, Schema]:
    """Response schemas: what GET and write answers carry."""
    version = {"type": "integer", "minimum": 1}
    ical = {"uid": {"type": "string"}, "sequence": {"type": "integer", "minimum": 0}}
    loc = SETUP_FIELDS["Location"]
    views = {
        "Location": {
            "id": ID,
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "timezone": {"type": "string"},
            "expirationDelay": {"type": "integer"},
            "openingHours": loc["openingHours"][0],
            "slotInterval": {"type": "integer"},
            "email": nullable({"type": "string"}),
            "address": nullable({"type": "string"}),
            "declinePolicy": {"type": "string"},
            "version": version,
        },
        "Service": {
            "id": ID,
            "locationId": ID,
            "name": {"type": "string"},
            "duration": {"type": "integer"},
            "bufferBefore": {"type": "integer"},
            "bufferAfter": {"type": "integer"},
            "involvesPets": {"type": "boolean"},
            "color": nullable({"type": "string"}),
            "resourceIds": nullable({"type": "array", "items": ID}),
            "version": version,
        },
        "Resource": {
            "id": ID,
            "locationId": ID,
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["staff", "table", "room", "area"]},
            "capacity": {"type": "integer"},
            "email": nullable({"type": "string"}),
            "color": nullable({"type": "string"}),
            "active": {"type": "boolean"},
            "version": version,
        },
        "Customer": {
            "id": ID,
            "firstName": {"type": "string"},
            "lastName": {"type": "string"},
            "email": nullable({"type": "string"}),
            "phone": nullable({"type": "string"}),
            "version": version,
        },
        "Shift": {
            "id": ID,
            "locationId": ID,
            "resourceId": ID,
            "start": INSTANT,
            "end": INSTANT,
            "role": nullable({"type": "string"}),
            "rrule": nullable({"type": "string"}),
            "exdates": {"type": "array", "items": {"type": "string"}},
            **ical,
            "version": version,
        },
        "Blackout": {
            "id": ID,
            "locationId": ID,
            "resourceId": nullable(ID),
            "kind": {"type": "string", "enum": ["holiday", "closure", "no_pets"]},
            "start": INSTANT,
            "end": INSTANT,
            "allDay": {"type": "boolean"},
            "summary": {"type": "string"},
            "rrule": nullable({"type": "string"}),
            "exdates": {"type": "array", "items": {"type": "string"}},
            **ical,
            "version": version,
        },
        "Event": {
            "id": ID,
            "locationId": ID,
            "start": INSTANT,
            "end": INSTANT,
            "summary": {"type": "string"},
            "description": nullable({"type": "string"}),
            "capacity": {"type": "integer"},
            "blocksRegularBookings": {"type": "boolean"},
            "rrule": nullable({"type": "string"}),
            **ical,
            "version": version,
        },
    }
    return {name: _obj(props, list(props)) for name, props in views.items()}


def _appointment_schemas() -> dict[str, Schema]:
    status = {"type": "string", "enum": ["IN", "BK", "seated", "completed", "no_show", "CN"]}
    customer_ref = _obj({"id": ID}, ["id"], additionalProperties=False)
    customer_new = _obj(
        {
            "firstName": {**TEXT, "maxLength": 120},
            "lastName": {"type": "string", "maxLength": 120},
            "email": EMAIL,
            "phone": {"type": "string", "maxLength": 40},
        },
        ["firstName"],
        additionalProperties=False,
        description="found by e-mail, else created",
    )
    customer = {"oneOf": [customer_ref, customer_new]}
    appointment = {
        "id": ID,
        "status": status,
        "serviceId": nullable(ID),
        "locationId": ID,
        "resourceIds": {"type": "array", "items": ID},
        "start_time": INSTANT,
        "end_time": INSTANT,
        "partySize": {"type": "integer", "minimum": 1},
        "customerId": nullable(ID),
        "eventId": nullable(ID),
        "seriesId": nullable(ID),
        "channel": nullable({"type": "string"}),
        "externalIds": {"type": "object", "additionalProperties": {"type": "string"}},
        "notes": nullable({"type": "string"}),
        "confirmed": nullable({"type": "boolean"}),
        "flagged": nullable({"type": "boolean"}),
        "uid": {"type": "string", "description": "the iCalendar UID"},
        "sequence": {"type": "integer", "minimum": 0},
        "version": {"type": "integer", "minimum": 1},
        "createdAt": INSTANT,
        "updatedAt": INSTANT,
        "expiresAt": {**INSTANT, "description": "while the hold (IN) lives"},
        "cancelledBy": nullable({"type": "string"}),
        "cancelReason": nullable({"type": "string"}),
    }
    required = [
        "id",
        "status",
        "serviceId",
        "locationId",
        "resourceIds",
        "start_time",
        "end_time",
        "partySize",
        "customerId",
        "uid",
        "sequence",
        "version",
    ]
    booking = {
        "start_time": INSTANT,
        "end_time": {**INSTANT, "description": "defaults to start_time + the service duration"},
        "serviceId": ID,
        "locationId": {**ID, "description": "defaults to the service's location"},
        "resourceIds": {**ID_LIST, "minItems": 1, "uniqueItems": True},
        "partySize": _int(1, MAX_PARTY_SIZE),
        "notes": nullable({"type": "string", "maxLength": 5000}),
        "eventId": nullable({**ID, "description": "book a seat at a special event"}),
        "channel": {"type": "string", "minLength": 1, "maxLength": 40},
        "externalIds": {"type": "object", "additionalProperties": {"type": "string"}},
        "syncExternal": {"type": "boolean", "description": "also respect external busy blocks"},
        "rrule": {**RRULE, "description": "book a recurring series (see the answer's conflicts)"},
        "allOrNothing": {
            "type": "boolean",
            "description": "with rrule: refuse the whole series when any occurrence conflicts",
        },
    }
    scope = {
        "type": "string",
        "enum": ["this", "following", "all"],
        "description": "for an occurrence of a series: this one, this and following, or all",
    }
    return {
        "Appointment": _obj(appointment, required),
        "SeriesResult": _obj(
            {
                "seriesId": ID,
                "appointments": {"type": "array", "items": ref("Appointment")},
                "conflicts": {"type": "array", "items": {"type": "object"}},
            },
            description="the answer to a recurring booking (rrule): booked and refused dates",
        ),
        "HoldRequest": _obj(
            {k: v for k, v in booking.items() if k not in ("rrule", "allOrNothing")}
            | {"customer": customer},
            ["start_time", "resourceIds"],
            additionalProperties=False,
        ),
        "AppointmentRequest": _obj(
            booking | {"customer": customer},
            ["start_time", "resourceIds", "customer"],
            additionalProperties=False,
        ),
        "BookRequest": _obj(
            {"customer": customer, "notes": nullable({"type": "string", "maxLength": 5000})},
            ["customer"],
            additionalProperties=False,
        ),
        "RescheduleRequest": _obj(
            {
                "start_time": INSTANT,
                "end_time": INSTANT,
                "partySize": _int(1, MAX_PARTY_SIZE),
                "resourceIds": {**ID_LIST, "minItems": 1, "uniqueItems": True},
                "notes": nullable({"type": "string", "maxLength": 5000}),
                "syncExternal": {"type": "boolean"},
                "scope": scope,
            },
            minProperties=1,
            additionalProperties=False,
        ),
        "CancelRequest": _obj(
            {
                "by": {"type": "string", "enum": ["customer", "staff", "system"]},
                "reason": nullable({"type": "string", "maxLength": 2000}),
                "scope": scope,
            },
            additionalProperties=False,
        ),
        "StatusRequest": _obj(
            {"status": {"type": "string", "enum": ["seated", "no_show", "completed"]}},
            ["status"],
            additionalProperties=False,
        ),
        "Availability": _obj(
            {
                "serviceId": ID,
                "locationId": ID,
                "timezone": {"type": "string"},
                "availableDays": {
                    "type": "object",
                    "description": "local date (YYYY-MM-DD) → the distinct free times that day",
                    "additionalProperties": {
                        "type": "array",
                        "items": _obj(
                            {"start_time": INSTANT, "end_time": INSTANT},
                            ["start_time", "end_time"],
                        ),
                    },
                },
                "availableTimes": {
                    "type": "array",
                    "items": _obj(
                        {
                            "start_time": INSTANT,
                            "end_time": INSTANT,
                            "resourceIds": {"type": "array", "items": ID},
                            "locationId": ID,
                        },
                        ["start_time", "end_time", "resourceIds", "locationId"],
                    ),
                },
            },
            ["serviceId", "availableDays", "availableTimes"],
        ),
    }


def _webhook_schemas() -> dict[str, Schema]:
    events = {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": ["*", *WEBHOOK_EVENTS]},
        "example": ["appointment.created", "appointment.cancelled"],
    }
    url = {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2000}
    secret = {
        "type": "string",
        "minLength": 1,
        "maxLength": 500,
        "description": "HMAC key for X-Calhub-Signature; generated and returned once if left out",
    }
    view = {
        "id": ID,
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "active": {"type": "boolean"},
        "createdAt": INSTANT,
        "updatedAt": INSTANT,
    }
    body = {"url": url, "events": events, "secret": secret, "active": {"type": "boolean"}}
    return {
        "Webhook": _obj(view, list(view)),
        "WebhookCreated": _obj({**view, "secret": {"type": "string"}}, [*view, "secret"]),
        "WebhookCreate": _obj(body, ["url", "events"], additionalProperties=False),
        "WebhookUpdate": _obj(body, minProperties=1, additionalProperties=False),
    }


def _page(item: str) -> Schema:
    return _obj(
        {
            "data": {"type": "array", "items": ref(item)},
            "count": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
        ["data", "count", "total", "limit", "offset"],
    )


def _problem_schema() -> Schema:
    return _obj(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "what went wrong and what to do"},
            "code": {"type": "string", "description": "stable machine-readable code"},
            "instance": {"type": "string"},
        },
        ["type", "title", "status", "detail"],
    )


ERRORS = {
    "400": "the body is not JSON or not an object",
    "401": "missing, unknown or revoked API key",
    "404": "an id in the path or the body does not exist",
    "405": "the method is not allowed on this path",
    "409": "a booking rule refuses it, or an Idempotency-Key request is still in progress",
    "412": "the object changed meanwhile",
    "413": "the request body is too large",
    "415": "the body is not JSON",
    "422": "a field is missing or invalid (the detail names it)",
    "502": "a remote system (e.g. a calendar URL) answered badly",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {c: {"$ref": f"#/components/responses/E{c}"} for c in codes}


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: Schema) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


IDEMPOTENCY = {"$ref": "#/components/parameters/IdempotencyKey"}
PAGE_PARAMS = [
    {"$ref": "#/components/parameters/limit"},
    {"$ref": "#/components/parameters/offset"},
]


def _path_id(name: str = "id") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def served_operations(url_map: Any, prefix: str = "/api/v1") -> set[tuple[str, str]]:
    """(method, path) pairs a Flask url_map serves under ``prefix``, in this document's terms."""
    out = set()
    for rule in url_map.iter_rules():
        if not rule.rule.startswith(prefix + "/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "{id}", rule.rule.removeprefix(prefix))
        for method in rule.methods or ():
            out.add((method.lower(), path))
    return out


def _query(name: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    p: Schema = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        p["description"] = description
    return p


READ_ERRORS = ("400", "401", "422")
WRITE_ERRORS = ("400", "401", "404", "409", "413", "415", "422")


def _crud(
    segment: str, name: str, tag: str, filters: list[Schema], patch_schema: Schema
) -> dict[str, Any]:
    """List/create on ``/segment`` and get/patch/delete on ``/segment/{id}``."""
    item = ref(name)
    create_ref = ref(f"{name}Create")
    # a new webhook's answer also carries its secret, shown that once
    create_answer = ref("WebhookCreated") if name == "Webhook" else item
    return {
        f"/{segment}": {
            "get": {
                "tags": [tag],
                "operationId": f"list{name}s",
                "summary": f"A page of {segment}",
                "parameters": [*PAGE_PARAMS, *filters],
                "responses": {"200": _json(_page(name), "one page"), **_errors(*READ_ERRORS)},
            },
            "post": {
                "tags": [tag],
                "operationId": f"create{name}",
                "summary": f"Create a {name.lower()}",
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(create_ref),
                "responses": {"201": _json(create_answer, "created"), **_errors(*WRITE_ERRORS)},
            },
        },
        f"/{segment}/{{id}}": {
            "parameters": [_path_id()],
            "get": {
                "tags": [tag],
                "operationId": f"get{name}",
                "summary": f"One {name.lower()}",
                "responses": {"200": _json(item, "found"), **_errors("401", "404")},
            },
            "patch": {
                "tags": [tag],
                "operationId": f"update{name}",
                "summary": f"Change some fields of a {name.lower()}",
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(patch_schema),
                "responses": {"200": _json(item, "changed"), **_errors(*WRITE_ERRORS)},
            },
            "delete": {
                "tags": [tag],
                "operationId": f"delete{name}",
                "summary": f"Delete a {name.lower()}",
                "responses": {
                    "204": {"description": "deleted"},
                    **_errors("401", "404", "409"),
                },
            },
        },
    }


# Query filters of each set-up list (besides limit and offset); the API refuses any other.
LIST_FILTERS: dict[str, tuple[str, ...]] = {
    "locations": ("email",),
    "services": ("locationId",),
    "resources": ("locationId", "kind", "email"),
    "customers": ("email",),
    "shifts": ("locationId", "resourceId"),
    "blackouts": ("locationId", "resourceId", "kind"),
    "events": ("locationId",),
    "webhooks": (),
}
SETUP_NAMES = {
    "locations": "Location",
    "services": "Service",
    "resources": "Resource",
    "customers": "Customer",
    "shifts": "Shift",
    "blackouts": "Blackout",
    "events": "Event",
}


def _filter(segment: str, name: str) -> Schema:
    if name == "kind":
        kinds = (
            ["holiday", "closure", "no_pets"]
            if segment == "blackouts"
            else ["staff", "table", "room", "area"]
        )
        return _query("kind", {"type": "string", "enum": kinds})
    if name == "email":
        return _query("email", {"type": "string"}, "exact e-mail address, any case")
    return _query(name, {"type": "string"}, f"only those with this {name}")


def _setup_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for segment, name in SETUP_NAMES.items():
        filters = [_filter(segment, f) for f in LIST_FILTERS[segment]]
        paths.update(_crud(segment, name, "set-up", filters, ref(f"{name}Update")))
    return paths


def _setup_inputs() -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for name, fields in SETUP_FIELDS.items():
        props = {k: s for k, (s, _) in fields.items()}
        required = [k for k, (_, req) in fields.items() if req]
        out[f"{name}Create"] = _obj(props, required, additionalProperties=False)
        patchable = {k: s for k, s in props.items() if k not in IMMUTABLE.get(name, set())}
        out[f"{name}Update"] = _obj(patchable, minProperties=1, additionalProperties=False)
    return out


def _appointment_paths() -> dict[str, Any]:
    appt = ref("Appointment")
    one = [_path_id()]

    def put(op_id: str, summary: str, body: str, *errors: str) -> dict[str, Any]:
        return {
            "parameters": one,
            "put": {
                "tags": ["appointments"],
                "operationId": op_id,
                "summary": summary,
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(ref(body)),
                "responses": {"200": _json(appt, "the appointment now"), **_errors(*errors)},
            },
        }

    return {
        "/availability": {
            "get": {
                "tags": ["availability"],
                "operationId": "getAvailability",
                "summary": "Free slots for a service between two local dates",
                "parameters": [
                    _query("serviceId", {"type": "string", "minLength": 1}, required=True),
                    _query("locationId", {"type": "string"}),
                    _query("startDate", {"type": "string", "format": "date"}, required=True),
                    _query("endDate", {"type": "string", "format": "date"}, "at most 92 days on"),
                    _query("resourceIds", {"type": "string"}, "comma-separated resource ids"),
                    _query(
                        "roundRobin", {"type": "string", "enum": ["NONE", "RANDOM", "BALANCED"]}
                    ),
                    _query("partySize", _int(1, MAX_PARTY_SIZE)),
                    _query("syncExternal", {"type": "string", "enum": ["true", "false"]}),
                ],
                "responses": {
                    "200": _json(ref("Availability"), "free times"),
                    **_errors("400", "401", "404", "422"),
                },
            }
        },
        "/appointments/hold": {
            "post": {
                "tags": ["appointments"],
                "operationId": "holdAppointment",
                "summary": "Hold a slot (status IN) until booked or the location's delay passes",
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(ref("HoldRequest")),
                "responses": {"201": _json(appt, "held"), **_errors(*WRITE_ERRORS)},
            }
        },
        "/appointments": {
            "get": {
                "tags": ["appointments"],
                "operationId": "listAppointments",
                "summary": "A page of appointments",
                "parameters": [
                    *PAGE_PARAMS,
                    _query("start", INSTANT, "only those ending after this instant"),
                    _query("end", INSTANT, "only those starting before this instant"),
                    _query(
                        "status",
                        {"type": "string", "pattern": STATUS_LIST},
                        "comma-separated statuses, e.g. IN,BK",
                    ),
                    _query("resourceId", {"type": "string"}),
                    _query("locationId", {"type": "string"}),
                    _query("customerEmail", {"type": "string"}),
                ],
                "responses": {
                    "200": _json(_page("Appointment"), "one page"),
                    **_errors(*READ_ERRORS),
                },
            },
            "post": {
                "tags": ["appointments"],
                "operationId": "createAppointment",
                "summary": "Book directly (status BK); with rrule, book a recurring series",
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(ref("AppointmentRequest")),
                "responses": {
                    "201": _json(
                        {"oneOf": [appt, ref("SeriesResult")]},
                        "booked (a series answer when rrule was given)",
                    ),
                    **_errors(*WRITE_ERRORS),
                },
            },
        },
        "/appointments/{id}": {
            "parameters": one,
            "get": {
                "tags": ["appointments"],
                "operationId": "getAppointment",
                "summary": "One appointment",
                "responses": {"200": _json(appt, "found"), **_errors("401", "404")},
            },
            "patch": {
                "tags": ["appointments"],
                "operationId": "rescheduleAppointment",
                "summary": "Reschedule: re-validated; a conflict is a 409 and nothing changes",
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(ref("RescheduleRequest")),
                "responses": {
                    "200": _json(appt, "the appointment now"),
                    **_errors(*WRITE_ERRORS, "412"),
                },
            },
        },
        "/appointments/{id}/book": put(
            "bookAppointment", "Book a live hold for a customer", "BookRequest", *WRITE_ERRORS
        ),
        "/appointments/{id}/cancel": put(
            "cancelAppointment", "Cancel and free the slot", "CancelRequest", *WRITE_ERRORS, "412"
        ),
        "/appointments/{id}/status": put(
            "setAppointmentStatus",
            "Seated, no-show or completed, along allowed transitions",
            "StatusRequest",
            *WRITE_ERRORS,
        ),
    }


def _optional_paths() -> dict[str, Any]:
    """Operations built in parallel (issue 3b); described only once the app serves them."""
    blackout_import = _obj(
        {
            "locationId": ID,
            "resourceId": nullable(ID),
            "kind": {"type": "string", "enum": ["holiday", "closure", "no_pets"]},
            "url": {"type": "string", "format": "uri", "description": "an .ics to fetch"},
            "ics": {"type": "string", "description": "the .ics text itself"},
        },
        ["locationId"],
    )
    return {
        "/blackouts/import": {
            "post": {
                "tags": ["set-up"],
                "operationId": "importBlackouts",
                "summary": "Import public holidays from an .ics file or URL",
                "parameters": [
                    IDEMPOTENCY,
                    _query("locationId", {"type": "string"}, "with a text/calendar body"),
                    _query("kind", {"type": "string", "enum": ["holiday", "closure", "no_pets"]}),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": blackout_import},
                        "text/calendar": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "200": _json({"type": "object"}, "imported (nothing new)"),
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "imported": {"type": "integer"},
                                "blackouts": {"type": "array", "items": ref("Blackout")},
                            },
                        },
                        "imported",
                    ),
                    **_errors(*WRITE_ERRORS, "502"),
                },
            }
        }
    }


def _served(path: str, served: set[tuple[str, str]]) -> bool:
    return any(p == path for _, p in served)


def build_openapi(
    prefix: str = "/api/v1", served: set[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The whole OpenAPI 3.0 document; its paths are absolute (``/api/v1/…``) on server ``/``.

    ``served`` is the set of (method, path below ``prefix``) the app serves; optional operations
    are described only when they are served. None leaves them out.
    """
    schemas: dict[str, Schema] = {"Problem": _problem_schema()}
    schemas |= _views() | _setup_inputs() | _appointment_schemas() | _webhook_schemas()
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": {
                "tags": ["meta"],
                "operationId": "getOpenApi",
                "summary": "This document (no API key needed)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
            }
        }
    }
    paths |= _setup_paths() | _appointment_paths()
    paths |= _crud("webhooks", "Webhook", "webhooks", [], ref("WebhookUpdate"))
    for path, item in _optional_paths().items():
        if served is not None and _served(path, served):
            paths[path] = item
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "calhub API",
            "version": __version__,
            "description": (
                "Availability, hold-then-book and set-up of a calhub hub. Every POST/PUT/PATCH "
                "honours an Idempotency-Key header. Errors are RFC 9457 problem+json. Webhook "
                "deliveries carry X-Calhub-Timestamp and X-Calhub-Signature (hex HMAC-SHA256 of "
                "timestamp + '.' + body with the subscription's secret)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": n} for n in ("set-up", "availability", "appointments", "webhooks", "meta")
        ],
        "paths": {prefix + path: item for path, item in paths.items()},
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from `calhub apikey create NAME`",
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "repeat a request safely: the same key and body answer the first answer "
                        "again (Idempotent-Replayed: true); another body with the key is a 422; "
                        "keys live 24 hours, per API key"
                    ),
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                },
                "limit": _query("limit", _int(1, 500, default=100)),
                "offset": _query(
                    "offset", {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0}
                ),
            },
            "responses": {
                f"E{code}": {
                    "description": text,
                    "content": {"application/problem+json": {"schema": ref("Problem")}},
                }
                for code, text in ERRORS.items()
            },
            "schemas": schemas,
        },
    }
