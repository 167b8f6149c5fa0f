"""The OpenAPI 3 document of /api/v1, built as a plain dict (served at /api/v1/openapi.json).

A test checks that every Flask route under /api/v1 is described here and that every path
described here is served, and Schemathesis checks the running service against it.
"""

from __future__ import annotations

import re
from typing import Any

from hub import __version__
from hub.api.openapi_schemas import (
    ID,
    INSTANT,
    STATUS_LIST,
    Schema,
    component_schemas,
    int_range,
    nullable,
    obj,
    page,
    ref,
)
from hub.api.openapi_sync import (
    feed_paths,
    feed_schemas,
    integration_paths,
    integration_schemas,
)
from hub.booking.availability import MAX_PARTY_SIZE

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
                "responses": {"200": _json(page(name), "one page"), **_errors(*READ_ERRORS)},
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
                    _query("partySize", int_range(1, MAX_PARTY_SIZE)),
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
                    "200": _json(page("Appointment"), "one page"),
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
    blackout_import = obj(
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
    schemas = component_schemas() | integration_schemas() | feed_schemas()
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
    paths |= integration_paths(_json, _body, _errors, _path_id, IDEMPOTENCY, WRITE_ERRORS)
    paths |= feed_paths(_json, _body, _errors, _path_id, IDEMPOTENCY, WRITE_ERRORS)
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
            {"name": n}
            for n in (
                "set-up",
                "availability",
                "appointments",
                "webhooks",
                "integrations",
                "feeds",
                "mail",
                "meta",
            )
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
                "limit": _query("limit", int_range(1, 500, default=100)),
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
