"""Component schemas of the OpenAPI document: request bodies and the JSON every answer carries."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

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


def int_range(lo: int, hi: int, **extra: Any) -> Schema:
    return {"type": "integer", "minimum": lo, "maximum": hi, **extra}


# Writable fields of each set-up kind: name → (schema, required on create).
SETUP_FIELDS: dict[str, dict[str, tuple[Schema, bool]]] = {
    "Location": {
        "name": (TEXT, True),
        "slug": ({"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,79}$"}, False),
        "timezone": ({"type": "string", "enum": TIMEZONES, "example": "Europe/Berlin"}, True),
        "expirationDelay": (int_range(10, 7 * 86400, description="seconds a hold lives"), False),
        "openingHours": (nullable(OPENING_HOURS), False),
        "slotInterval": (int_range(5, 1440, description="minutes between offered starts"), False),
        "email": (nullable(EMAIL), False),
        "address": (nullable({**TEXT, "maxLength": 500}), False),
        "declinePolicy": ({"type": "string", "enum": ["cancel", "flag"]}, False),
    },
    "Service": {
        "name": (TEXT, True),
        "locationId": (ID, True),
        "duration": (int_range(5, 1440, description="minutes"), True),
        "bufferBefore": (int_range(0, 1440, description="minutes"), False),
        "bufferAfter": (int_range(0, 1440, description="minutes"), False),
        "involvesPets": ({"type": "boolean"}, False),
        "color": (nullable(COLOR), False),
        "resourceIds": (nullable(ID_LIST), False),
    },
    "Resource": {
        "name": (TEXT, True),
        "locationId": (ID, True),
        "kind": ({"type": "string", "enum": ["staff", "table", "room", "area"]}, True),
        "capacity": (int_range(1, 10_000), False),
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
        "capacity": (int_range(0, 100_000), False),
        "blocksRegularBookings": ({"type": "boolean"}, False),
        "rrule": (nullable(RRULE), False),
    },
}
# Fields that cannot change after creation (PATCH refuses them).
IMMUTABLE = {"Service": {"locationId"}, "Resource": {"locationId"}}


def obj(props: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
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
    return {name: obj(props, list(props)) for name, props in views.items()}


def _appointment_schemas() -> dict[str, Schema]:
    status = {"type": "string", "enum": ["IN", "BK", "seated", "completed", "no_show", "CN"]}
    customer_ref = obj({"id": ID}, ["id"], additionalProperties=False)
    customer_new = obj(
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
        "partySize": int_range(1, MAX_PARTY_SIZE),
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
        "Appointment": obj(appointment, required),
        "SeriesResult": obj(
            {
                "seriesId": ID,
                "appointments": {"type": "array", "items": ref("Appointment")},
                "conflicts": {"type": "array", "items": {"type": "object"}},
            },
            description="the answer to a recurring booking (rrule): booked and refused dates",
        ),
        "HoldRequest": obj(
            {k: v for k, v in booking.items() if k not in ("rrule", "allOrNothing")}
            | {"customer": customer},
            ["start_time", "resourceIds"],
            additionalProperties=False,
        ),
        "AppointmentRequest": obj(
            booking | {"customer": customer},
            ["start_time", "resourceIds", "customer"],
            additionalProperties=False,
        ),
        "BookRequest": obj(
            {"customer": customer, "notes": nullable({"type": "string", "maxLength": 5000})},
            ["customer"],
            additionalProperties=False,
        ),
        "RescheduleRequest": obj(
            {
                "start_time": INSTANT,
                "end_time": INSTANT,
                "partySize": int_range(1, MAX_PARTY_SIZE),
                "resourceIds": {**ID_LIST, "minItems": 1, "uniqueItems": True},
                "notes": nullable({"type": "string", "maxLength": 5000}),
                "syncExternal": {"type": "boolean"},
                "scope": scope,
            },
            minProperties=1,
            additionalProperties=False,
        ),
        "CancelRequest": obj(
            {
                "by": {"type": "string", "enum": ["customer", "staff", "system"]},
                "reason": nullable({"type": "string", "maxLength": 2000}),
                "scope": scope,
            },
            additionalProperties=False,
        ),
        "StatusRequest": obj(
            {"status": {"type": "string", "enum": ["seated", "no_show", "completed"]}},
            ["status"],
            additionalProperties=False,
        ),
        "Availability": obj(
            {
                "serviceId": ID,
                "locationId": ID,
                "timezone": {"type": "string"},
                "availableDays": {
                    "type": "object",
                    "description": "local date (YYYY-MM-DD) → the distinct free times that day",
                    "additionalProperties": {
                        "type": "array",
                        "items": obj(
                            {"start_time": INSTANT, "end_time": INSTANT},
                            ["start_time", "end_time"],
                        ),
                    },
                },
                "availableTimes": {
                    "type": "array",
                    "items": obj(
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
        "Webhook": obj(view, list(view)),
        "WebhookCreated": obj({**view, "secret": {"type": "string"}}, [*view, "secret"]),
        "WebhookCreate": obj(body, ["url", "events"], additionalProperties=False),
        "WebhookUpdate": obj(body, minProperties=1, additionalProperties=False),
    }


def page(item: str) -> Schema:
    return obj(
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
    return obj(
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


def _setup_inputs() -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for name, fields in SETUP_FIELDS.items():
        props = {k: s for k, (s, _) in fields.items()}
        required = [k for k, (_, req) in fields.items() if req]
        out[f"{name}Create"] = obj(props, required, additionalProperties=False)
        patchable = {k: s for k, s in props.items() if k not in IMMUTABLE.get(name, set())}
        out[f"{name}Update"] = obj(patchable, minProperties=1, additionalProperties=False)
    return out


def component_schemas() -> dict[str, Schema]:
    """Every schema under components/schemas."""
    schemas: dict[str, Schema] = {"Problem": _problem_schema()}
    return schemas | _views() | _setup_inputs() | _appointment_schemas() | _webhook_schemas()
