"""Apps as jobs: triggers created at install, the `app` worker, budgets ending in `errored`,
webhook payloads as input, and the server answering while a guest spins."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.instances import Instance
from roost.services import Services

from .stack_helpers import install

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles Python guests once

PROBE_MANIFEST = {
    "slug": "probe",
    "name": "Probe",
    "version": "0.1.0",
    "type": "webapp",
    "description": ["A test guest."],
    "permissions": {
        "ops": {"type": "io.cozy.bank.operations", "verbs": ["GET"], "description": "read"}
    },
    "budget": {"fuel": 100_000_000_000, "memory_mib": 64, "wall_seconds": 1},
    "triggers": ["@webhook"],
}


def probe_package(probe_wasm: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (
            ("manifest.json", json.dumps(PROBE_MANIFEST).encode()),
            ("app.wasm", probe_wasm),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def jobs_of(services: Services) -> Any:
    jobs = getattr(services, "jobs", None)
    if jobs is None:
        pytest.fail("services.jobs (roost.jobs.JobService) is missing: the apps worker needs it")
    assert jobs.has_worker("app")  # registered by Services.build (the AppRunner)
    return jobs


async def wait_finished(jobs: Any, instance: Instance, job_id: str) -> Any:
    for _ in range(600):  # bounded: polls, never a timed assertion
        await jobs.poll_once()
        job = await jobs.get(instance, job_id)
        if job.state in ("done", "errored"):
            return job
        await asyncio.sleep(0.05)
    pytest.fail(f"job {job_id} never finished")


async def test_triggers_jobs_budget_and_webhook(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
    probe_wasm: bytes,
    probe: Any,
) -> None:
    jobs = jobs_of(services)
    # Reuse the test guest's compiled artifact in the stack's cache.
    import shutil

    target = services.config.cache_dir / "apps" / probe.path.name
    if not target.exists():
        shutil.copyfile(probe.path, target)
    await install(owner, probe_package(probe_wasm))
    triggers = [
        t
        for t in await jobs.list_triggers(instance, worker="app")
        if t.message.get("slug") == "probe"
    ]
    assert [t.type for t in triggers] == ["@webhook"]

    ok = await jobs.enqueue(instance, "app", {"slug": "probe", "input": {"mode": "echo", "n": 7}})
    done = await wait_finished(jobs, instance, ok.id)
    assert done.state == "done", done.error
    assert done.result["output"]["echo"]["n"] == 7

    spin = await jobs.enqueue(
        instance, "app", {"slug": "probe", "input": {"mode": "loop"}}, max_attempts=1
    )
    await jobs.poll_once()  # claims it: the guest now spins in a worker thread
    status = await owner.get("/status")
    assert status.status_code == 200  # the server keeps answering
    failed = await wait_finished(jobs, instance, spin.id)
    assert failed.state == "errored" and "time limit" in (failed.error or "")
    assert any("time limit" in entry.get("line", json.dumps(entry)) for entry in failed.log)

    hook = await jobs.fire_webhook(instance, triggers[0].id, {"mode": "echo", "from": "hook"})
    hooked = await wait_finished(jobs, instance, hook.id)
    assert hooked.state == "done" and hooked.result["output"]["echo"]["from"] == "hook"

    assert (await owner.delete("/apps/probe")).status_code == 200
    left = [
        t
        for t in await jobs.list_triggers(instance, worker="app")
        if t.message.get("slug") == "probe"
    ]
    assert left == []


async def test_event_trigger_runs_health_bills_on_a_new_bill(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
) -> None:
    from .stack_helpers import package

    jobs = jobs_of(services)
    await install(owner, package("health-bills"))
    op = await owner.post(
        "/data/io.cozy.bank.operations/",
        json={"label": "VIR CPAM PARIS REMB SOINS", "amount": 16.1, "date": "2026-10-05"},
    )
    assert op.status_code in (200, 201), op.text
    bill = await owner.post(
        "/data/io.cozy.bills/",
        json={"type": "health_costs", "vendor": "Ameli", "amount": 16.1, "date": "2026-10-03"},
    )
    assert bill.status_code in (200, 201), bill.text
    bill_id = bill.json().get("id") or bill.json().get("_id")
    linked = None
    for _ in range(600):  # bounded wait for the @event jobs
        await jobs.flush_events()
        await jobs.poll_once()
        doc = await services.documents.get(instance, "io.cozy.bills", bill_id)
        if doc.get("matchingOperation"):
            linked = doc
            break
        await asyncio.sleep(0.05)
    assert linked is not None, "the @event trigger never ran health-bills"
    app_jobs = [j for j in await jobs.list_jobs(instance) if j.worker == "app"]
    assert any(j.message.get("slug") == "health-bills" for j in app_jobs)
    assert (await owner.delete("/apps/health-bills")).status_code == 200
