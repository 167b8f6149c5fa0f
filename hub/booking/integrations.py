"""Integration commands: connections to external calendars, their status, links and busy time.

Integrations are data changed through commands like everything else. The sync engine
(``hub.sync``) calls these to record what it learned from a provider — status, cursors, remote
links, external busy blocks — so providers never touch the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from hub.booking.base import CommandBase, reject_unknown, require_str
from hub.booking.unit import Change, UnitOfWork
from hub.crypto import SecretBox
from hub.domain.errors import Invalid
from hub.domain.timerange import iso_z
from hub.store.models import (
    BusyBlock,
    Integration,
    Location,
    RemoteLink,
    Reservation,
    Resource,
)
from hub.store.types import new_id

STATUSES = ("Active", "Error", "Disconnected")
CREATE_FIELDS = {"provider", "name", "scope", "config", "credentials"}
UPDATE_FIELDS = {"name", "config", "credentials", "status"}


def integration_view(i: Integration) -> dict[str, Any]:
    """An integration as the API shows it: never its credentials."""
    scope = {"resourceId": i.resource_id} if i.resource_id else {"locationId": i.location_id}
    cursor = i.cursor or {}
    channel = cursor.get("channel") or {}
    return {
        "id": i.id,
        "provider": i.provider,
        "name": i.name,
        "scope": scope,
        "config": i.config or {},
        "status": i.status,
        "statusMessage": i.status_message,
        "lastSuccessAt": iso_z(i.last_success_at) if i.last_success_at else None,
        "lastErrorAt": iso_z(i.last_error_at) if i.last_error_at else None,
        "hasCredentials": i.credentials_encrypted is not None,
        "pendingDeletions": (cursor.get("guard") or {}).get("count"),
        "channelExpiresAt": channel.get("expiration"),
        "version": i.version,
        "createdAt": iso_z(i.created_at),
        "updatedAt": iso_z(i.updated_at),
    }


def _scope(session: Any, scope: object) -> tuple[str | None, str | None]:
    """(location_id, resource_id) from ``{"resourceId"}`` or ``{"locationId"}``."""
    if not isinstance(scope, dict) or len(scope) != 1:
        raise Invalid('scope must be {"resourceId": …} (a staff member) or {"locationId": …}')
    if "resourceId" in scope:
        res = (
            session.get(Resource, scope["resourceId"])
            if isinstance(scope["resourceId"], str)
            else None
        )
        if res is None:
            raise Invalid(f"scope.resourceId {scope['resourceId']!r} is not a resource")
        return res.location_id, res.id
    if "locationId" in scope:
        loc = (
            session.get(Location, scope["locationId"])
            if isinstance(scope["locationId"], str)
            else None
        )
        if loc is None:
            raise Invalid(f"scope.locationId {scope['locationId']!r} is not a location")
        return loc.id, None
    raise Invalid('scope must be {"resourceId": …} or {"locationId": …}')


class IntegrationCommands(CommandBase):
    """Commands on integrations, remote links and provider busy blocks."""

    # Set once by ``build_services``: credentials are sealed with the configured key.
    secret_box: SecretBox | None = None

    # ---- helpers -----------------------------------------------------------------------------

    def _box(self) -> SecretBox:
        if self.secret_box is None:
            raise RuntimeError("BookingService.secret_box is not set (build_services sets it)")
        return self.secret_box

    def _validate_provider(
        self, provider: object, config: object, credentials: object
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from hub.providers import connector_class

        if not isinstance(provider, str):
            raise Invalid('provider is required, e.g. "google"')
        cls = connector_class(provider)
        if not isinstance(config, dict):
            raise Invalid("config must be a JSON object")
        if credentials is not None and not isinstance(credentials, dict):
            raise Invalid("credentials must be a JSON object")
        try:
            cls.validate_setup(config, credentials or {})
        except ValueError as e:
            raise Invalid(str(e)) from e
        return config, credentials or {}

    def _announce_integration(
        self, uow: UnitOfWork, i: Integration, op: str, event: str, **data: Any
    ) -> None:
        refs = {f"integration:{i.id}"}
        if i.location_id:
            refs.add(f"location:{i.location_id}")
        uow.record(
            Change(
                entity="integration",
                entity_id=i.id,
                op=op,
                event=event,
                version=i.version,
                refs=refs,
                data={"integration": integration_view(i), **data},
            )
        )

    def _set_status(
        self,
        uow: UnitOfWork,
        i: Integration,
        status: str,
        message: str | None,
        kind: str | None = None,
    ) -> bool:
        previous = i.status
        if status == "Error":
            i.last_error_at = uow.now
        cursor = dict(i.cursor or {})
        cursor["error"] = kind if status == "Error" else None
        if status != "Error":
            cursor.pop("guard", None)  # leaving Error settles a pending mass-deletion question
        i.cursor = cursor
        if previous == status and i.status_message == message:
            return False
        i.status, i.status_message = status, message
        i.version += 1
        i.updated_at = uow.now
        uow.session.flush()
        self._announce_integration(
            uow, i, "update", "integration.status_changed", previous=previous, message=message
        )
        return True

    # ---- commands ----------------------------------------------------------------------------

    def create_integration(
        self, data: dict[str, Any], *, actor: str = "api", origin: str | None = None
    ) -> dict[str, Any]:
        """Connect an external calendar for a staff member or a location."""
        if not isinstance(data, dict):
            raise Invalid("the body for an integration must be a JSON object")
        reject_unknown(data, CREATE_FIELDS, "an integration")
        name = require_str(data, "name", max_len=200)
        config, credentials = self._validate_provider(
            data.get("provider"), data.get("config", {}), data.get("credentials")
        )
        with self.uow(actor, origin) as uow:
            loc_id, res_id = _scope(uow.session, data.get("scope"))
            now = uow.now
            # Only an OAuth client (no token yet) waits for the browser sign-in.
            connected = bool(set(credentials) - {"clientId", "clientSecret"})
            i = Integration(
                id=new_id(),
                provider=data["provider"],
                name=name,
                location_id=loc_id,
                resource_id=res_id,
                config=config,
                credentials_encrypted=self._box().encrypt_json(credentials)
                if credentials
                else None,
                status="Active" if connected else "Disconnected",
                status_message=None
                if connected
                else "not connected yet: sign in through connectUrl or PATCH credentials",
                cursor={},
                version=1,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(i)
            uow.session.flush()
            self._announce_integration(uow, i, "create", "integration.created")
            return integration_view(i)

    def update_integration(
        self,
        integration_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
    ) -> dict[str, Any]:
        """Rename, reconfigure, reconnect (new credentials) or disconnect/reactivate an integration."""
        if not isinstance(data, dict) or not data:
            raise Invalid("give at least one of name, config, credentials, status")
        reject_unknown(data, UPDATE_FIELDS, "an integration")
        with self.uow(actor, origin) as uow:
            i = self.get(uow.session, Integration, integration_id, lock=True)
            if "name" in data:
                i.name = require_str(data, "name", max_len=200) or i.name
            config = dict(i.config or {})
            if "config" in data:
                if not isinstance(data["config"], dict):
                    raise Invalid("config must be a JSON object")
                config.update(data["config"])
            credentials = self.integration_credentials(i) or {}
            if "credentials" in data:
                if not isinstance(data["credentials"], dict) or not data["credentials"]:
                    raise Invalid("credentials must be a non-empty JSON object")
                credentials = {**credentials, **data["credentials"]}
            self._validate_provider(i.provider, config, credentials)
            i.config = config
            if "credentials" in data:
                i.credentials_encrypted = self._box().encrypt_json(credentials)
            i.version += 1
            i.updated_at = uow.now
            uow.session.flush()
            self._announce_integration(
                uow, i, "update", "integration.updated", changed=sorted(data)
            )
            status = data.get("status")
            if status is not None and status not in ("Active", "Disconnected"):
                raise Invalid('status may be set to "Active" or "Disconnected"')
            if (
                "credentials" in data
                and status is None
                and set(credentials) - {"clientId", "clientSecret"}
            ):
                status = "Active"  # new credentials are a reconnect
            if status == "Active" and not set(credentials) - {"clientId", "clientSecret"}:
                raise Invalid("this integration has no credentials yet; connect it first")
            if status is not None:
                self._set_status(uow, i, status, None)
            return integration_view(i)

    def delete_integration(
        self, integration_id: str, *, actor: str = "api", origin: str | None = None
    ) -> None:
        """Remove an integration, its links, its busy blocks and its pending deliveries."""
        with self.uow(actor, origin) as uow:
            i = self.get(uow.session, Integration, integration_id, lock=True)
            view = integration_view(i)
            blocks = list(
                uow.session.scalars(select(BusyBlock).where(BusyBlock.integration_id == i.id))
            )
            for b in blocks:
                self._record_block(uow, b, "delete")
            self._announce_integration(uow, i, "delete", "integration.deleted")
            uow.changes[-1].data["integration"] = view
            uow.session.delete(i)
            uow.session.flush()

    def set_integration_status(
        self,
        integration_id: str,
        status: str,
        message: str | None = None,
        *,
        kind: str | None = None,
        actor: str = "sync",
    ) -> bool:
        """Record Active / Error (with a reason a person understands) / Disconnected."""
        if status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}")
        with self.uow(actor, integration_id) as uow:
            i = self.get(uow.session, Integration, integration_id, lock=True)
            return self._set_status(uow, i, status, message, kind)

    def note_integration_success(self, integration_id: str, at: datetime | None = None) -> None:
        """Bookkeeping: the integration delivered or pulled successfully (no change-log entry)."""
        with self.uow("sync", integration_id) as uow:
            i = uow.session.get(Integration, integration_id)
            if i is not None:
                i.last_success_at = at or uow.now

    def save_integration_credentials(
        self, integration_id: str, credentials: dict[str, Any]
    ) -> None:
        """Store refreshed tokens (sealed); secret rotation is not a change anyone subscribes to."""
        with self.uow("sync", integration_id) as uow:
            i = uow.session.get(Integration, integration_id)
            if i is not None:
                i.credentials_encrypted = self._box().encrypt_json(credentials)

    def integration_credentials(self, i: Integration) -> dict[str, Any] | None:
        """The decrypted credentials of a loaded integration row."""
        if i.credentials_encrypted is None:
            return None
        return self._box().decrypt_json(i.credentials_encrypted)

    def set_integration_cursor(self, integration_id: str, **parts: Any) -> None:
        """Merge engine state into the integration's cursor: ``pull``, ``channel``, ``guard``…"""
        with self.uow("sync", integration_id) as uow:
            i = uow.session.get(Integration, integration_id)
            if i is None:
                return
            cursor = dict(i.cursor or {})
            for key, value in parts.items():
                if value is None:
                    cursor.pop(key, None)
                else:
                    cursor[key] = value
            i.cursor = cursor

    # ---- remote links -------------------------------------------------------------------------

    def link_remote(
        self,
        integration_id: str,
        entity: str,
        entity_id: str,
        remote_id: str,
        *,
        etag: str | None,
        version: int,
        content_hash: str | None,
    ) -> None:
        """Upsert the remote link of one object (unique per integration and object)."""
        with self.uow("sync", integration_id) as uow:
            link = uow.session.scalars(
                select(RemoteLink)
                .where(
                    RemoteLink.integration_id == integration_id,
                    RemoteLink.entity == entity,
                    RemoteLink.entity_id == entity_id,
                )
                .with_for_update()
            ).first()
            if link is None:
                link = RemoteLink(
                    id=new_id(), integration_id=integration_id, entity=entity, entity_id=entity_id
                )
                uow.session.add(link)
            elif link.synced_version > version:
                return  # a newer state was linked meanwhile (reconciliation raced a delivery)
            link.remote_id = remote_id
            link.remote_etag = etag
            link.synced_version = version
            link.content_hash = content_hash
            link.updated_at = uow.now

    def unlink_remote(self, integration_id: str, entity: str, entity_id: str) -> None:
        """Forget the remote link of one object."""
        with self.uow("sync", integration_id) as uow:
            uow.session.execute(
                delete(RemoteLink).where(
                    RemoteLink.integration_id == integration_id,
                    RemoteLink.entity == entity,
                    RemoteLink.entity_id == entity_id,
                )
            )

    # ---- busy blocks from providers -----------------------------------------------------------

    def _record_block(self, uow: UnitOfWork, b: BusyBlock, op: str) -> None:
        refs = {f"integration:{b.integration_id}"}
        if b.resource_id:
            refs.add(f"resource:{b.resource_id}")
        uow.record(
            Change(
                entity="busy_block",
                entity_id=b.id,
                op=op,
                event=f"busy.{ {'create': 'created', 'update': 'updated', 'delete': 'deleted'}[op] }",
                version=b.version or 1,
                refs=refs,
                data={
                    "busy": {
                        "id": b.id,
                        "resourceId": b.resource_id,
                        "integrationId": b.integration_id,
                        "start": iso_z(b.start),
                        "end": iso_z(b.range_end),
                        "transparent": b.transparent,
                    }
                },
            )
        )

    def apply_remote_busy(
        self, integration_id: str, upserts: list[dict[str, Any]], deletes: list[str]
    ) -> int:
        """Create/update/delete the integration's external busy blocks in one transaction.

        ``upserts`` items: remote_id, summary, start, end, transparent, recurring, ical, etag.
        Returns how many blocks changed.
        """
        if not upserts and not deletes:
            return 0
        with self.uow("sync", integration_id) as uow:
            i = uow.session.get(Integration, integration_id)
            if i is None:
                return 0
            changed = 0
            wanted = {u["remote_id"] for u in upserts} | set(deletes)
            existing = {
                b.remote_id: b
                for b in uow.session.scalars(
                    select(BusyBlock).where(
                        BusyBlock.integration_id == integration_id,
                        BusyBlock.remote_id.in_(sorted(wanted)),
                    )
                )
            }
            for rid in deletes:
                b = existing.pop(rid, None)
                if b is not None:
                    self._record_block(uow, b, "delete")
                    uow.session.delete(b)
                    changed += 1
            for u in upserts:
                b = existing.get(u["remote_id"])
                values = {
                    "summary": (u.get("summary") or "")[:2000],
                    "start": u["start"],
                    "range_end": u["end"],
                    "transparent": bool(u.get("transparent", False)),
                    "recurring": bool(u.get("recurring", False)),
                    "ical": u.get("ical"),
                    "etag": (u.get("etag") or "")[:80] or new_id(),
                    "resource_id": _block_resource(i, u.get("resource_ids") or ()),
                }
                if b is None:
                    b = BusyBlock(
                        id=new_id(),
                        integration_id=i.id,
                        remote_id=u["remote_id"],
                        uid=f"{u['remote_id'][:400]}@{i.provider}",
                        component="VEVENT",
                        version=1,
                        created_at=uow.now,
                        updated_at=uow.now,
                        **values,
                    )
                    uow.session.add(b)
                    uow.session.flush()
                    self._record_block(uow, b, "create")
                    changed += 1
                elif any(getattr(b, k) != v for k, v in values.items() if k != "etag"):
                    for k, v in values.items():
                        setattr(b, k, v)
                    b.version = (b.version or 1) + 1
                    b.updated_at = uow.now
                    self._record_block(uow, b, "update")
                    changed += 1
            return changed

    def flag_reservation(
        self, reservation_id: str, note: str, *, origin: str | None = None, actor: str = "sync"
    ) -> None:
        """Leave a note for staff on an appointment (e.g. why a remote move was put back)."""
        from hub.booking.reservations import reservation_refs
        from hub.booking.views import reservation_view

        with self.uow(actor, origin) as uow:
            r = self.get(uow.session, Reservation, reservation_id, lock=True)
            r.flagged = note[:4000]
            r.version += 1
            r.updated_at = uow.now
            uow.session.flush()
            uow.record(
                Change(
                    entity="reservation",
                    entity_id=r.id,
                    op="update",
                    event="appointment.flagged",
                    version=r.version,
                    refs=reservation_refs(r),
                    data={"appointment": reservation_view(r), "note": note},
                )
            )

    def count_links(self, integration_id: str) -> int:
        """How many objects this integration has linked (for status output)."""
        with self.db.reader() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(RemoteLink)
                    .where(RemoteLink.integration_id == integration_id)
                )
                or 0
            )


def _block_resource(i: Integration, resource_ids: Any) -> str | None:
    """Whose time a foreign event blocks: the staff member of a staff-scoped integration; in a
    location-scoped one the single resource the connector named (Teamup sub-calendar), else
    None = every resource of the location (also when it names several)."""
    if i.resource_id:
        return i.resource_id
    ids = list(resource_ids)
    return ids[0] if len(ids) == 1 else None
