"""Retry policy: exponential backoff with full jitter, honouring a server's Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before attempt ``n + 1`` and when to give up."""

    base_seconds: float = 2.0
    max_seconds: float = 3600.0
    max_attempts: int = 12

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``attempts`` failures (never less than ``retry_after``)."""
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** max(attempts - 1, 0)))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    def exhausted(self, attempts: int) -> bool:
        """True when a delivery has failed too often and goes to the dead-letter list."""
        return attempts >= self.max_attempts
