"""The sync engine: pushes calhub's objects to provider calendars and keeps integration status.

Generic over connectors: it reads their capability flags and never asks which provider it has.
Everything it learns is recorded through booking commands (status, links, cursors); the outbox
worker calls ``handle`` for each "integration" delivery. Inbound work lives in ``inbound.py``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from hub.domain.timerange import utcnow
from hub.providers import connector_class
from hub.providers.base import (
    AuthError,
    Capability,
    Connector,
    NotFoundError,
    ProviderError,
    RejectedError,
    RemoteRef,
    TransientError,
)
from hub.providers.http import make_session
from hub.services import Services
from hub.store.models import Integration, RemoteLink
from hub.sync.delivery import Delivery, DeliveryError
from hub.sync.inbound import InboundSync
from hub.sync.mapping import (
    DELETED,
    Desired,
    IntegrationInfo,
    LinkInfo,
    content_hash,
    desired_state,
)
from hub.sync.outbox import release_integration

logger = logging.getLogger(__name__)

ERROR_WAIT_SECONDS = 30.0  # how often a delivery for an integration in Error looks again
SUCCESS_NOTE_EVERY = 2.0  # seconds between last-success bookkeeping writes per integration
CHANNEL_RENEW_MARGIN = 0.2  # renew a push channel when less than this share of its life is left
CHANNEL_LIFECYCLE = ("reauthorizationRequired", "subscriptionRemoved")  # Graph lifecycle events


class CalendarGone(ProviderError):
    """The remote calendar itself is missing: the integration needs a person."""


class SyncEngine(InboundSync):
    """See module docstring. One per process; thread-safe."""

    def __init__(self, services: Services, *, http_timeout: float | None = None) -> None:
        self.services = services
        self.db = services.db
        self.booking = services.booking
        self.settings = services.settings
        self.http_timeout = http_timeout or services.settings.sync_http_timeout_seconds
        self._connectors: dict[str, tuple[int, Connector]] = {}
        self._lock = threading.Lock()
        self._last_note: dict[str, float] = {}
        self._init_inbound()

    # ---- integrations and connectors -------------------------------------------------------

    def integration(self, integration_id: str | None) -> IntegrationInfo | None:
        """A snapshot of one integration (None when it no longer exists)."""
        if not integration_id:
            return None
        with self.db.reader() as s:
            row = s.get(Integration, integration_id)
            return IntegrationInfo.of(row) if row is not None else None

    def integrations(self) -> list[IntegrationInfo]:
        """Every integration."""
        with self.db.reader() as s:
            return [
                IntegrationInfo.of(i)
                for i in s.scalars(select(Integration).order_by(Integration.created_at))
            ]

    def connector(self, info: IntegrationInfo) -> Connector:
        """The connector for an integration (cached per integration version)."""
        with self._lock:
            cached = self._connectors.get(info.id)
            if cached is not None and cached[0] == info.version:
                return cached[1]
        cls = connector_class(info.provider)
        box = self.services.secrets
        creds = box.decrypt_json(info.credentials_encrypted) if info.credentials_encrypted else {}
        connect = min(5.0, self.http_timeout)
        conn = cls(
            dict(info.config),
            creds,
            make_session((connect, self.http_timeout)),
            save_credentials=self._saver(info.id),
        )
        with self._lock:
            self._connectors[info.id] = (info.version, conn)
        return conn

    @staticmethod
    def connector_class_for(provider: str) -> type[Connector] | None:
        """The registered connector class for a provider name, or None."""
        from hub.providers import REGISTRY

        return REGISTRY.get(provider)

    def stop_channel_quietly(self, info: IntegrationInfo) -> None:
        """Close an integration's push channel; failures only get logged."""
        channel = info.cursor.get("channel")
        if not channel:
            return
        try:
            self.connector(info).stop_watch(channel)
        except ProviderError as e:
            logger.info("could not stop the channel of %s: %s", info.name, e)

    def _saver(self, integration_id: str) -> Callable[[dict[str, Any]], None]:
        def save(credentials: dict[str, Any]) -> None:
            self.booking.save_integration_credentials(integration_id, credentials)

        return save

    def link(self, integration_id: str, entity: str, entity_id: str) -> LinkInfo | None:
        """The remote link of one object, if any."""
        with self.db.reader() as s:
            row = s.scalars(
                select(RemoteLink).where(
                    RemoteLink.integration_id == integration_id,
                    RemoteLink.entity == entity,
                    RemoteLink.entity_id == entity_id,
                )
            ).first()
            return LinkInfo.of(row) if row is not None else None

    # ---- status -----------------------------------------------------------------------------

    def note_success(self, integration_id: str) -> None:
        """Record a success, at most every couple of seconds per integration."""
        now = time.monotonic()
        if now - self._last_note.get(integration_id, 0.0) < SUCCESS_NOTE_EVERY:
            return
        self._last_note[integration_id] = now
        self.booking.note_integration_success(integration_id)

    def fail_integration(self, info: IntegrationInfo, message: str, kind: str) -> None:
        """Turn one integration to Error with a reason a person understands; the others go on."""
        logger.error("integration %s (%s) needs attention: %s", info.name, info.id, message)
        self.booking.set_integration_status(info.id, "Error", message, kind=kind)
        with self._lock:
            self._connectors.pop(info.id, None)

    def reconnected(self, integration_id: str) -> int:
        """After new credentials: forget the old connector and release the waiting deliveries."""
        with self._lock:
            self._connectors.pop(integration_id, None)
        return release_integration(self.db, integration_id, utcnow())

    # ---- outbound ---------------------------------------------------------------------------

    def handle(self, d: Delivery) -> None:
        """The outbox handler for target "integration"."""
        info = self.integration(d.integration_id)
        if info is None or info.status == "Disconnected":
            return  # nothing is owed to a removed or disconnected integration
        if info.status == "Error":
            raise DeliveryError(
                f"waiting: integration {info.name} is in Error ({info.status_message})",
                defer=True,
                retry_after=ERROR_WAIT_SECONDS,
            )
        entity, _, entity_id = d.object_key.partition(":")
        try:
            self.sync_object(info, entity, entity_id)
        except AuthError as e:
            self.fail_integration(info, str(e), "auth")
            raise DeliveryError(
                str(e), auth=True, defer=True, retry_after=ERROR_WAIT_SECONDS
            ) from e
        except CalendarGone as e:
            self.fail_integration(info, str(e), "calendar")
            raise DeliveryError(str(e), defer=True, retry_after=ERROR_WAIT_SECONDS) from e
        except TransientError as e:
            raise DeliveryError(str(e), retry_after=e.retry_after) from e
        except (RejectedError, NotFoundError) as e:
            raise DeliveryError(str(e), permanent=True) from e
        self.note_success(info.id)

    def sync_object(
        self, info: IntegrationInfo, entity: str, entity_id: str, *, force: bool = False
    ) -> str:
        """Make the remote match calhub for one object; returns what it did."""
        with self.db.reader() as s:  # one read transaction for the link and the object
            row = s.scalars(
                select(RemoteLink).where(
                    RemoteLink.integration_id == info.id,
                    RemoteLink.entity == entity,
                    RemoteLink.entity_id == entity_id,
                )
            ).first()
            link = LinkInfo.of(row) if row is not None else None
            fallback = (link.synced_version + 1) if link else 1
            desired = desired_state(s, info, entity, entity_id, fallback)
        return self.apply_desired(info, desired, link, force=force)

    def apply_desired(
        self, info: IntegrationInfo, desired: Desired, link: LinkInfo | None, *, force: bool = False
    ) -> str:
        """Push, update or delete the remote event so it shows ``desired``."""
        conn = self.connector(info)
        if not conn.capabilities & Capability.PUSH:
            return "skipped"
        if desired.event is not None and not conn.supports(desired.event):
            # e.g. a recurring shift on a provider without recurrence: not shown (nor half-shown)
            desired = Desired(desired.entity, desired.entity_id, desired.version, None)
        if desired.event is None:
            if link is None or (link.deleted and not force):
                return "skipped"
            conn.delete(RemoteRef(link.remote_id, link.etag))
            self.booking.link_remote(
                info.id,
                desired.entity,
                desired.entity_id,
                link.remote_id,
                etag=None,
                version=desired.version,
                content_hash=DELETED,
            )
            return "deleted"
        digest = content_hash(desired.event)
        live_link = link is not None and not link.deleted
        if not force and live_link and link.synced_version >= desired.version:
            return "skipped"  # a stale delivery: a newer state is already on the remote
        if not force and live_link and link.content_hash == digest:
            self.booking.link_remote(
                info.id,
                desired.entity,
                desired.entity_id,
                link.remote_id,
                etag=link.etag,
                version=desired.version,
                content_hash=digest,
            )
            return "unchanged"
        existing = RemoteRef(link.remote_id, link.etag) if link is not None else None
        if existing is None:
            predicted = conn.remote_id_for(desired.entity, desired.entity_id)
            if predicted:
                # Write-ahead: if this process dies before the answer is recorded, the next
                # delivery still knows where the event may be (update or delete it there).
                self.booking.link_remote(
                    info.id,
                    desired.entity,
                    desired.entity_id,
                    predicted,
                    etag=None,
                    version=0,
                    content_hash=None,
                )
        try:
            result = conn.push(desired.event, existing)
        except NotFoundError as e:
            if existing is None:
                raise CalendarGone(str(e)) from e
            result = conn.push(desired.event, None)  # deleted behind our back: create it again
        self.booking.link_remote(
            info.id,
            desired.entity,
            desired.entity_id,
            result.remote_id,
            etag=result.etag,
            version=desired.version,
            content_hash=digest,
        )
        return "updated" if live_link else "created"

    # ---- push channels ----------------------------------------------------------------------

    def channel_token(self, integration_id: str, nonce: str) -> str:
        """The secret a push channel carries: derived from the key, so the DB alone cannot forge it."""
        return self.services.secrets.sign(f"hook:{integration_id}:{nonce}")

    def hook_url(self, integration_id: str) -> str:
        """Where providers deliver push notifications for an integration."""
        return f"{self.settings.base_url.rstrip('/')}/hooks/{integration_id}"

    def ensure_channel(
        self, info: IntegrationInfo, *, force: bool = False, renew: bool = False
    ) -> dict[str, Any] | None:
        """Open a push channel, or renew it before it expires (open the new one, then stop the old)."""
        conn = self.connector(info)
        if not conn.capabilities & Capability.WATCH or info.status != "Active":
            return None
        old = info.cursor.get("channel")
        if old and not force and not renew and not _expiring(old):
            return old
        renewer = getattr(conn, "renew_watch", None)
        if old and renewer is not None and not force:
            # Providers that extend a channel in place (Graph subscriptions): keep its token.
            try:
                renewed = renewer(old)
            except NotFoundError:
                pass  # it is gone: open a new one below
            else:
                channel = {**renewed, "openedAt": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
                self.booking.set_integration_cursor(info.id, channel=channel)
                return channel
        import secrets as _secrets

        nonce = _secrets.token_urlsafe(12)
        opened = conn.watch(self.hook_url(info.id), self.channel_token(info.id, nonce))
        channel = {**opened, "nonce": nonce, "openedAt": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.booking.set_integration_cursor(info.id, channel=channel)
        if old:
            try:
                conn.stop_watch(old)
            except ProviderError as e:  # it expires on its own; log and go on
                logger.info("could not stop the old channel of %s: %s", info.name, e)
        return channel

    def handle_notification(
        self, integration_id: str, headers: dict[str, str], body: bytes, query: dict[str, str]
    ) -> tuple[int, str, str]:
        """Verify an inbound push notification; answer its handshake or start a pull."""
        info = self.integration(integration_id)
        if info is None:
            return 404, "text/plain", "unknown integration"
        conn = self.connector(info)
        if not conn.capabilities & Capability.WEBHOOK:
            return 404, "text/plain", "this integration does not take notifications"
        channel = info.cursor.get("channel")
        conn.channel = channel
        try:
            note = conn.parse_notification(headers, body, query)
        except RejectedError as e:
            logger.warning("refused a notification for %s: %s", info.name, e)
            return 403, "text/plain", str(e)
        if note.token is not None:
            expected = (
                self.channel_token(info.id, channel["nonce"])
                if channel and channel.get("nonce")
                else ""
            )
            if not expected or not hmac.compare_digest(expected, note.token):
                logger.warning("refused a notification for %s: wrong channel token", info.name)
                return 403, "text/plain", "channel token does not match"
        state = note.resource_state or ""
        if info.status == "Active" and any(k in state for k in CHANNEL_LIFECYCLE):
            # Graph lifecycle events: the subscription needs renewing (reauthorizationRequired)
            # or is gone (subscriptionRemoved). Answer at once; fix the channel in the background.
            threading.Thread(
                target=self._reopen_channel,
                args=(info.id, "subscriptionRemoved" in state),
                name=f"channel-{info.id}",
                daemon=True,
            ).start()
        if state not in ("sync", "handshake") and info.status == "Active":
            self.request_pull(info.id)  # a "missed" lifecycle event also lands here
        return note.reply or (200, "text/plain", "")

    def _reopen_channel(self, integration_id: str, gone: bool) -> None:
        info = self.integration(integration_id)
        if info is None:
            return
        try:
            if gone:
                self.booking.set_integration_cursor(info.id, channel=None)
                self.ensure_channel(self.integration(integration_id) or info)
            else:
                self.ensure_channel(info, renew=True)
        except ProviderError as e:  # the periodic poll tries again
            logger.info("channel of %s not reopened: %s", info.name, e)


def _expiring(channel: dict[str, Any]) -> bool:
    from datetime import datetime

    try:
        exp = datetime.fromisoformat(str(channel["expiration"]).replace("Z", "+00:00"))
        opened = datetime.fromisoformat(
            str(channel.get("openedAt", channel["expiration"])).replace("Z", "+00:00")
        )
    except (KeyError, ValueError):
        return True
    now = utcnow()
    life = max((exp - opened).total_seconds(), 0.0)
    return (exp - now).total_seconds() < max(60.0, life * CHANNEL_RENEW_MARGIN)
