"""Per-request state, kept in a contextvar: Radicale shares one Storage between request threads."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RequestState:
    """What one request learned along the way (never shared between requests)."""

    # Items discovered by path under this request's lock: the version a write must still find.
    seen: dict[str, Any] = field(default_factory=dict)
    # The window of a calendar-query with <C:expand> (Radicale strips its time-range).
    expand_window: tuple[datetime, datetime] | None = None
    # The request body, parsed once (REPORT), so Radicale does not read the input twice.
    xml_body: Any = None
    has_xml_body: bool = False
    # The stored object differs from what the client sent: do not hand out an ETag for it.
    transformed: bool = False
    # Rights and homes asked about repeatedly within one request.
    cache: dict[Any, Any] = field(default_factory=dict)


_STATE: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "calhub_dav_request", default=None
)


def current() -> RequestState:
    """This request's state (a throw-away one outside a request, e.g. in tests)."""
    state = _STATE.get()
    if state is None:
        state = RequestState()
        _STATE.set(state)
    return state


def begin() -> contextvars.Token[RequestState | None]:
    """Start a fresh state for a new request."""
    return _STATE.set(RequestState())


def end(token: contextvars.Token[RequestState | None]) -> None:
    """Forget the request's state."""
    _STATE.reset(token)
