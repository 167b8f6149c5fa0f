"""The error mapping every connector shares: statuses to the four kinds, Retry-After forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from hub.providers.base import AuthError, NotFoundError, RejectedError, TransientError
from hub.providers.support import parse_retry_after, raise_for


def _resp(status: int, body: str = "{}", **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body.encode()
    r.headers.update(headers)
    return r


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (404, NotFoundError),
        (410, NotFoundError),
        (400, RejectedError),
        (409, RejectedError),
        (422, RejectedError),
        (429, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
    ],
)
def test_status_maps_to_kind(status: int, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        raise_for(_resp(status, '{"error": {"code": "x", "message": "why"}}'), "call")


def test_success_raises_nothing_and_403_scope_is_auth() -> None:
    raise_for(_resp(204), "call")
    with pytest.raises(AuthError):
        raise_for(_resp(403, '{"error":"insufficient scope for this token"}'), "call")
    with pytest.raises(RejectedError):
        raise_for(_resp(403, '{"error":"event is read-only"}'), "call")


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7
    when = datetime.now(UTC) + timedelta(seconds=90)
    assert 80 <= (parse_retry_after(format_datetime(when, usegmt=True)) or 0) <= 91
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    with pytest.raises(TransientError) as info:
        raise_for(_resp(503, "{}", **{"Retry-After": "12"}), "call")
    assert info.value.retry_after == 12


def test_retry_after_nonsense_is_ignored_and_long_waits_are_capped() -> None:
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None
    assert parse_retry_after("-5") == 0
    assert parse_retry_after("99999999") == 86400
