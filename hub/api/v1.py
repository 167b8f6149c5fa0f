"""REST API v1: set-up resources, availability and the hold → book flow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from hub.api.auth import require_api_key
from hub.api.guards import (
    UnsupportedMediaType,
    allow_query,
    install_input_guards,
    reject_nul,
)
from hub.api.idempotency import install_idempotency
from hub.api.openapi import LIST_FILTERS, build_openapi, served_operations
from hub.api.webhooks import register_webhooks
from hub.domain.errors import BadRequest
from hub.services import Services

# URL segment → (command suffix, list key in Queries.LISTS)
SETUP_KINDS = {
    "locations": "location",
    "services": "service",
    "resources": "resource",
    "customers": "customer",
    "shifts": "shift",
    "blackouts": "blackout",
    "events": "event",
}


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.data:
        return {}
    if not (request.mimetype or "").endswith("json"):
        raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("the body is not valid JSON")
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    reject_nul(data)
    return data


def api_blueprint(services: Services) -> Blueprint:
    """All /api/v1 routes, bound to ``services``."""
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
    auth = require_api_key(services)
    booking, queries = services.booking, services.queries
    install_input_guards(bp)
    install_idempotency(bp, services)

    def actor() -> str:
        from flask import g

        return f"apikey:{g.api_key['name']}"

    for segment, name in SETUP_KINDS.items():
        _register_setup(bp, auth, services, segment, name, actor)
    register_webhooks(bp, auth, services, actor)
    documents: list[dict[str, Any]] = []

    @bp.get("/openapi.json")
    def openapi() -> Response:
        # public: describing the API reveals no data. Built once, from the routes really served.
        if not documents:
            documents.append(build_openapi(served=served_operations(current_app.url_map)))
        return jsonify(documents[0])

    @bp.get("/availability")
    @auth
    def availability() -> Response:
        return jsonify(queries.availability(request.args.to_dict()))

    @bp.post("/appointments/hold")
    @auth
    def hold() -> tuple[Response, int]:
        return jsonify(booking.hold(json_body(), actor=actor())), 201

    @bp.post("/appointments")
    @auth
    def create_appointment() -> tuple[Response, int]:
        return jsonify(booking.create(json_body(), actor=actor())), 201

    @bp.get("/appointments")
    @auth
    def list_appointments() -> Response:
        return jsonify(queries.appointments(request.args.to_dict()))

    @bp.get("/appointments/<appointment_id>")
    @auth
    def get_appointment(appointment_id: str) -> Response:
        return jsonify(booking.get_reservation(appointment_id))

    @bp.put("/appointments/<appointment_id>/book")
    @auth
    def book(appointment_id: str) -> Response:
        return jsonify(booking.book(appointment_id, json_body(), actor=actor()))

    @bp.patch("/appointments/<appointment_id>")
    @auth
    def reschedule(appointment_id: str) -> Response:
        return jsonify(booking.reschedule(appointment_id, json_body(), actor=actor()))

    @bp.put("/appointments/<appointment_id>/cancel")
    @auth
    def cancel(appointment_id: str) -> Response:
        return jsonify(booking.cancel(appointment_id, json_body(), actor=actor()))

    @bp.put("/appointments/<appointment_id>/status")
    @auth
    def set_status(appointment_id: str) -> Response:
        return jsonify(booking.set_status(appointment_id, json_body(), actor=actor()))

    return bp


def _register_setup(
    bp: Blueprint, auth: Any, services: Services, segment: str, name: str, actor: Any
) -> None:
    """GET (list and one), POST, PATCH and DELETE for one set-up kind."""
    booking, queries = services.booking, services.queries

    def create() -> tuple[Response, int]:
        return jsonify(getattr(booking, f"create_{name}")(json_body(), actor=actor())), 201

    def listing() -> Response:
        allow_query("limit", "offset", *LIST_FILTERS[segment])
        return jsonify(queries.list(segment, request.args.to_dict()))

    def one(obj_id: str) -> Response:
        return jsonify(queries.get(segment, obj_id))

    def update(obj_id: str) -> Response:
        return jsonify(getattr(booking, f"update_{name}")(obj_id, json_body(), actor=actor()))

    def delete(obj_id: str) -> tuple[str, int]:
        getattr(booking, f"delete_{name}")(obj_id, actor=actor())
        return "", 204

    bp.add_url_rule(f"/{segment}", f"{segment}_create", auth(create), methods=["POST"])
    bp.add_url_rule(f"/{segment}", f"{segment}_list", auth(listing), methods=["GET"])
    bp.add_url_rule(f"/{segment}/<obj_id>", f"{segment}_get", auth(one), methods=["GET"])
    bp.add_url_rule(f"/{segment}/<obj_id>", f"{segment}_update", auth(update), methods=["PATCH"])
    bp.add_url_rule(f"/{segment}/<obj_id>", f"{segment}_delete", auth(delete), methods=["DELETE"])
