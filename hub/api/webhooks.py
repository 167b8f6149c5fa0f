"""/api/v1/webhooks: the booking system's outbound webhook subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from hub.api.guards import allow_query
from hub.services import Services


def register_webhooks(
    bp: Blueprint, auth: Callable[..., Any], services: Services, actor: Callable[[], str]
) -> None:
    """GET (list and one), POST, PATCH and DELETE for webhook subscriptions."""
    from hub.api.v1 import json_body  # the one body reader of the v1 API

    booking, box = services.booking, services.secrets

    def create() -> tuple[Response, int]:
        return jsonify(booking.create_webhook(json_body(), box=box, actor=actor())), 201

    def listing() -> Response:
        allow_query("limit", "offset")
        return jsonify(booking.list_webhooks(request.args.to_dict()))

    def one(webhook_id: str) -> Response:
        return jsonify(booking.get_webhook(webhook_id))

    def update(webhook_id: str) -> Response:
        return jsonify(booking.update_webhook(webhook_id, json_body(), box=box, actor=actor()))

    def delete(webhook_id: str) -> tuple[str, int]:
        booking.delete_webhook(webhook_id, actor=actor())
        return "", 204

    bp.add_url_rule("/webhooks", "webhooks_create", auth(create), methods=["POST"])
    bp.add_url_rule("/webhooks", "webhooks_list", auth(listing), methods=["GET"])
    bp.add_url_rule("/webhooks/<webhook_id>", "webhooks_get", auth(one), methods=["GET"])
    bp.add_url_rule("/webhooks/<webhook_id>", "webhooks_update", auth(update), methods=["PATCH"])
    bp.add_url_rule("/webhooks/<webhook_id>", "webhooks_delete", auth(delete), methods=["DELETE"])
