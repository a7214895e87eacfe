"""Fixtures for the thumbnail suite: the job runner of the test services started, a
`/files` client with every right, and waiting for a file's `thumbnail` job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from roost.instances import Instance
from roost.jobs import DONE, ERRORED, JobDoc
from roost.services import Services
from roost.thumbnails import WORKER, FileEvents
from tests.web.files_support import FilesApi, IssueToken, files_api

DEADLINE_SECONDS = 120.0


@pytest.fixture
async def running_jobs(services: Services) -> AsyncIterator[Services]:
    """The session's services with their job runner polling (as `roost serve` does)."""
    await services.jobs.start()
    yield services
    await services.jobs.stop()


@pytest.fixture
async def owner(client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken) -> FilesApi:
    return await files_api(client, instance, issue_token, "io.cozy.files")


def _file_of(job: JobDoc) -> str | None:
    event = job.message.get("event")
    if isinstance(event, dict) and isinstance(event.get("doc"), dict):
        file_id = event["doc"].get("_id")
        return file_id if isinstance(file_id, str) else None
    return None


async def settle_events(services: Services) -> None:
    """Wait until every file write so far has become the jobs its triggers queue."""
    for listener in services.vfs.listeners:
        if isinstance(listener, FileEvents):
            await listener.flush()
    await services.jobs.flush_events()


async def finished_jobs(
    services: Services, instance: Instance, file_id: str, *, at_least: int = 1
) -> list[JobDoc]:
    """Wait until `at_least` thumbnail jobs of `file_id` are finished (done or errored)
    and none is pending; fail after a generous deadline (a wait, not a timing)."""
    deadline = time.monotonic() + DEADLINE_SECONDS

    async def jobs_of_file() -> list[JobDoc]:
        listed = await services.jobs.list_jobs(instance, worker=WORKER)
        return [job for job in listed if _file_of(job) == file_id]

    while True:
        jobs = await jobs_of_file()
        finished = [job for job in jobs if job.state in (DONE, ERRORED)]
        if len(finished) >= at_least and len(finished) == len(jobs):
            # A job's own writes (the metadata) may queue one more: wait for those too.
            await settle_events(services)
            if len(await jobs_of_file()) == len(jobs):
                return sorted(finished, key=lambda job: job.queued_at)
            continue
        if time.monotonic() > deadline:
            states = [job.state for job in jobs]
            raise AssertionError(f"thumbnail jobs of {file_id} not finished: {states}")
        await asyncio.sleep(0.05)
