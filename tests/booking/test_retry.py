"""A command that loses a transaction race runs again instead of answering 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from hub.booking.retry import is_retryable, retry_transient
from hub.domain.errors import UpstreamUnavailable


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _db_error(orig: Exception) -> OperationalError:
    return OperationalError("UPDATE …", {}, orig)


def test_deadlocks_serialisation_failures_and_sqlite_locks_are_retried() -> None:
    assert is_retryable(_db_error(_PgError("40P01")))
    assert is_retryable(_db_error(_PgError("40001")))
    assert is_retryable(_db_error(Exception("database is locked")))
    assert not is_retryable(_db_error(_PgError("23505")))  # a unique violation is a real error
    assert not is_retryable(ValueError("x"))


def test_a_lost_race_runs_the_command_again() -> None:
    calls: list[int] = []

    @retry_transient
    def command() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _db_error(_PgError("40P01"))
        return "booked"

    assert command() == "booked" and len(calls) == 3


def test_a_database_that_stays_busy_is_a_503_not_a_crash() -> None:
    @retry_transient
    def command() -> Any:
        raise _db_error(Exception("database is locked"))

    with pytest.raises(UpstreamUnavailable) as info:
        command()
    assert info.value.status == 503 and "retry" in info.value.message
