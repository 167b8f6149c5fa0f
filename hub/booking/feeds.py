"""Feed-token commands: create, rotate and revoke the secret URLs of read-only .ics feeds.

A token is 43 random URL-safe characters (256 bits) and only its SHA-256 is stored, so the URL
is shown once, at creation or rotation. Scopes: ``staff`` (a staff resource, or a user linked to
one), ``customer`` and ``location``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.booking.base import CommandBase, reject_unknown
from hub.booking.unit import Change
from hub.crypto import new_token, token_hash
from hub.domain.errors import Conflict, Invalid, NotFound
from hub.domain.timerange import iso_z
from hub.store.models import Customer, FeedToken, Location, Resource, User
from hub.store.types import new_id

SCOPES = ("staff", "customer", "location")


def feed_view(t: FeedToken) -> dict[str, Any]:
    """A feed token as the API lists it (never the token itself)."""
    out: dict[str, Any] = {
        "id": t.id,
        "scope": t.scope,
        "targetId": t.target_id,
        "createdAt": iso_z(t.created_at),
        "revoked": t.revoked_at is not None,
    }
    if t.revoked_at is not None:
        out["revokedAt"] = iso_z(t.revoked_at)
    return out


class FeedCommands(CommandBase):
    """Feed tokens; the .ics rendering itself is read-side (``hub.booking.feed_queries``)."""

    def _feed_target(self, session: Any, scope: str, target_id: str) -> str:
        if scope == "customer":
            return self.get(session, Customer, target_id).id
        if scope == "location":
            return self.get(session, Location, target_id).id
        res = session.get(Resource, target_id)
        if res is None:
            user = session.get(User, target_id)
            if user is None or not user.resource_id:
                raise NotFound(f"no staff resource or staff user has id {target_id}")
            res = session.get(Resource, user.resource_id)
        if res is None or res.kind != "staff":
            raise Invalid(f"{target_id} is not a staff member (a staff resource or its user)")
        return res.id

    def create_feed_token(self, data: dict[str, Any], *, actor: str = "api") -> dict[str, Any]:
        """Create a feed token for ``{"scope", "id"}``; the result holds the token (shown once)."""
        if not isinstance(data, dict):
            raise Invalid('send {"scope": "staff"|"customer"|"location", "id": "…"}')
        reject_unknown(data, {"scope", "id"}, "a feed")
        scope, target = data.get("scope"), data.get("id")
        if scope not in SCOPES:
            raise Invalid('scope must be "staff", "customer" or "location"')
        if not isinstance(target, str) or not target:
            raise Invalid(f"id must be the id of the {scope} this feed is for")
        token = new_token()
        with self.uow(actor) as uow:
            target_id = self._feed_target(uow.session, scope, target)
            row = FeedToken(
                id=new_id(),
                scope=scope,
                target_id=target_id,
                token_hash=token_hash(token),
                created_at=uow.now,
            )
            uow.session.add(row)
            uow.session.flush()
            self._feed_change(uow, row, "feed.created")
            return feed_view(row) | {"token": token}

    def rotate_feed_token(self, feed_id: str, *, actor: str = "api") -> dict[str, Any]:
        """Replace a feed's token: the old URL stops working, the new one is returned once."""
        token = new_token()
        with self.uow(actor) as uow:
            row = self._feed_row(uow.session, feed_id)
            if row.revoked_at is not None:
                raise Conflict(f"feed {feed_id} is revoked; create a new one", code="feed_revoked")
            row.token_hash = token_hash(token)
            self._feed_change(uow, row, "feed.rotated")
            return feed_view(row) | {"token": token}

    def revoke_feed_token(self, feed_id: str, *, actor: str = "api") -> dict[str, Any]:
        """Revoke a feed: its URL answers 404 from now on."""
        with self.uow(actor) as uow:
            row = self._feed_row(uow.session, feed_id)
            if row.revoked_at is None:
                row.revoked_at = uow.now
                self._feed_change(uow, row, "feed.revoked")
            return feed_view(row)

    def list_feed_tokens(self, *, include_revoked: bool = False) -> list[dict[str, Any]]:
        """Every feed token (newest first), without the tokens themselves."""
        with self.db.reader() as s:
            q = select(FeedToken).order_by(FeedToken.created_at.desc(), FeedToken.id)
            if not include_revoked:
                q = q.where(FeedToken.revoked_at.is_(None))
            return [feed_view(t) for t in s.scalars(q)]

    def _feed_row(self, session: Any, feed_id: str) -> FeedToken:
        row = session.get(FeedToken, feed_id) if isinstance(feed_id, str) else None
        if row is None:
            raise NotFound(f"feed {feed_id} does not exist")
        return row

    def _feed_change(self, uow: Any, row: FeedToken, event: str) -> None:
        uow.record(
            Change(
                entity="feed",
                entity_id=row.id,
                op="update" if event != "feed.created" else "create",
                event=event,
                data={"feed": feed_view(row)},
            )
        )
