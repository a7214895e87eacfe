"""The job runner over the real store: done, retries, timeouts, restarts, two processes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from roost.app import create_app
from roost.config import Config
from roost.couch import CouchClient
from roost.errors import NotFound
from roost.instances import Instance
from roost.jobs import DONE, ERRORED, JOBS_DOCTYPE, QUEUED, RUNNING, JobDoc, JobService
from roost.jobs.times import format_time, utc_now
from roost.services import Services
from tests.conftest import Store
from tests.jobs.conftest import MakeJobService, eventually, worker_name


async def _state(jobs: JobService, instance: Instance, job_id: str, *states: str) -> JobDoc | None:
    job = await jobs.get(instance, job_id)
    return job if job.state in states else None


async def finished(jobs: JobService, instance: Instance, job_id: str) -> JobDoc:
    return await eventually(
        lambda: _state(jobs, instance, job_id, DONE, ERRORED), f"job {job_id} finishing"
    )


async def test_a_queued_job_runs_to_done(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("echo")
    seen: list[JobDoc] = []

    async def echo(inst: Instance, job: JobDoc) -> dict[str, Any]:
        seen.append(job)
        await jobs.append_log(inst, job.id, ["hello from the worker"])
        return {"echo": job.message["text"], "domain": inst.domain}

    jobs.register_worker(worker, echo)
    queued = await jobs.enqueue(instance, worker, {"text": "hi"})
    assert queued.state == QUEUED and queued.attempts == 0 and queued.queued_at
    await jobs.start()
    job = await finished(jobs, instance, queued.id)
    assert job.state == DONE
    assert job.result == {"echo": "hi", "domain": instance.domain}
    assert job.error is None
    assert job.attempts == 1
    assert job.started_at and job.finished_at and job.queued_at <= job.started_at <= job.finished_at
    lines = [entry["line"] for entry in job.log]
    assert "hello from the worker" in lines
    assert lines[-1] == "attempt 1 done"
    assert len(seen) == 1 and seen[0].state == RUNNING and seen[0].message == {"text": "hi"}


async def test_failures_retry_with_backoff_then_error(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("flaky")
    starts: list[float] = []

    async def fail(inst: Instance, job: JobDoc) -> None:
        starts.append(time.monotonic())
        raise ValueError(f"boom {job.attempts}")

    jobs.register_worker(worker, fail, max_attempts=3, backoff_seconds=0.3)
    await jobs.start()
    queued = await jobs.enqueue(instance, worker, {})
    job = await finished(jobs, instance, queued.id)
    assert job.state == ERRORED
    assert job.attempts == 3
    assert job.error == "ValueError: boom 3"
    assert len(starts) == 3
    # The backoff doubles each time (the schedule, as the job log states it; no timing).
    lines = [entry["line"] for entry in job.log]
    assert "attempt 1 failed: ValueError: boom 1; next attempt in 0.3 s" in lines
    assert "attempt 2 failed: ValueError: boom 2; next attempt in 0.6 s" in lines
    assert lines[-1] == "attempt 3 failed: ValueError: boom 3; giving up"


async def test_a_failure_then_a_success_is_done(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("second-time")

    async def second_time_lucky(inst: Instance, job: JobDoc) -> str:
        if job.attempts == 1:
            raise RuntimeError("not yet")
        return "ok"

    jobs.register_worker(worker, second_time_lucky, backoff_seconds=0.05)
    await jobs.start()
    job = await finished(jobs, instance, (await jobs.enqueue(instance, worker)).id)
    assert (job.state, job.attempts, job.result, job.error) == (DONE, 2, "ok", None)


async def test_max_attempts_per_job(make_job_service: MakeJobService, instance: Instance) -> None:
    jobs = make_job_service()
    worker = worker_name("once")

    async def fail(inst: Instance, job: JobDoc) -> None:
        raise RuntimeError("no")

    jobs.register_worker(worker, fail, max_attempts=5, backoff_seconds=0.01)
    await jobs.start()
    job = await finished(jobs, instance, (await jobs.enqueue(instance, worker, max_attempts=1)).id)
    assert (job.state, job.attempts) == (ERRORED, 1)


async def test_a_timeout_errors_the_job(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("slow")
    cancelled = asyncio.Event()

    async def forever(inst: Instance, job: JobDoc) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    jobs.register_worker(worker, forever, timeout_seconds=0.2, max_attempts=1)
    await jobs.start()
    job = await finished(jobs, instance, (await jobs.enqueue(instance, worker)).id)
    assert job.state == ERRORED
    assert job.error == "timed out after 0.2 s"
    assert cancelled.is_set()


async def test_a_result_that_is_not_json_is_an_error(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("bad-result")

    async def opaque(inst: Instance, job: JobDoc) -> object:
        return object()

    jobs.register_worker(worker, opaque, max_attempts=1)
    await jobs.start()
    job = await finished(jobs, instance, (await jobs.enqueue(instance, worker)).id)
    assert job.state == ERRORED and job.error and "not JSON" in job.error


async def test_concurrency_is_bounded_per_worker(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("bounded")
    active = 0
    peak = 0

    async def busy(inst: Instance, job: JobDoc) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1

    jobs.register_worker(worker, busy, concurrency=2)
    ids = [(await jobs.enqueue(instance, worker)).id for _ in range(8)]
    await jobs.start()
    for job_id in ids:
        assert (await finished(jobs, instance, job_id)).state == DONE
    assert 1 <= peak <= 2


async def test_queued_jobs_survive_a_restart(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    worker = worker_name("survivor")
    ran: list[str] = []

    async def record(inst: Instance, job: JobDoc) -> None:
        ran.append(job.id)

    before = make_job_service()
    before.register_worker(worker, record)
    ids = [(await before.enqueue(instance, worker, {"n": n})).id for n in range(3)]
    await before.stop()  # the process goes away with its jobs still queued

    after = make_job_service()
    after.register_worker(worker, record)
    await after.start()
    for job_id in ids:
        job = await finished(after, instance, job_id)
        assert job.state == DONE
        assert any(after.process_id in entry["line"] for entry in job.log)
    assert sorted(ran) == sorted(ids)


async def _write_running_job(
    services: Services, instance: Instance, worker: str, *, lease_until: str, attempts: int
) -> str:
    job_id = f"orphan-{worker}"
    now = format_time(utc_now())
    await services.couch.put_doc(
        instance.db(JOBS_DOCTYPE),
        {
            "_id": job_id,
            "worker": worker,
            "message": {},
            "state": RUNNING,
            "queued_at": now,
            "started_at": now,
            "finished_at": None,
            "attempts": attempts,
            "max_attempts": 3,
            "error": None,
            "result": None,
            "log": [],
            "trigger_id": None,
            "due_at": lease_until,
            "claimed_by": "a-process-that-died",
            "lease_until": lease_until,
        },
    )
    return job_id


async def test_a_job_whose_claim_lapsed_is_run_again(
    make_job_service: MakeJobService, services: Services, instance: Instance
) -> None:
    worker = worker_name("orphan")
    jobs = make_job_service()

    async def ok(inst: Instance, job: JobDoc) -> str:
        return "recovered"

    jobs.register_worker(worker, ok)
    job_id = await _write_running_job(
        services, instance, worker, lease_until="2000-01-01T00:00:00.000000Z", attempts=1
    )
    await jobs.start()
    job = await finished(jobs, instance, job_id)
    assert (job.state, job.attempts, job.result) == (DONE, 2, "recovered")
    assert any("the previous claim lapsed" in entry["line"] for entry in job.log)


async def test_a_lapsed_claim_on_the_last_attempt_errors(
    make_job_service: MakeJobService, services: Services, instance: Instance
) -> None:
    worker = worker_name("orphan-last")
    jobs = make_job_service()

    async def never(inst: Instance, job: JobDoc) -> None:
        raise AssertionError("must not run")

    jobs.register_worker(worker, never)
    job_id = await _write_running_job(
        services, instance, worker, lease_until="2000-01-01T00:00:00.000000Z", attempts=3
    )
    await jobs.start()
    job = await finished(jobs, instance, job_id)
    assert job.state == ERRORED and job.error and "claim lapsed" in job.error


async def test_a_job_claimed_by_a_live_process_is_left_alone(
    make_job_service: MakeJobService, services: Services, instance: Instance
) -> None:
    worker = worker_name("claimed")
    jobs = make_job_service()

    async def never(inst: Instance, job: JobDoc) -> None:
        raise AssertionError("must not run")

    jobs.register_worker(worker, never)
    job_id = await _write_running_job(
        services, instance, worker, lease_until="2999-01-01T00:00:00.000000Z", attempts=1
    )
    await jobs.poll_once()
    job = await jobs.get(instance, job_id)
    assert job.state == RUNNING and job.attempts == 1


async def test_two_processes_never_run_a_job_twice(
    make_job_service: MakeJobService, services: Services, store: Store, instance: Instance
) -> None:
    worker = worker_name("race")
    runs: Counter[str] = Counter()
    by_process: Counter[str] = Counter()
    second_client = CouchClient(store.url)  # the second process has its own connections
    try:
        first = make_job_service(poll_interval=0.01)
        second = JobService(second_client, services.instances, poll_interval=0.01)

        def counting(name: str) -> Callable[[Instance, JobDoc], Awaitable[None]]:
            async def run(inst: Instance, job: JobDoc) -> None:
                runs[job.id] += 1
                by_process[name] += 1
                await asyncio.sleep(0.01)

            return run

        first.register_worker(worker, counting("first"), concurrency=3)
        second.register_worker(worker, counting("second"), concurrency=3)
        ids = [(await first.enqueue(instance, worker, {"n": n})).id for n in range(20)]
        await asyncio.gather(first.start(), second.start())
        try:
            for job_id in ids:
                assert (await finished(first, instance, job_id)).state == DONE
        finally:
            await second.stop()
        assert runs == Counter(dict.fromkeys(ids, 1))
        assert sum(by_process.values()) == 20
    finally:
        await second_client.aclose()


async def test_simultaneous_claims_of_the_same_jobs_have_one_winner(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    # Both processes look at the same moment, see the same due jobs, and claim each one.
    worker = worker_name("contend")
    runs: Counter[str] = Counter()

    async def run(inst: Instance, job: JobDoc) -> None:
        runs[job.id] += 1

    first, second = make_job_service(), make_job_service()
    for jobs in (first, second):
        jobs.register_worker(worker, run, concurrency=20)
    ids = [(await first.enqueue(instance, worker)).id for _ in range(20)]
    await asyncio.gather(first.poll_once(), second.poll_once())
    for job_id in ids:
        assert (await finished(first, instance, job_id)).state == DONE
    assert runs == Counter(dict.fromkeys(ids, 1))


async def test_stopping_requeues_a_running_job(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    worker = worker_name("interrupted")
    started = asyncio.Event()

    async def hang(inst: Instance, job: JobDoc) -> None:
        started.set()
        await asyncio.Event().wait()

    first = make_job_service(stop_grace_seconds=0.05)
    first.register_worker(worker, hang)
    await first.start()
    job_id = (await first.enqueue(instance, worker)).id
    await asyncio.wait_for(started.wait(), timeout=30)
    await first.stop()
    job = await first.get(instance, job_id)
    assert (job.state, job.attempts) == (QUEUED, 0)
    assert "interrupted" in job.log[-1]["line"]

    async def finish(inst: Instance, job: JobDoc) -> str:
        return "finished elsewhere"

    second = make_job_service()
    second.register_worker(worker, finish)
    await second.start()
    job = await finished(second, instance, job_id)
    assert (job.state, job.attempts, job.result) == (DONE, 1, "finished elsewhere")


async def test_unknown_workers_and_jobs(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    with pytest.raises(NotFound):
        await jobs.enqueue(instance, "nobody-registered-this", {})
    with pytest.raises(NotFound):
        await jobs.get(instance, "no-such-job")
    with pytest.raises(NotFound):
        await jobs.get(instance, "_design/roost-due_at")


async def test_the_app_lifespan_starts_and_stops_the_runner(
    config: Config, instance: Instance
) -> None:
    worker = worker_name("lifespan")

    async def hello(inst: Instance, job: JobDoc) -> str:
        return "served"

    def register(built: Services) -> None:
        built.jobs.register_worker(worker, hello)

    app = create_app(config, on_startup=[register])
    services = app.state.services
    async with app.router.lifespan_context(app):
        assert services.jobs.started
        assert worker in services.jobs.stats()["workers"]
        job = await services.jobs.enqueue(instance, worker)
        assert (await finished(services.jobs, instance, job.id)).result == "served"
    assert not services.jobs.started
