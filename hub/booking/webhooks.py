"""Webhook subscriptions of the booking system: create, change, delete; the secret is encrypted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from hub.booking.base import CommandBase
from hub.booking.queries import page_args
from hub.booking.unit import Change, UnitOfWork
from hub.crypto import SecretBox, new_token
from hub.domain.errors import Invalid, NotFound
from hub.domain.timerange import iso_z
from hub.store.models import Webhook
from hub.store.types import new_id

_CRUD = ("created", "updated", "deleted")
# Every event a subscription may name; "*" means all of them (and any added later).
WEBHOOK_EVENTS: tuple[str, ...] = (
    "appointment.created",
    "appointment.updated",
    "appointment.cancelled",
    "appointment.status_changed",
    "appointment.held",
    "appointment.expired",
    "shift.created",
    "shift.updated",
    "shift.reassigned",
    "shift.deleted",
    *(f"{kind}.{op}" for kind in ("blackout", "event") for op in _CRUD),
    *(f"{kind}.{op}" for kind in ("location", "service", "resource", "customer") for op in _CRUD),
    "invite.replied",
    "reminder.due",
    "integration.status_changed",
)
WEBHOOK_FIELDS = {"url", "events", "secret", "active"}


def webhook_view(w: Webhook) -> dict[str, Any]:
    """A subscription as the API shows it (never its secret)."""
    return {
        "id": w.id,
        "url": w.url,
        "events": list(w.events or []),
        "active": w.active,
        "createdAt": iso_z(w.created_at),
        "updatedAt": iso_z(w.updated_at),
    }


def _url(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise Invalid("url must be an http(s) URL such as https://booking.example.com/hooks")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http(s) URL such as https://booking.example.com/hooks")
    return value.strip()


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise Invalid('events must be a non-empty list such as ["appointment.created"] or ["*"]')
    unknown = [e for e in value if e != "*" and e not in WEBHOOK_EVENTS]
    if unknown:
        raise Invalid(
            f"unknown event(s): {', '.join(unknown)}; known events are "
            f'{", ".join(WEBHOOK_EVENTS)}, or "*" for all'
        )
    return list(dict.fromkeys(value))


def _secret(value: Any) -> str:
    # Short secrets are the owner's call; the generated default is 32 random bytes.
    if not isinstance(value, str) or not value or len(value) > 500:
        raise Invalid("secret must be a string of 1 to 500 characters (leave it out to get one)")
    return value


class WebhookCommands(CommandBase):
    """Outbound webhook subscriptions; deliveries leave from the outbox (hub.sync.webhooks)."""

    def _webhook_change(self, uow: UnitOfWork, w: Webhook, op: str) -> None:
        uow.record(
            Change(
                "webhook",
                w.id,
                op,
                f"webhook.{op}d",
                refs={f"webhook:{w.id}"},
                data={"webhook": webhook_view(w)},
            )
        )

    def create_webhook(
        self, data: dict[str, Any], *, box: SecretBox, actor: str = "api"
    ) -> dict[str, Any]:
        """Subscribe ``url`` to ``events``; returns the view plus the secret (shown this once)."""
        if not isinstance(data, dict):
            raise Invalid("the body for a webhook must be a JSON object")
        unknown = sorted(set(data) - WEBHOOK_FIELDS)
        if unknown:
            raise Invalid(f"unknown field(s) for a webhook: {', '.join(unknown)}")
        if "url" not in data:
            raise Invalid("url is required for a webhook")
        if "events" not in data:
            raise Invalid('events is required for a webhook, e.g. ["appointment.created"]')
        url, events = _url(data["url"]), _events(data["events"])
        secret = _secret(data["secret"]) if data.get("secret") is not None else new_token("whsec_")
        active = data.get("active", True)
        if not isinstance(active, bool):
            raise Invalid("active must be true or false")
        with self.uow(actor) as uow:
            w = Webhook(
                id=new_id(),
                url=url,
                events=events,
                secret_encrypted=box.encrypt_json(secret),
                active=active,
                created_at=uow.now,
                updated_at=uow.now,
            )
            uow.session.add(w)
            uow.session.flush()
            self._webhook_change(uow, w, "create")
            return {**webhook_view(w), "secret": secret}

    def update_webhook(
        self, webhook_id: str, data: dict[str, Any], *, box: SecretBox, actor: str = "api"
    ) -> dict[str, Any]:
        """Change a subscription's url, events, secret or active flag."""
        if not isinstance(data, dict) or not data:
            raise Invalid("give at least one field to change on a webhook")
        unknown = sorted(set(data) - WEBHOOK_FIELDS)
        if unknown:
            raise Invalid(f"unknown field(s) for a webhook: {', '.join(unknown)}")
        with self.uow(actor) as uow:
            w = self.get(uow.session, Webhook, webhook_id, lock=True)
            if "url" in data:
                w.url = _url(data["url"])
            if "events" in data:
                w.events = _events(data["events"])
            if "secret" in data:
                w.secret_encrypted = box.encrypt_json(_secret(data["secret"]))
            if "active" in data:
                if not isinstance(data["active"], bool):
                    raise Invalid("active must be true or false")
                w.active = data["active"]
            w.updated_at = uow.now
            uow.session.flush()
            self._webhook_change(uow, w, "update")
            return webhook_view(w)

    def deactivate_webhook(self, webhook_id: str, reason: str, *, actor: str = "worker") -> None:
        """Stop deliveries to a subscription whose receiver said it is gone (HTTP 410)."""
        with self.uow(actor) as uow:
            w = uow.session.get(Webhook, webhook_id)
            if w is None or not w.active:
                return
            w.active = False
            w.updated_at = uow.now
            uow.session.flush()
            self._webhook_change(uow, w, "update")
            uow.changes[-1].data["reason"] = reason

    def delete_webhook(self, webhook_id: str, *, actor: str = "api") -> None:
        """Remove a subscription and every delivery still owed to it."""
        with self.uow(actor) as uow:
            w = self.get(uow.session, Webhook, webhook_id, lock=True)
            self._webhook_change(uow, w, "delete")
            uow.session.delete(w)
            uow.session.flush()

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        """One subscription."""
        with self.db.reader() as s:
            w = s.get(Webhook, webhook_id)
            if w is None:
                raise NotFound(f"webhook {webhook_id} does not exist")
            return webhook_view(w)

    def list_webhooks(self, args: dict[str, Any]) -> dict[str, Any]:
        """A page of subscriptions."""
        limit, offset = page_args(args)
        with self.db.reader() as s:
            total = s.scalar(select(func.count()).select_from(Webhook))
            rows = s.scalars(
                select(Webhook).order_by(Webhook.created_at, Webhook.id).limit(limit).offset(offset)
            ).all()
            return {
                "data": [webhook_view(w) for w in rows],
                "count": len(rows),
                "total": total,
                "limit": limit,
                "offset": offset,
            }

    def webhook_secret(self, webhook_id: str, box: SecretBox) -> str | None:
        """The decrypted secret of a subscription (for signing deliveries), None if it is gone."""
        with self.db.reader() as s:
            w = s.get(Webhook, webhook_id)
            return None if w is None else box.decrypt_json(w.secret_encrypted)
