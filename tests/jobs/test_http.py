"""`/jobs/…` over HTTP: who may queue and read jobs, and manage triggers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from roost.instances import Instance
from roost.jobs import JobDoc
from roost.services import Services
from tests.conftest import PASSPHRASE
from tests.jobs.conftest import worker_name

IssueToken = Callable[..., Awaitable[str]]


async def _noop(instance: Instance, job: JobDoc) -> None:
    return None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _registered(services: Services, prefix: str) -> str:
    name = worker_name(prefix)
    services.jobs.register_worker(name, _noop, max_attempts=4)
    return name


async def test_queue_needs_post_on_jobs_for_that_worker(
    client: httpx.AsyncClient, services: Services, instance: Instance, issue_token: IssueToken
) -> None:
    worker = _registered(services, "mail")
    url = f"/jobs/queue/{worker}"
    body = {"arguments": {"to": "ada@example.org"}}

    anonymous = await client.post(url, json=body)
    assert anonymous.status_code == 401

    unrelated = await issue_token(instance, "io.cozy.contacts:GET,POST")
    denied = await client.post(url, json=body, headers=bearer(unrelated))
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"

    other_worker = await issue_token(instance, "io.cozy.jobs:POST:thumbnail:worker")
    mismatch = await client.post(url, json=body, headers=bearer(other_worker))
    assert mismatch.status_code == 403

    read_only = await issue_token(instance, f"io.cozy.jobs:GET:{worker}:worker")
    assert (await client.post(url, json=body, headers=bearer(read_only))).status_code == 403

    allowed = await issue_token(instance, f"io.cozy.jobs:POST:{worker}:worker")
    queued = await client.post(url, json=body, headers=bearer(allowed))
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["worker"] == worker and job["state"] == "queued"
    assert job["message"] == {"to": "ada@example.org"}
    assert job["max_attempts"] == 4 and job["attempts"] == 0
    assert job["_type"] == "io.cozy.jobs"
    stored = await services.jobs.get(instance, job["_id"])
    assert stored.message == {"to": "ada@example.org"}

    whole = await issue_token(instance, "io.cozy.jobs:POST")
    assert (await client.post(url, json=body, headers=bearer(whole))).status_code == 202


async def test_queue_accepts_cozy_envelopes_and_options(
    client: httpx.AsyncClient, services: Services, instance: Instance, issue_token: IssueToken
) -> None:
    worker = _registered(services, "envelope")
    token = await issue_token(instance, f"io.cozy.jobs:POST:{worker}:worker")
    answer = await client.post(
        f"/jobs/queue/{worker}",
        json={"data": {"attributes": {"arguments": {"n": 1}, "options": {"max_exec_count": 1}}}},
        headers=bearer(token),
    )
    assert answer.status_code == 202
    assert answer.json()["message"] == {"n": 1} and answer.json()["max_attempts"] == 1
    empty = await client.post(f"/jobs/queue/{worker}", headers=bearer(token))
    assert empty.status_code == 202 and empty.json()["message"] == {}


async def test_queue_errors_are_4xx_json(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = _registered(services, "errors")
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    cases = [
        ("/jobs/queue/no-such-worker", {"arguments": {}}, 404),
        ("/jobs/queue/Bad%20Name", {"arguments": {}}, 400),
        (f"/jobs/queue/{worker}", {"arguments": [1, 2]}, 400),
        (f"/jobs/queue/{worker}", {"options": {"max_attempts": 0}}, 400),
        (f"/jobs/queue/{worker}", {"options": {"max_attempts": "3"}}, 400),
        (f"/jobs/queue/{worker}", {"options": []}, 400),
        (f"/jobs/queue/{worker}", [1], 400),
    ]
    for url, body, status in cases:
        answer = await client.post(url, json=body)
        assert answer.status_code == status, (url, body, answer.text)
        assert set(answer.json()) == {"error", "reason"}
    broken = await client.post(
        f"/jobs/queue/{worker}", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400


async def test_reading_a_job(
    client: httpx.AsyncClient, services: Services, instance: Instance, issue_token: IssueToken
) -> None:
    worker = _registered(services, "readable")
    job = await services.jobs.enqueue(instance, worker, {"secret": "x"})
    url = f"/jobs/{job.id}"

    assert (await client.get(url)).status_code == 401
    unrelated = await issue_token(instance, "io.cozy.contacts:GET")
    assert (await client.get(url, headers=bearer(unrelated))).status_code == 403
    post_only = await issue_token(instance, f"io.cozy.jobs:POST:{worker}:worker")
    assert (await client.get(url, headers=bearer(post_only))).status_code == 403
    # A job of another worker answers like a missing one.
    other = await issue_token(instance, "io.cozy.jobs:GET:thumbnail:worker")
    hidden = await client.get(url, headers=bearer(other))
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"

    for scope in (
        f"io.cozy.jobs:GET:{worker}:worker",
        "io.cozy.jobs:GET",
        f"io.cozy.jobs:GET:{job.id}",
    ):
        token = await issue_token(instance, scope)
        answer = await client.get(url, headers=bearer(token))
        assert answer.status_code == 200, scope
        assert answer.json()["_id"] == job.id and answer.json()["message"] == {"secret": "x"}
        assert "claimed_by" not in answer.json() and "due_at" not in answer.json()

    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    owner = await client.get(url)
    assert owner.status_code == 200
    assert set(owner.json()) >= {
        "worker", "message", "state", "queued_at", "started_at", "finished_at",
        "attempts", "error", "result", "log",
    }  # fmt: skip
    assert (await client.get("/jobs/no-such-job")).status_code == 404
    assert (await client.get("/jobs/_design")).status_code == 404


async def test_trigger_routes(
    client: httpx.AsyncClient, services: Services, instance: Instance, issue_token: IssueToken
) -> None:
    mine = _registered(services, "mine")
    theirs = _registered(services, "theirs")
    token = await issue_token(instance, f"io.cozy.triggers:GET,POST,DELETE:{mine}:worker")

    created = await client.post(
        "/jobs/triggers",
        json={"type": "@every", "arguments": "30m", "worker": mine, "message": {"a": 1}},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert trigger["type"] == "@every" and trigger["next_run_at"] > trigger["created_at"]
    assert trigger["message"] == {"a": 1}

    refused = await client.post(
        "/jobs/triggers",
        json={"data": {"attributes": {"type": "@every", "arguments": "1h", "worker": theirs}}},
        headers=bearer(token),
    )
    assert refused.status_code == 403
    foreign = await services.jobs.create_trigger(instance, "@cron", "0 3 * * *", theirs)

    listed = await client.get("/jobs/triggers", headers=bearer(token))
    assert listed.status_code == 200
    assert [t["_id"] for t in listed.json()["triggers"]] == [trigger["_id"]]
    assert (
        await client.get(f"/jobs/triggers/{foreign.id}", headers=bearer(token))
    ).status_code == 404
    own = await client.get(f"/jobs/triggers/{trigger['_id']}", headers=bearer(token))
    assert own.status_code == 200 and own.json()["arguments"] == "30m"
    assert (
        await client.delete(f"/jobs/triggers/{foreign.id}", headers=bearer(token))
    ).status_code == 404

    no_triggers = await issue_token(instance, "io.cozy.contacts:GET")
    assert (await client.get("/jobs/triggers", headers=bearer(no_triggers))).status_code == 403

    deleted = await client.delete(f"/jobs/triggers/{trigger['_id']}", headers=bearer(token))
    assert deleted.status_code == 204
    gone = await client.get(f"/jobs/triggers/{trigger['_id']}", headers=bearer(token))
    assert gone.status_code == 404

    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    everything = await client.get("/jobs/triggers", params={"worker": theirs})
    assert [t["_id"] for t in everything.json()["triggers"]] == [foreign.id]
    assert (await client.delete(f"/jobs/triggers/{foreign.id}")).status_code == 204


async def test_event_triggers_need_read_access_to_the_doctype(
    client: httpx.AsyncClient, services: Services, instance: Instance, issue_token: IssueToken
) -> None:
    worker = _registered(services, "watcher")
    body = {"type": "@event", "arguments": "io.cozy.contacts:CREATED", "worker": worker}
    blind = await issue_token(instance, f"io.cozy.triggers:POST:{worker}:worker")
    assert (
        await client.post("/jobs/triggers", json=body, headers=bearer(blind))
    ).status_code == 403
    reader = await issue_token(
        instance, f"io.cozy.triggers:POST:{worker}:worker io.cozy.contacts:GET"
    )
    answer = await client.post("/jobs/triggers", json=body, headers=bearer(reader))
    assert answer.status_code == 201
    await services.jobs.delete_trigger(instance, answer.json()["_id"])


async def test_invalid_triggers_are_400(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    worker = _registered(services, "invalid")
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    cases = [
        {"type": "@hourly", "arguments": "", "worker": worker},
        {"type": "@cron", "arguments": "61 * * * *", "worker": worker},
        {"type": "@cron", "arguments": "0 0 30 2 *", "worker": worker},
        {"type": "@every", "arguments": "often", "worker": worker},
        {"type": "@at", "arguments": "next tuesday", "worker": worker},
        {"type": "@event", "arguments": "io.cozy.contacts:TOUCHED", "worker": worker},
        {"type": "@webhook", "arguments": "x", "worker": worker},
        {"type": "@in", "arguments": "1h", "worker": "no-such-worker"},
        {"type": "@in", "arguments": "1h", "worker": worker, "message": "text"},
        {"type": "@in", "arguments": 5, "worker": worker},
        {"type": "@in", "arguments": "1h"},
        {"type": "@event", "arguments": "io.cozy.contacts", "worker": worker, "debounce": 2},
        {"type": "@event", "arguments": "io.cozy.contacts", "worker": worker, "debounce": "soon"},
        {"type": "@every", "arguments": "1h", "worker": worker, "debounce": "2s"},
    ]
    for body in cases:
        answer = await client.post("/jobs/triggers", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert set(answer.json()) == {"error", "reason"}
    assert (await client.get("/jobs/triggers/nope")).status_code == 404
    assert (await client.delete("/jobs/triggers/nope")).status_code == 404
    # Nothing of the refused ones was kept.
    assert await services.jobs.list_triggers(instance, worker=worker) == []
