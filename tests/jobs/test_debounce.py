"""Debounced `@event` triggers: a burst of changes is one job told of them all; a change
after the burst is queued starts another; stopping queues what was gathered; a debounce
that is not a duration (or on a trigger that is not `@event`) is refused, nothing written."""

from __future__ import annotations

import pytest

from roost.instances import Instance
from roost.jobs import TRIGGERS_DOCTYPE, JobDoc, trigger_problem
from roost.jobs.errors import InvalidTrigger
from roost.services import Services
from tests.jobs.conftest import MakeJobService, eventually, worker_name

OPERATIONS = "io.cozy.bank.operations"


async def _noop(instance: Instance, job: JobDoc) -> None:
    return None


async def test_a_burst_of_changes_is_one_job_told_of_every_change(
    services: Services, instance: Instance
) -> None:
    worker = worker_name("burst")
    services.jobs.register_worker(worker, _noop)
    trigger = await services.jobs.create_trigger(
        instance, "@event", f"{OPERATIONS}:CREATED", worker, {"k": 1}, debounce="200ms"
    )
    assert trigger.debounce == "200ms" and trigger.to_json()["debounce"] == "200ms"
    for i in range(300):
        services.jobs.notify_change(instance, OPERATIONS, "CREATED", {"_id": f"op-{i}"})
    services.jobs.notify_change(instance, OPERATIONS, "DELETED", {"_id": "op-0"})
    await services.jobs.flush_events()
    (job,) = await services.jobs.list_jobs(instance, trigger_id=trigger.id)
    assert job.message["k"] == 1
    assert job.message["event"] == {
        "doctype": OPERATIONS,
        "verb": "CREATED",
        "doc": {"_id": "op-299"},
    }
    events = job.message["events"]
    assert events["count"] == 300 and events["complete"] is True
    assert [change["id"] for change in events["changes"]] == [f"op-{i}" for i in range(300)]
    assert {(c["doctype"], c["verb"]) for c in events["changes"]} == {(OPERATIONS, "CREATED")}

    # No runner here: the job still waits in the queue, so the next burst joins it.
    services.jobs.notify_change(instance, OPERATIONS, "CREATED", {"_id": "later"})
    await services.jobs.flush_events()
    (joined,) = await services.jobs.list_jobs(instance, trigger_id=trigger.id)
    assert joined.id == job.id and joined.message["events"]["count"] == 301
    assert joined.message["events"]["changes"][-1]["id"] == "later"
    assert joined.message["event"]["doc"] == {"_id": "later"}


async def test_a_burst_after_the_job_started_gets_a_job_of_its_own(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("started")
    ran: list[JobDoc] = []

    async def record(instance: Instance, job: JobDoc) -> None:
        ran.append(job)

    jobs.register_worker(worker, record)
    await jobs.start()
    trigger = await jobs.create_trigger(
        instance, "@event", f"{OPERATIONS}:CREATED", worker, debounce="100ms"
    )
    jobs.notify_change(instance, OPERATIONS, "CREATED", {"_id": "first"})
    await jobs.flush_events()
    await eventually(lambda: _ran(ran, 1), "the first job running")
    jobs.notify_change(instance, OPERATIONS, "CREATED", {"_id": "second"})
    await jobs.flush_events()
    await eventually(lambda: _ran(ran, 2), "the second job running")
    await jobs.stop()
    assert [[c["id"] for c in job.message["events"]["changes"]] for job in ran] == [
        ["first"],
        ["second"],
    ]
    assert len(await jobs.list_jobs(instance, trigger_id=trigger.id)) == 2


async def _ran(ran: list[JobDoc], count: int) -> bool:
    return len(ran) >= count


async def test_stopping_queues_what_a_long_debounce_gathered(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("long")
    jobs.register_worker(worker, _noop)
    await jobs.start()
    trigger = await jobs.create_trigger(
        instance, "@event", f"{OPERATIONS}:CREATED", worker, debounce="10m"
    )
    jobs.notify_change(instance, OPERATIONS, "CREATED", {"_id": "op-1"})
    jobs.notify_change(instance, OPERATIONS, "CREATED", {"_id": "op-2"})
    await jobs.stop()
    (job,) = await jobs.list_jobs(instance, trigger_id=trigger.id)
    assert [c["id"] for c in job.message["events"]["changes"]] == ["op-1", "op-2"]


@pytest.mark.parametrize(
    ("kind", "arguments", "debounce", "reason"),
    [
        ("@event", f"{OPERATIONS}:CREATED", "soon", "a duration like 2s"),
        ("@event", f"{OPERATIONS}:CREATED", "0s", "a duration like 2s"),
        ("@event", f"{OPERATIONS}:CREATED", "11m", "at most 10m"),
        ("@every", "1h", "2s", "only @event triggers take a debounce"),
    ],
)
async def test_a_debounce_that_cannot_be_is_refused_and_nothing_written(
    services: Services, instance: Instance, kind: str, arguments: str, debounce: str, reason: str
) -> None:
    worker = worker_name("refused")
    services.jobs.register_worker(worker, _noop)
    with pytest.raises(InvalidTrigger) as refused:
        await services.jobs.create_trigger(instance, kind, arguments, worker, debounce=debounce)
    assert reason in str(refused.value)
    # The manifest's grammar gives the same answer, before an install writes anything.
    assert reason in (trigger_problem(kind, arguments, debounce) or "")
    answer = await services.couch.all_docs(instance.db(TRIGGERS_DOCTYPE))
    assert [row["id"] for row in answer["rows"] if not row["id"].startswith("_design/")] == []
