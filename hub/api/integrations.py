"""Integrations API (/api/v1/integrations…) and the push-notification endpoint (/hooks/<id>).

Integrations are created and changed through booking commands; resync, dead letters and
confirmation of mass deletions go through the sync engine.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from hub.api.auth import require_api_key
from hub.api.v1 import json_body
from hub.booking.integrations import integration_view
from hub.domain.errors import Invalid, NotFound
from hub.domain.timerange import iso_z, utcnow
from hub.services import Services
from hub.store.models import Integration, Outbox
from hub.sync.engine import SyncEngine
from hub.sync.outbox import retry_dead

MAX_HOOK_BYTES = 256 * 1024


def _view(services: Services, engine: SyncEngine, i: Integration) -> dict[str, Any]:
    out = integration_view(i)
    cls = engine.connector_class_for(i.provider)
    if cls is not None and cls.auth_scheme == "oauth2":
        from hub.api.oauth import connect_url

        out["connectUrl"] = connect_url(services, i.provider, i.id)
    return out


def integrations_blueprint(services: Services, engine: SyncEngine | None = None) -> Blueprint:
    """All integration routes, bound to ``services``."""
    bp = Blueprint("integrations", __name__)
    auth = require_api_key(services)
    booking, db = services.booking, services.db
    engine = engine or SyncEngine(services)

    def actor() -> str:
        from flask import g

        return f"apikey:{g.api_key['name']}"

    def load(integration_id: str) -> Integration:
        with db.reader() as s:
            i = s.get(Integration, integration_id)
            if i is None:
                raise NotFound(f"integration {integration_id} does not exist")
            s.expunge(i)
            return i

    def counts(integration_id: str) -> dict[str, int]:
        with db.reader() as s:
            rows = s.execute(
                select(Outbox.status, func.count())
                .where(
                    Outbox.integration_id == integration_id, Outbox.status.in_(("pending", "dead"))
                )
                .group_by(Outbox.status)
            ).all()
        out = {"pending": 0, "dead": 0}
        out.update({status: int(n) for status, n in rows})
        return out

    def full_view(integration_id: str) -> dict[str, Any]:
        view = _view(services, engine, load(integration_id))
        view["deliveries"] = counts(integration_id)
        return view

    @bp.get("/api/v1/integrations")
    @auth
    def listing() -> Response:
        with db.reader() as s:
            rows = list(
                s.scalars(select(Integration).order_by(Integration.created_at, Integration.id))
            )
            for r in rows:
                s.expunge(r)
        data = [_view(services, engine, r) for r in rows]
        return jsonify({"data": data, "count": len(data), "total": len(data)})

    @bp.post("/api/v1/integrations")
    @auth
    def create() -> tuple[Response, int]:
        created = booking.create_integration(json_body(), actor=actor())
        return jsonify(full_view(created["id"])), 201

    @bp.get("/api/v1/integrations/<integration_id>")
    @auth
    def one(integration_id: str) -> Response:
        return jsonify(full_view(integration_id))

    @bp.patch("/api/v1/integrations/<integration_id>")
    @auth
    def update(integration_id: str) -> Response:
        body = json_body()
        booking.update_integration(integration_id, body, actor=actor())
        if "credentials" in body or body.get("status") == "Active":
            engine.reconnected(integration_id)
        return jsonify(full_view(integration_id))

    @bp.delete("/api/v1/integrations/<integration_id>")
    @auth
    def remove(integration_id: str) -> tuple[str, int]:
        info = engine.integration(integration_id)
        if info is not None and info.cursor.get("channel") and info.status == "Active":
            engine.stop_channel_quietly(info)
        booking.delete_integration(integration_id, actor=actor())
        return "", 204

    @bp.post("/api/v1/integrations/<integration_id>/resync")
    @auth
    def resync(integration_id: str) -> tuple[Response, int]:
        load(integration_id)
        summary = engine.reconcile(integration_id)
        body = {
            "integration": full_view(integration_id),
            "result": {
                "changes": summary.changes,
                "busyChanged": summary.busy_changed,
                "moved": summary.moved,
                "cancelled": summary.cancelled,
                "putBack": summary.put_back,
                "duplicatesRemoved": summary.duplicates_removed,
                "repaired": summary.repaired,
                "guardedDeletions": summary.guarded,
                "error": summary.error,
            },
        }
        return jsonify(body), 200

    @bp.post("/api/v1/integrations/<integration_id>/confirm-deletions")
    @auth
    def confirm(integration_id: str) -> Response:
        summary = engine.confirm_deletions(integration_id)
        return jsonify(
            {
                "integration": full_view(integration_id),
                "busyChanged": summary.busy_changed,
                "cancelled": summary.cancelled,
            }
        )

    @bp.get("/api/v1/integrations/<integration_id>/deadletters")
    @auth
    def deadletters(integration_id: str) -> Response:
        load(integration_id)
        with db.reader() as s:
            rows = s.scalars(
                select(Outbox)
                .where(Outbox.integration_id == integration_id, Outbox.status == "dead")
                .order_by(Outbox.id)
                .limit(500)
            ).all()
            data = [
                {
                    "id": r.id,
                    "object": r.object_key,
                    "event": r.event,
                    "attempts": r.attempts,
                    "lastError": r.last_error,
                    "createdAt": iso_z(r.created_at),
                    "failedAt": iso_z(r.done_at) if r.done_at else None,
                }
                for r in rows
            ]
        return jsonify({"data": data, "count": len(data)})

    @bp.post("/api/v1/integrations/<integration_id>/deadletters/retry")
    @auth
    def retry(integration_id: str) -> Response:
        load(integration_id)
        body = json_body()
        delivery_id = body.get("id")
        if delivery_id is not None and (
            isinstance(delivery_id, bool) or not isinstance(delivery_id, int)
        ):
            raise Invalid("id must be the number of one dead letter (or leave it out to retry all)")
        n = retry_dead(db, delivery_id=delivery_id, integration_id=integration_id, now=utcnow())
        return jsonify({"retried": n})

    @bp.post("/hooks/<integration_id>")
    def hook(integration_id: str) -> Response:
        # No API key: providers call this. Each connector verifies its own signature/token.
        body = request.get_data(cache=False)[:MAX_HOOK_BYTES]
        status, ctype, text = engine.handle_notification(
            integration_id, dict(request.headers), body, request.args.to_dict()
        )
        return Response(text, status=status, mimetype=ctype)

    return bp
