"""The delivery contract between the outbox worker and the handlers of each target kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class DeliveryError(Exception):
    """A delivery failed. ``permanent`` skips retries; ``retry_after`` is a server's wish."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        auth: bool = False,
        defer: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.auth = auth  # the grant is gone: the integration needs reconnecting
        # Wait without counting an attempt (the integration is in Error until someone reconnects).
        self.defer = defer


@dataclass(frozen=True)
class Delivery:
    """One claimed outbox row, as plain data."""

    id: int
    seq: int
    target: str
    integration_id: str | None
    webhook_id: str | None
    object_key: str
    event: str
    payload: dict[str, Any]
    attempts: int


class Handler(Protocol):
    """Delivers one outbox row; raises DeliveryError on failure."""

    def __call__(self, delivery: Delivery) -> None: ...
