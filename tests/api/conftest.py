"""Fixtures for the API contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A live webhook receiver on a free port."""
    yield from serve(Receiver())
