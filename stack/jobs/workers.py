"""Workers: named handlers with their limits (concurrency, timeout, attempts, backoff)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from roost.errors import BadRequest
from roost.instances import Instance
from roost.jobs.job import JobDoc

# The handler gets the instance and the claimed job; it returns a JSON-able result or raises.
JobHandler = Callable[[Instance, JobDoc], Awaitable[Any]]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_BACKOFF_SECONDS = 300.0
MAX_ATTEMPTS_LIMIT = 20


def validate_worker_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{name!r} is not a worker name: lowercase letters, digits, '.', '_' and '-', "
            "at most 64 characters"
        )
    return name


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    handler: JobHandler
    concurrency: int = 2
    timeout_seconds: float = 60.0
    max_attempts: int = 3
    backoff_seconds: float = 2.0
    #: Most jobs of this worker one instance may run at once (None: no cap of its own).
    per_instance: int | None = None

    def __post_init__(self) -> None:
        validate_worker_name(self.name)
        if self.concurrency < 1:
            raise ValueError("a worker's concurrency is at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("a worker's timeout must be positive")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS_LIMIT:
            raise ValueError(f"max_attempts is from 1 to {MAX_ATTEMPTS_LIMIT}")
        if self.backoff_seconds < 0:
            raise ValueError("backoff_seconds may not be negative")

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait before the next attempt: doubling from `backoff_seconds`."""
        exponent = max(failed_attempts - 1, 0)
        return min(self.backoff_seconds * 2.0 ** min(exponent, 32), MAX_BACKOFF_SECONDS)
