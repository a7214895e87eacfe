"""Triggers firing over the real store: time-based ones, two schedulers, @event, @webhook."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from roost.errors import NotFound
from roost.instances import Instance
from roost.jobs import DONE, JOBS_DOCTYPE, TRIGGERS_DOCTYPE, JobDoc, JobService
from roost.jobs.job import new_job_doc
from roost.jobs.scheduler import occurrence_job_id
from roost.jobs.times import format_time, parse_time, utc_now
from roost.services import Services
from tests.conftest import PASSPHRASE
from tests.jobs.conftest import MakeJobService, eventually, worker_name
from tests.stored import stored_revs


async def _noop(instance: Instance, job: JobDoc) -> None:
    return None


def _recording_worker(jobs: JobService, name: str) -> list[JobDoc]:
    ran: list[JobDoc] = []

    async def record(instance: Instance, job: JobDoc) -> str:
        ran.append(job)
        return "ran"

    jobs.register_worker(name, record)
    return ran


async def _done_jobs_of(jobs: JobService, instance: Instance, trigger_id: str) -> list[JobDoc]:
    found = await jobs.list_jobs(instance, trigger_id=trigger_id)
    return [job for job in found if job.state == DONE]


async def _set_next_run(services: Services, instance: Instance, trigger_id: str, when: str) -> None:
    db = instance.db(TRIGGERS_DOCTYPE)
    doc = await services.couch.get_doc(db, trigger_id)
    doc["next_run_at"] = when
    await services.couch.put_doc(db, doc)


async def test_at_in_the_past_fires_at_once_then_is_removed(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("at")
    ran = _recording_worker(jobs, worker)
    trigger = await jobs.create_trigger(
        instance, "@at", "2000-01-01T00:00:00Z", worker, {"report": "weekly"}
    )
    assert trigger.next_run_at == "2000-01-01T00:00:00.000000Z"
    await jobs.start()
    (job,) = await eventually(lambda: _done_jobs_of(jobs, instance, trigger.id), "the @at run")
    assert job.message == {"report": "weekly"}
    assert job.trigger_id == trigger.id
    assert [j.id for j in ran] == [job.id]
    with pytest.raises(NotFound):
        await jobs.get_trigger(instance, trigger.id)


async def test_in_fires_once_after_its_delay(
    make_job_service: MakeJobService, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("in")
    _recording_worker(jobs, worker)
    trigger = await jobs.create_trigger(instance, "@in", "1s", worker)
    assert trigger.next_run_at is not None
    assert parse_time(trigger.next_run_at) > parse_time(trigger.created_at)
    await jobs.start()
    (job,) = await eventually(lambda: _done_jobs_of(jobs, instance, trigger.id), "the @in run")
    assert job.queued_at >= trigger.next_run_at
    with pytest.raises(NotFound):
        await jobs.get_trigger(instance, trigger.id)


@pytest.mark.parametrize(("kind", "arguments"), [("@every", "1s"), ("@cron", "* * * * * *")])
async def test_recurring_triggers_fire_again_and_again(
    make_job_service: MakeJobService, instance: Instance, kind: str, arguments: str
) -> None:
    jobs = make_job_service()
    worker = worker_name("every")
    _recording_worker(jobs, worker)
    trigger = await jobs.create_trigger(instance, kind, arguments, worker)
    await jobs.start()
    try:
        done = await eventually(
            lambda: _at_least(jobs, instance, trigger.id, 2), f"two {kind} runs"
        )
        assert len({job.id for job in done}) == len(done)
        later = await jobs.get_trigger(instance, trigger.id)
        assert later.last_job_id is not None and later.last_run_at is not None
        assert later.next_run_at is not None and trigger.next_run_at is not None
        assert later.next_run_at > trigger.next_run_at
    finally:
        await jobs.delete_trigger(instance, trigger.id)


async def _at_least(jobs: JobService, instance: Instance, trigger_id: str, count: int) -> Any:
    done = await _done_jobs_of(jobs, instance, trigger_id)
    return done if len(done) >= count else None


async def test_two_schedulers_fire_each_occurrence_once(
    make_job_service: MakeJobService, services: Services, instance: Instance
) -> None:
    creator = make_job_service()
    worker = worker_name("hourly")
    creator.register_worker(worker, _noop)
    trigger = await creator.create_trigger(instance, "@every", "1h", worker)
    # Two processes with no worker for it: they only fire triggers.
    first, second = make_job_service(), make_job_service()
    expected: set[str] = set()
    for hour in range(1, 6):
        due = f"2020-01-01T0{hour}:00:00.000000Z"
        expected.add(occurrence_job_id(trigger.id, due))
        await _set_next_run(services, instance, trigger.id, due)
        await asyncio.gather(first.poll_once(), second.poll_once())
        jobs = await creator.list_jobs(instance, trigger_id=trigger.id)
        # Only the occurrences this test made due count: a stack process serving other
        # suites in this session may also poll the store and fire the trigger's own runs.
        assert {job.id for job in jobs} & expected == expected
        assert len([job for job in jobs if job.id in expected]) == hour
        advanced = await creator.get_trigger(instance, trigger.id)
        assert advanced.next_run_at is not None
        assert advanced.next_run_at > format_time(utc_now())
    await creator.delete_trigger(instance, trigger.id)


async def test_a_crash_between_queueing_and_advancing_neither_loses_nor_doubles(
    make_job_service: MakeJobService, services: Services, instance: Instance
) -> None:
    jobs = make_job_service()
    worker = worker_name("crash")
    jobs.register_worker(worker, _noop)
    trigger = await jobs.create_trigger(instance, "@every", "1h", worker)
    due = "2020-01-01T00:00:00.000000Z"
    await _set_next_run(services, instance, trigger.id, due)
    # The process that crashed had queued the occurrence's job but not advanced the trigger.
    orphan = new_job_doc(
        occurrence_job_id(trigger.id, due),
        worker,
        {},
        now=format_time(utc_now()),
        max_attempts=3,
        trigger_id=trigger.id,
    )
    await services.couch.put_doc(instance.db(JOBS_DOCTYPE), orphan)
    await make_job_service().poll_once()
    assert [job.id for job in await jobs.list_jobs(instance, trigger_id=trigger.id)] == [
        orphan["_id"]
    ]
    advanced = await jobs.get_trigger(instance, trigger.id)
    assert advanced.next_run_at is not None and advanced.next_run_at > due
    await jobs.delete_trigger(instance, trigger.id)


async def test_event_triggers_fire_on_data_writes(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = worker_name("on-contact")
    services.jobs.register_worker(worker, _noop)
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    created = await client.post(
        "/jobs/triggers",
        json={
            "type": "@event",
            "arguments": "io.cozy.contacts:CREATED",
            "worker": worker,
            "message": {"slug": "crm"},
        },
    )
    assert created.status_code == 201, created.text
    on_create = created.json()["_id"]
    on_delete = (
        await services.jobs.create_trigger(instance, "@event", "io.cozy.contacts:DELETED", worker)
    ).id

    posted = await client.post("/data/io.cozy.contacts/", json={"fullname": "Ada"})
    assert posted.status_code == 201
    contact = posted.json()["data"]
    await services.jobs.flush_events()
    (job,) = await services.jobs.list_jobs(instance, trigger_id=on_create)
    assert job.worker == worker
    assert job.message["slug"] == "crm"
    event = job.message["event"]
    assert (event["doctype"], event["verb"]) == ("io.cozy.contacts", "CREATED")
    assert event["doc"]["_id"] == contact["_id"] and event["doc"]["fullname"] == "Ada"

    updated = await client.put(
        f"/data/io.cozy.contacts/{contact['_id']}", json={**contact, "fullname": "Ada L."}
    )
    assert updated.status_code == 200
    await services.jobs.flush_events()
    assert len(await services.jobs.list_jobs(instance, trigger_id=on_create)) == 1
    assert await services.jobs.list_jobs(instance, trigger_id=on_delete) == []

    deleted = await client.delete(
        f"/data/io.cozy.contacts/{contact['_id']}", params={"rev": updated.json()["rev"]}
    )
    assert deleted.status_code == 200
    await services.jobs.flush_events()
    (gone,) = await services.jobs.list_jobs(instance, trigger_id=on_delete)
    assert gone.message["event"]["verb"] == "DELETED"
    assert gone.message["event"]["doc"]["_deleted"] is True
    assert gone.message["event"]["doc"]["fullname"] == "Ada L."
    # Other doctypes fire nothing.
    await client.post("/data/io.cozy.notes/", json={"title": "x"})
    await services.jobs.flush_events()
    assert len(await services.jobs.list_jobs(instance, trigger_id=on_create)) == 1


async def test_event_values_and_selector_narrow_the_documents(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = worker_name("on-account")
    services.jobs.register_worker(worker, _noop)
    trigger = await services.jobs.create_trigger(
        instance, "@event", "io.cozy.bank.operations:CREATED:acc1:account", worker
    )
    for account in ("acc1", "acc2", "acc1"):
        services.jobs.notify_change(
            instance, "io.cozy.bank.operations", "CREATED", {"_id": account, "account": account}
        )
    await services.jobs.flush_events()
    fired = await services.jobs.list_jobs(instance, trigger_id=trigger.id)
    assert [job.message["event"]["doc"]["account"] for job in fired] == ["acc1", "acc1"]


async def test_change_notices_from_another_thread_are_handled(
    services: Services, instance: Instance
) -> None:
    worker = worker_name("threaded")
    services.jobs.register_worker(worker, _noop)
    trigger = await services.jobs.create_trigger(instance, "@event", "io.cozy.notes", worker)
    services.jobs.notify_change(instance, "io.cozy.files", "CREATED", {"_id": "warm-up"})
    await asyncio.to_thread(
        services.jobs.notify_change, instance, "io.cozy.notes", "UPDATED", {"_id": "n1"}
    )

    async def fired() -> list[JobDoc]:
        await services.jobs.flush_events()
        return await services.jobs.list_jobs(instance, trigger_id=trigger.id)

    (job,) = await eventually(fired, "the change notified from a thread firing")
    assert job.message["event"]["doc"] == {"_id": "n1"}


async def test_a_webhook_queues_a_job_with_its_payload(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = worker_name("hook")
    services.jobs.register_worker(worker, _noop)
    trigger = await services.jobs.create_trigger(instance, "@webhook", "", worker, {"slug": "bank"})
    assert trigger.to_json()["webhook"] == f"/jobs/webhooks/{trigger.id}"
    assert len(trigger.id) == 32  # 128 random bits: the webhook's only secret

    answer = await client.post(f"/jobs/webhooks/{trigger.id}", json={"amount": 3})
    assert answer.status_code == 202, answer.text
    job = await services.jobs.get(instance, answer.json()["job_id"])
    assert job.message == {"slug": "bank", "input": {"amount": 3}}
    assert job.trigger_id == trigger.id and job.worker == worker

    text = await client.post(
        f"/jobs/webhooks/{trigger.id}", content=b"ping", headers={"Content-Type": "text/plain"}
    )
    assert (await services.jobs.get(instance, text.json()["job_id"])).message["input"] == "ping"
    empty = await client.post(f"/jobs/webhooks/{trigger.id}")
    assert (await services.jobs.get(instance, empty.json()["job_id"])).message["input"] is None

    # Ids only: the jobs queued above may be running, which changes their revisions.
    jobs_before = set(await stored_revs(services, instance, JOBS_DOCTYPE))
    bad = await client.post(
        f"/jobs/webhooks/{trigger.id}",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
    assert set(await stored_revs(services, instance, JOBS_DOCTYPE)) == jobs_before


async def test_unknown_webhooks_are_404(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = worker_name("not-a-hook")
    services.jobs.register_worker(worker, _noop)
    other = await services.jobs.create_trigger(instance, "@in", "1h", worker)
    jobs_before = set(await stored_revs(services, instance, JOBS_DOCTYPE))
    triggers_before = set(await stored_revs(services, instance, TRIGGERS_DOCTYPE))
    for trigger_id in ("0" * 32, other.id, "_design%2Froost-next_run_at", "_all_docs"):
        answer = await client.post(f"/jobs/webhooks/{trigger_id}", json={})
        assert answer.status_code == 404, trigger_id
        assert answer.json()["error"] == "not_found"
    # No job was queued, and no trigger document appeared under a guessed id.
    assert set(await stored_revs(services, instance, JOBS_DOCTYPE)) == jobs_before
    assert set(await stored_revs(services, instance, TRIGGERS_DOCTYPE)) == triggers_before
    await services.jobs.delete_trigger(instance, other.id)


async def test_event_triggers_fire_on_replicated_writes(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = worker_name("on-sync")
    services.jobs.register_worker(worker, _noop)
    trigger = await services.jobs.create_trigger(
        instance, "@event", "io.cozy.contacts:CREATED,UPDATED", worker
    )
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    pushed = await client.post(
        "/data/io.cozy.contacts/_bulk_docs",
        json={"docs": [{"_id": "from-phone", "fullname": "Grace"}, {"fullname": 3}]},
    )
    assert pushed.status_code == 201, pushed.text
    assert [("error" in answer) for answer in pushed.json()] == [False, True]
    replicated = await client.post(
        "/data/io.cozy.contacts/_bulk_docs",
        json={
            "new_edits": False,
            "docs": [{"_id": "from-laptop", "_rev": "1-abc", "fullname": "Alan"}],
        },
    )
    assert replicated.status_code == 201, replicated.text
    await services.jobs.flush_events()
    jobs = await services.jobs.list_jobs(instance, trigger_id=trigger.id)
    fired = sorted((j.message["event"]["verb"], j.message["event"]["doc"]["_id"]) for j in jobs)
    # The schema-invalid document was refused, so it fires nothing.
    assert fired == [("CREATED", "from-laptop"), ("CREATED", "from-phone")]
