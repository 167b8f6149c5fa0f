"""API key housekeeping beyond create: list them, and revoke by id, name or the key itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from hub.booking.base import CommandBase
from hub.booking.unit import Change
from hub.crypto import token_hash
from hub.domain.errors import Invalid, NotFound
from hub.domain.timerange import iso_z
from hub.store.models import ApiKey


def api_key_view(k: ApiKey) -> dict[str, Any]:
    """An API key as the CLI lists it (never the key or its hash)."""
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "createdAt": iso_z(k.created_at),
        "revokedAt": iso_z(k.revoked_at) if k.revoked_at else None,
    }


class ApiKeyCommands(CommandBase):
    """List and revoke API keys."""

    def list_api_keys(self) -> list[dict[str, Any]]:
        """Every API key, oldest first, revoked ones included."""
        with self.db.reader() as s:
            return [api_key_view(k) for k in s.scalars(select(ApiKey).order_by(ApiKey.created_at))]

    def revoke_api_keys(self, ref: str, *, actor: str = "cli") -> list[dict[str, Any]]:
        """Revoke the live key(s) matching an id, a name or the key itself; returns them."""
        if not ref:
            raise Invalid("name the API key to revoke by its id, its name or the key itself")
        with self.uow(actor) as uow:
            rows = list(
                uow.session.scalars(
                    select(ApiKey)
                    .where(
                        or_(
                            ApiKey.id == ref, ApiKey.name == ref, ApiKey.key_hash == token_hash(ref)
                        ),
                        ApiKey.revoked_at.is_(None),
                    )
                    .with_for_update()
                )
            )
            if not rows:
                raise NotFound(f"no live API key has the id, name or value {ref!r}")
            for row in rows:
                row.revoked_at = uow.now
                uow.record(Change("api_key", row.id, "update", "api_key.revoked"))
            uow.session.flush()
            return [api_key_view(r) for r in rows]
