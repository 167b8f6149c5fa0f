"""Account commands: users, app passwords, API keys."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hub.booking.base import CommandBase
from hub.booking.unit import Change
from hub.crypto import check_password, hash_password, new_token, token_hash
from hub.domain.errors import Conflict, Invalid, NotFound
from hub.domain.statuses import ResourceKind, Role
from hub.store.models import ApiKey, AppPassword, Location, Resource, User
from hub.store.types import new_id

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")


def user_view(u: User) -> dict[str, Any]:
    """A user as the API and CLI show it (never the password hash)."""
    return {
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "locationId": u.location_id,
        "resourceId": u.resource_id,
        "email": u.email,
        "displayName": u.display_name,
    }


class AccountCommands(CommandBase):
    """Users and credentials."""

    def add_user(
        self,
        username: str,
        role: str,
        password: str,
        *,
        location: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
        resource_id: str | None = None,
        actor: str = "cli",
    ) -> dict[str, Any]:
        """Create a user; a staff user at a location gets (or is linked to) a staff resource."""
        if not USERNAME.fullmatch(username or ""):
            raise Invalid("username must be lower-case letters, digits, '.', '_' or '-' (max 80)")
        if role not in (Role.MANAGER, Role.STAFF):
            raise Invalid("role must be manager or staff")
        if not password or len(password) < 8:
            raise Invalid("password must be at least 8 characters")
        with self.uow(actor) as uow:
            s = uow.session
            if s.scalars(select(User.id).where(User.username == username)).first():
                raise Conflict(f"user {username} already exists", code="user_exists")
            loc = None
            if location:
                loc = s.scalars(
                    select(Location).where((Location.slug == location) | (Location.id == location))
                ).first()
                if loc is None:
                    raise NotFound(f"location {location} does not exist")
            now = uow.now
            if resource_id:
                res = self.get(s, Resource, resource_id)
                if res.kind != ResourceKind.STAFF:
                    raise Invalid("a user can only be linked to a staff resource")
            elif role == Role.STAFF and loc is not None:
                res = Resource(
                    id=new_id(),
                    location_id=loc.id,
                    name=display_name or username,
                    kind=ResourceKind.STAFF.value,
                    capacity=1,
                    email=email,
                    active=True,
                    lock_version=0,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                s.add(res)
                s.flush()
                uow.record(
                    Change(
                        "resource",
                        res.id,
                        "create",
                        "resource.created",
                        refs={f"location:{loc.id}", f"resource:{res.id}"},
                    )
                )
                resource_id = res.id
            user = User(
                id=new_id(),
                username=username,
                role=role,
                password_hash=hash_password(password),
                location_id=loc.id if loc else None,
                resource_id=resource_id,
                email=email,
                display_name=display_name,
                created_at=now,
                updated_at=now,
            )
            s.add(user)
            s.flush()
            uow.record(
                Change(
                    "user",
                    user.id,
                    "create",
                    "user.created",
                    refs={f"user:{user.id}"},
                    data={"user": user_view(user)},
                )
            )
            return user_view(user)

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The user whose password or live app password matches, else None."""
        with self.db.reader() as s:
            user = s.scalars(select(User).where(User.username == username)).first()
            if user is None:
                check_password(_DUMMY_HASH, password)  # same work whether or not the user exists
                return None
            if check_password(user.password_hash, password):
                return user_view(user)
            for ap in s.scalars(
                select(AppPassword).where(
                    AppPassword.user_id == user.id, AppPassword.revoked_at.is_(None)
                )
            ):
                if check_password(ap.password_hash, password):
                    return user_view(user)
            return None

    def create_app_password(
        self, username: str, name: str, *, actor: str = "cli"
    ) -> dict[str, Any]:
        """A new per-device password; returned once, stored hashed."""
        secret = new_token(nbytes=18)
        with self.uow(actor) as uow:
            user = uow.session.scalars(select(User).where(User.username == username)).first()
            if user is None:
                raise NotFound(f"user {username} does not exist")
            ap = AppPassword(
                id=new_id(),
                user_id=user.id,
                name=name or "device",
                password_hash=hash_password(secret),
                created_at=uow.now,
            )
            uow.session.add(ap)
            uow.session.flush()
            uow.record(
                Change(
                    "app_password",
                    ap.id,
                    "create",
                    "app_password.created",
                    refs={f"user:{user.id}"},
                )
            )
            return {"id": ap.id, "name": ap.name, "password": secret}

    def revoke_app_password(self, app_password_id: str, *, actor: str = "cli") -> None:
        """Revoke a per-device password at once."""
        with self.uow(actor) as uow:
            ap = uow.session.get(AppPassword, app_password_id)
            if ap is None:
                raise NotFound(f"app password {app_password_id} does not exist")
            ap.revoked_at = uow.now
            uow.record(
                Change(
                    "app_password",
                    ap.id,
                    "update",
                    "app_password.revoked",
                    refs={f"user:{ap.user_id}"},
                )
            )

    def create_api_key(self, name: str, *, actor: str = "cli") -> dict[str, Any]:
        """A new API key; the key is returned once and only its hash is stored."""
        if not name or len(name) > 120:
            raise Invalid("an API key needs a name of at most 120 characters")
        key = new_token("chk_", 32)
        with self.uow(actor) as uow:
            row = ApiKey(
                id=new_id(),
                name=name,
                prefix=key[:10],
                key_hash=token_hash(key),
                created_at=uow.now,
            )
            uow.session.add(row)
            uow.session.flush()
            uow.record(Change("api_key", row.id, "create", "api_key.created", data={"name": name}))
            return {"id": row.id, "name": name, "key": key}

    def revoke_api_key(self, key_id: str, *, actor: str = "cli") -> None:
        """Revoke an API key."""
        with self.uow(actor) as uow:
            row = uow.session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"API key {key_id} does not exist")
            row.revoked_at = uow.now
            uow.record(Change("api_key", row.id, "update", "api_key.revoked"))

    def api_key_for(self, key: str) -> dict[str, Any] | None:
        """The live API key matching ``key`` (looked up by hash), else None."""
        if not key:
            return None
        with self.db.reader() as s:
            row = s.scalars(select(ApiKey).where(ApiKey.key_hash == token_hash(key))).first()
            if row is None or row.revoked_at is not None:
                return None
            return {"id": row.id, "name": row.name}


_DUMMY_HASH = hash_password("calhub-timing-equaliser")
