"""Failed-login counting per instance: too many failures in a window → 429 with Retry-After.

Counters live in the process: with several stack processes each enforces the limit on its
own share of the traffic (documented in docs/architecture.md).
"""

from __future__ import annotations

import time
from collections import deque


class LoginLimiter:
    def __init__(self, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, domain: str) -> int | None:
        """Seconds to wait if `domain` is locked out, else None."""
        failures = self._failures.get(domain)
        if not failures:
            return None
        now = time.monotonic()
        while failures and now - failures[0] > self.window:
            failures.popleft()
        if len(failures) < self.max_failures:
            return None
        return max(1, int(self.window - (now - failures[0])) + 1)

    def record_failure(self, domain: str) -> None:
        self._failures.setdefault(domain, deque()).append(time.monotonic())

    def reset(self, domain: str) -> None:
        self._failures.pop(domain, None)
