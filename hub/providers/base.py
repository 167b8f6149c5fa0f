"""The one interface every provider connector implements, and the four error kinds it may raise.

A connector translates between calhub's neutral event shape and one provider's API. It never
touches the database: it returns data, and ``hub.sync`` applies it through booking commands.
Retries, backoff and status bookkeeping live in ``hub.sync``, not here; a connector raises
``TransientError(retry_after=…)`` and lets the engine decide.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests


class Capability(enum.Flag):
    """What a connector supports."""

    NONE = 0
    PUSH = enum.auto()  # create/update/delete remote events
    PULL = enum.auto()  # list changes since a cursor
    WATCH = enum.auto()  # subscribe/renew push channels
    WEBHOOK = enum.auto()  # verify and parse inbound notifications


class ProviderError(Exception):
    """Base of the four kinds a connector translates vendor errors into."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(ProviderError):
    """The grant or key is revoked, expired beyond refresh, or lacks scope: needs reconnecting."""


class TransientError(ProviderError):
    """Try again later (429, 5xx, timeouts); ``retry_after`` in seconds when the server said."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class RejectedError(ProviderError):
    """The provider refuses this request as such (4xx other than auth); retrying will not help."""


class NotFoundError(ProviderError):
    """The remote object or calendar does not exist (404/410 on an object)."""


@dataclass(frozen=True)
class OutboundEvent:
    """What calhub wants the remote event to look like."""

    entity: str  # reservation | shift
    entity_id: str
    uid: str
    version: int
    sequence: int
    summary: str
    start: datetime
    end: datetime
    timezone: str
    description: str = ""
    location: str = ""
    status: str = "confirmed"  # confirmed | tentative | cancelled
    color: str | None = None
    busy: bool = True
    # The calhub resources (staff, tables) the event occupies: lets a location-wide integration
    # file it under each staff member's own remote sub-calendar (Teamup).
    resource_ids: tuple[str, ...] = ()
    # A recurring item (a weekly shift): the RFC 5545 RRULE value without "RRULE:", expanded in
    # ``timezone`` from ``start``; ``exdates`` are the UTC starts of occurrences left out.
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()

    def remote_id_seed(self) -> str:
        """A deterministic id base for providers that accept client ids (stable per object)."""
        return hashlib.sha256(f"calhub:{self.entity}:{self.entity_id}".encode()).hexdigest()


@dataclass(frozen=True)
class RemoteRef:
    """What calhub remembers of a remote object (from its remote link)."""

    remote_id: str
    etag: str | None = None


@dataclass(frozen=True)
class PushResult:
    """The remote id and version after a create or update."""

    remote_id: str
    etag: str | None = None


@dataclass(frozen=True)
class RemoteEvent:
    """One remote change, normalised. ``calhub_entity``/``calhub_id`` are set when it is ours."""

    remote_id: str
    deleted: bool = False
    etag: str | None = None
    summary: str = ""
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    busy: bool = True
    calhub_entity: str | None = None
    calhub_id: str | None = None
    ical: str | None = None  # the iCalendar text when the provider speaks it (CalDAV)
    raw: dict[str, Any] = field(default_factory=dict)
    # The calhub resources whose time a foreign event blocks, when the provider can tell
    # (Teamup: the staff members mapped to its sub-calendars); empty = the integration's scope.
    resource_ids: tuple[str, ...] = ()


@dataclass
class PullResult:
    """Changes since a cursor and the cursor to use next time."""

    changes: list[RemoteEvent]
    cursor: dict[str, Any]
    full: bool = False  # a complete listing (first sync or after 410): enables deletion detection
    # The time range a full listing covered, when it is windowed: only objects inside it count as
    # deleted when absent (None: the listing covers everything).
    window: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class Notification:
    """A verified inbound push notification: which integration should pull now."""

    integration_id: str | None
    channel_id: str | None = None
    resource_state: str | None = None
    reply: tuple[int, str, str] | None = None  # (status, content type, body) for handshakes
    # The shared secret the notification carried (Google X-Goog-Channel-Token, Graph clientState).
    # When set, the engine compares it in constant time with the ``token`` it gave ``watch``.
    token: str | None = None


class Connector:
    """Base class of every provider connector; subclasses set the class attributes."""

    name: ClassVar[str]
    auth_scheme: ClassVar[str]  # oauth2 | api_key | basic
    capabilities: ClassVar[Capability]
    # Optional: OAuth 2 endpoints and scopes for the browser connect flow (config keys
    # ``authorizeUrl``/``tokenUrl`` override them per integration).
    oauth_authorize_url: ClassVar[str | None] = None
    oauth_token_url: ClassVar[str | None] = None
    oauth_scopes: ClassVar[tuple[str, ...]] = ()
    # False for providers with no deletion feed (Zoho): the engine then takes our own events'
    # absence from a full listing as their deletion. Otherwise absence is drift, repaired.
    reports_deletions: ClassVar[bool] = True

    def supports(self, event: OutboundEvent) -> bool:
        """Whether this connector can show ``event`` faithfully (recurring ones need support)."""
        return event.rrule is None

    @classmethod
    def validate_setup(cls, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        """Optional: raise ``ValueError`` with a message a person can act on for bad config."""

    def __init__(
        self,
        config: dict[str, Any],
        credentials: dict[str, Any],
        http: requests.Session,
        save_credentials: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.http = http
        # Called with refreshed OAuth tokens so the engine stores them (encrypted) at once.
        self.save_credentials = save_credentials or (lambda _c: None)
        # The push channel the engine stored from ``watch`` (set before ``parse_notification``).
        self.channel: dict[str, Any] | None = None

    def remote_id_for(self, entity: str, entity_id: str) -> str | None:
        """Optional: the id a create will use, when the provider accepts client-supplied ids.

        The engine records it before creating, so a create whose answer is lost in a crash
        can still be found (and deleted or updated) without a listing.
        """
        return None

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        """Create (``existing`` None) or update the remote event; idempotent on retries."""
        raise NotImplementedError

    def delete(self, ref: RemoteRef) -> None:
        """Delete the remote event; a missing one counts as deleted."""
        raise NotImplementedError

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        """Remote changes since ``cursor`` (an empty cursor means a full listing)."""
        raise NotImplementedError

    def watch(self, callback_url: str, token: str) -> dict[str, Any]:
        """Open or renew a push channel; returns what the engine stores to renew and verify it."""
        raise NotImplementedError

    def stop_watch(self, channel: dict[str, Any]) -> None:
        """Close a push channel."""
        raise NotImplementedError

    def parse_notification(
        self, headers: dict[str, str], body: bytes, query: dict[str, str]
    ) -> Notification:
        """Verify and read an inbound notification; raise RejectedError when it is not genuine."""
        raise NotImplementedError
