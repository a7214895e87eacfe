"""Jobs on a fleet: stacks with data directories of their own, sharing only CouchDB and S3.
A job queued once runs once, whichever stack claims it; a photo uploaded through one stack
gets its thumbnails (kept in S3) made by one job and served by the other stack."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from roost.instances import Instance
from roost.jobs import DONE, JobDoc
from roost.thumbnails.store import content_key
from tests.jobs.conftest import eventually, worker_name
from tests.scaleout.conftest import Stack
from tests.thumbnails.conftest import finished_jobs
from tests.thumbnails.pictures import jpeg

JOBS = 30


@pytest.fixture
async def running(stacks: list[Stack]) -> AsyncIterator[list[Stack]]:
    """Both stacks' job runners polling, as each `roost serve` does."""
    for stack in stacks:
        await stack.services.jobs.start()
    try:
        yield stacks
    finally:
        for stack in stacks:
            await stack.services.jobs.stop()


async def test_a_job_queued_once_runs_once_whichever_stack_claims_it(
    running: list[Stack], fleet_instance: Instance
) -> None:
    worker = worker_name("fleet")
    runs: Counter[str] = Counter()
    by_stack: Counter[int] = Counter()

    for index, stack in enumerate(running):

        async def run(inst: Instance, job: JobDoc, index: int = index) -> None:
            runs[job.id] += 1
            by_stack[index] += 1
            await asyncio.sleep(0.01)

        stack.services.jobs.register_worker(worker, run, concurrency=4)
    first = running[0].services.jobs
    ids = [(await first.enqueue(fleet_instance, worker, {"n": n})).id for n in range(JOBS)]

    async def all_done() -> bool | None:
        states = [(await first.get(fleet_instance, job_id)).state for job_id in ids]
        return True if all(state == DONE for state in states) else None

    await eventually(all_done, f"{JOBS} jobs done")
    assert runs == Counter(dict.fromkeys(ids, 1))
    assert sum(by_stack.values()) == JOBS


async def test_a_photo_gets_its_thumbnails_once_in_s3_and_any_stack_serves_them(
    running: list[Stack], dav_password: str, fleet_instance: Instance
) -> None:
    first, second = running
    auth = httpx.BasicAuth("user", dav_password)
    put = await first.http.put("/dav/files/fleet-photo.jpg", content=jpeg(), auth=auth)
    assert put.status_code == 201, put.text
    photo = await first.services.vfs.lookup(fleet_instance, "/fleet-photo.jpg")
    key = content_key(photo)

    jobs = await finished_jobs(first.services, fleet_instance, photo.id)
    # One job per write of the file (the upload, then the job's own metadata update),
    # however many stacks follow the events; each ran once.
    revisions = [job.message["event"]["doc"]["_rev"] for job in jobs]
    assert len(revisions) == len(set(revisions))
    assert revisions[0].startswith("1-")
    assert all((job.state, job.attempts) == (DONE, 1) for job in jobs)
    names = await second.services.thumbnails.store.names(fleet_instance.domain, photo.id)
    assert names == {f"{key}/small.jpg", f"{key}/large.jpg"}
    served = await second.http.get(f"/files/{photo.id}/thumbnails/small", auth=auth)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content[:2] == b"\xff\xd8"
    # Nothing of the photo (bytes, thumbnails, render scratch) stayed on either stack's disk.
    for stack in running:
        assert not any(path.is_file() for path in (stack.data_dir / "files").rglob("*"))
