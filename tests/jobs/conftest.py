"""Fixtures for the jobs suite: extra JobServices (stack "processes") over the test store,
and a helper that polls for a state change until a generous deadline."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from roost.jobs import JobService
from roost.services import Services

T = TypeVar("T")

DEADLINE_SECONDS = 30.0


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str = "the condition") -> T:
    """Call `probe` until it returns something truthy; fail after DEADLINE_SECONDS."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE_SECONDS} s")
        await asyncio.sleep(0.02)


def worker_name(prefix: str = "w") -> str:
    """A worker name no other test uses (every JobService sees every instance's jobs)."""
    return f"{prefix}-{secrets.token_hex(4)}"


MakeJobService = Callable[..., JobService]


@pytest.fixture
async def make_job_service(services: Services) -> AsyncIterator[MakeJobService]:
    """`make_job_service(**options)` → a JobService of its own over the test store, as a
    second stack process would have; all are stopped at the end of the test."""
    made: list[JobService] = []

    def make(**options: Any) -> JobService:
        options.setdefault("poll_interval", 0.05)
        options.setdefault("instances_cache_seconds", 0.5)
        options.setdefault("event_cache_seconds", 0.5)
        jobs = JobService(services.couch, services.instances, **options)
        made.append(jobs)
        return jobs

    yield make
    for jobs in made:
        await jobs.stop()
