"""The one error hierarchy every front end maps to its own answer (HTTP, CalDAV, remote put-back)."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base class: a rule or request problem with a stable code and a message a person can act on."""

    status: int = 400
    code: str = "invalid"
    title: str = "Invalid request"
    # CalDAV precondition element (RFC 4791 §5.3.2.1 / RFC 4918 §16) that best fits, if any.
    dav_precondition: str | None = None

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra

    def __str__(self) -> str:
        return self.message


class Invalid(HubError):
    """The request itself is malformed or names impossible values."""

    status = 422
    code = "invalid"
    title = "Invalid request"
    dav_precondition = "C:valid-calendar-data"


class BadRequest(Invalid):
    """The request could not be read at all (syntax, size, encoding)."""

    status = 400
    code = "bad_request"
    title = "Bad request"


class NotFound(HubError):
    """The named object does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(HubError):
    """The caller may not do this."""

    status = 403
    code = "forbidden"
    title = "Forbidden"
    dav_precondition = "D:need-privileges"


class Unauthorized(HubError):
    """No or bad credentials."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Conflict(HubError):
    """A booking rule refuses the change (slot taken, blackout, capacity, hold expired…)."""

    status = 409
    code = "conflict"
    title = "Conflict"
    dav_precondition = "C:no-uid-conflict"


class PreconditionFailed(HubError):
    """A version or ETag check failed: somebody else changed the object first."""

    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class UpstreamUnavailable(HubError):
    """A remote system the request depends on is unreachable; try again later."""

    status = 503
    code = "upstream_unavailable"
    title = "Service unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after = retry_after
