"""The outbox handler for target "webhook": a signed JSON POST to the subscriber's URL."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import select

from hub.crypto import SecretBox
from hub.domain.timerange import iso_z
from hub.providers.http import make_session, parse_retry_after
from hub.store.db import Database
from hub.store.models import Outbox, Webhook
from hub.sync.delivery import Delivery, DeliveryError
from hub.sync.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)


class WebhookSender:
    """Delivers one outbox row to its subscription; raises DeliveryError for the retry policy."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        *,
        on_gone: Any = None,
        timeout: tuple[float, float] = (5.0, 10.0),
    ) -> None:
        self.db = db
        self.box = box
        self.on_gone = on_gone  # callable(webhook_id, reason): a command that deactivates it
        self.session: requests.Session = make_session(timeout)

    def _load(self, d: Delivery) -> tuple[Webhook | None, datetime | None]:
        with self.db.reader() as s:
            hook = s.get(Webhook, d.webhook_id) if d.webhook_id else None
            created = s.scalar(select(Outbox.created_at).where(Outbox.id == d.id))
            if hook is not None:
                s.expunge(hook)
            return hook, created

    @staticmethod
    def body(d: Delivery, created: datetime | None) -> bytes:
        """The JSON body: the same bytes on every attempt of one delivery."""
        payload = {
            "id": f"evt_{d.seq}",
            "event": d.event,
            "createdAt": iso_z(created) if created else None,
            "data": d.payload.get("data", {}),
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def __call__(self, d: Delivery) -> None:
        """POST the delivery; 2xx settles it, anything else raises DeliveryError."""
        hook, created = self._load(d)
        if hook is None or not hook.active:
            return  # unsubscribed meanwhile: nothing is owed any more
        secret = self.box.decrypt_json(hook.secret_encrypted)
        body = self.body(d, created)
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(secret, ts, body),
            EVENT_HEADER: d.event,
            DELIVERY_HEADER: f"dlv_{d.id}",
        }
        try:
            resp = self.session.post(hook.url, data=body, headers=headers, allow_redirects=False)
        except requests.Timeout as e:
            raise DeliveryError(f"webhook {hook.url} timed out") from e
        except requests.RequestException as e:
            raise DeliveryError(f"webhook {hook.url} unreachable: {e.__class__.__name__}") from e
        if 200 <= resp.status_code < 300:
            return
        if resp.status_code == 410:
            if self.on_gone is not None:
                self.on_gone(hook.id, f"{hook.url} answered 410 Gone")
            raise DeliveryError(f"webhook {hook.url} answered 410 Gone", permanent=True)
        raise DeliveryError(
            f"webhook {hook.url} answered {resp.status_code}",
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
        )
