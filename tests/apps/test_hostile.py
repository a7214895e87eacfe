"""A hostile guest against the sandbox: every budget binds, nothing leaks, nothing 500s.

Built with the project's build path (examples/apps/build.sh, cached like every guest): the
Python probe (tests/apps/guests/probe) for what needs WASI (a blocking sleep, files,
environment, sockets) and the C app doc-stats for "another app still runs".
No timing thresholds: "the other app starts at once" is asserted as an ordering (it
completes while the sleepers are still blocked).
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import tarfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.apps.budget import MIB, RunBudget
from roost.apps.compiler import CompiledApp
from roost.apps.runner import RunResult
from roost.apps.runtime import AppRuntime
from roost.apps.services import Services
from roost.appstore.runs import describe_run, job_result
from roost.instances import Instance
from roost.jobs.runner import BudgetHit
from roost.permissions import PermissionSet
from roost.services import Services as StackServices
from tests.conftest import PASSPHRASE

from .conftest import budget, cwasm_cache_dir
from .fakes import FakeData, FakeFiles, FakeNotifier, MemoryAccessLog
from .stack_helpers import install
from .test_stack_jobs import jobs_of, wait_finished

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

OPS = "io.cozy.bank.operations"
NOTES = "io.roost.notes"
GRANT = PermissionSet.from_json(
    {
        "ops": {"type": OPS, "verbs": ["GET"]},
        "notes": {"type": NOTES, "verbs": ["GET", "PUT"], "selector": "owner", "values": ["a"]},
        "files": {"type": "io.cozy.files", "verbs": ["GET"], "values": ["id:/Shared"]},
        "notify": {"type": "io.cozy.notifications", "verbs": ["POST"]},
    }
)


def seeded() -> FakeData:
    data = FakeData()
    data.seed(OPS, [{"_id": f"op{i}", "amount": i} for i in range(3)])
    data.seed(
        NOTES,
        [
            {"_id": "hidden", "owner": "b", "text": "not yours"},
            {"_id": "mine", "owner": "a", "text": "yours"},
        ],
    )
    data.seed("io.cozy.contacts", [{"_id": "c1", "name": "Carol"}])
    return data


async def run(
    runtime: AppRuntime,
    app: CompiledApp,
    payload: dict[str, Any],
    *,
    name: str = "hostile",
    tenant: str = "evil.test",
    grant: PermissionSet = GRANT,
    services: Services | None = None,
    run_budget: RunBudget | None = None,
) -> RunResult:
    return await runtime.run(
        app.wasm_sha256,
        json.dumps(payload),
        app=name,
        grant=grant,
        services=services or Services(data=seeded()),
        budget=run_budget or budget(),
        tenant=tenant,
    )


def output(result: RunResult) -> Any:
    assert result.ok, (result.reason, result.error, result.log)
    return json.loads(result.output or "")


def call(iface: str, fn: str, *args: str) -> dict[str, Any]:
    return {"mode": "call", "iface": iface, "fn": fn, "args": list(args)}


def answers(result: RunResult) -> list[Any]:
    """The host's answers to a `calls` run, errors parsed."""
    out = []
    for item in output(result):
        out.append({"err": json.loads(item["err"])} if "err" in item else item)
    return out


# -- wall time binds while the guest is blocked outside wasm ------------------------------------
async def test_a_blocking_sleep_ends_with_time_limit(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    result = await run(
        runtime,
        probe,
        {"mode": "sleep", "seconds": 3600},
        name="sleeper-alone",
        run_budget=budget(wall_seconds=1),
    )
    assert not result.ok and result.reason == "time limit"
    assert result.abandoned
    # The same app cannot park a second thread while the first is still asleep.
    again = await run(runtime, probe, {"mode": "echo"}, name="sleeper-alone")
    assert again.reason == "time limit" and "still blocked" in (again.error or "")


async def test_sleepers_never_hold_every_slot(probe: CompiledApp, doc_stats: CompiledApp) -> None:
    runtime = AppRuntime(cwasm_cache_dir(), max_concurrency=2)
    try:
        sleepers = [
            asyncio.ensure_future(
                run(
                    runtime,
                    probe,
                    {"mode": "sleep", "seconds": 3600},
                    name=f"sleeper-{i}",
                    run_budget=budget(wall_seconds=3),
                )
            )
            for i in range(3)
        ]
        await asyncio.sleep(0)
        other = await runtime.run(
            doc_stats.wasm_sha256,
            json.dumps({"doctype": OPS}),
            app="doc-stats",
            grant=GRANT,
            services=Services(data=seeded()),
            budget=budget(),
            tenant="good.test",
        )
        # The other instance's run finished while every sleeper was still blocked.
        assert not any(s.done() for s in sleepers), [s.result() for s in sleepers if s.done()]
        assert output(other)["count"] == 3
        results = await asyncio.gather(*sleepers)
        assert [r.reason for r in results] == ["time limit"] * 3
    finally:
        runtime.close()


async def test_infinite_loop_and_unbounded_allocation(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    loop = await run(
        runtime, probe, {"mode": "loop"}, run_budget=budget(fuel=10**13, wall_seconds=0.5)
    )
    assert loop.reason == "time limit" and not loop.abandoned
    hog = await run(runtime, probe, {"mode": "alloc"}, run_budget=budget(memory_mib=48))
    assert hog.reason == "memory limit"


# -- host calls have their own budget, and are logged aggregated ---------------------------------
async def test_a_host_call_flood_is_cut_and_logged_as_one_entry(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    access = MemoryAccessLog()
    data = seeded()
    result = await run(
        runtime,
        probe,
        {"mode": "flood", "iface": "data", "fn": "get", "args": ["io.cozy.contacts", "c1"]},
        services=Services(data=data, access_log=access),
        run_budget=RunBudget(
            fuel=5 * 10**9, memory_bytes=64 * MIB, wall_seconds=20, host_calls=300
        ),
    )
    seen = output(result)
    assert seen["calls"] == 301
    assert json.loads(seen["last"]["err"])["error"] == "budget_exhausted"
    assert result.marks == ("host calls",)
    # 300 refusals and 1 budget answer: two entries, not 301.
    assert sorted((e.error, e.calls) for e in access.entries) == [
        ("budget_exhausted", 1),
        ("forbidden", 300),
    ]
    with pytest.raises(BudgetHit):
        job_result("hostile", result)


async def test_bytes_through_host_calls_are_budgeted(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    result = await run(
        runtime,
        probe,
        {"mode": "flood", "iface": "data", "fn": "find", "args": [OPS, "{}"]},
        run_budget=RunBudget(
            fuel=5 * 10**9, memory_bytes=64 * MIB, wall_seconds=20, host_bytes=4096
        ),
    )
    seen = output(result)
    assert json.loads(seen["last"]["err"])["error"] == "budget_exhausted"
    assert "host bytes" in result.marks


# -- no existence oracle --------------------------------------------------------------------------
async def test_reads_outside_a_selector_answer_exactly_like_missing_ids(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    data = seeded()
    calls = [
        call("data", "get", NOTES, "hidden"),
        call("data", "get", NOTES, "no-such-id"),
        call(
            "data", "update", NOTES, json.dumps({"_id": "hidden", "_rev": "1-seed", "owner": "a"})
        ),
        call(
            "data", "update", NOTES, json.dumps({"_id": "no-such-id", "_rev": "1-x", "owner": "a"})
        ),
        call("data", "find", NOTES, json.dumps({"selector": {}, "limit": 1})),
        call("data", "changes_since", NOTES, ""),
        call("data", "get", NOTES, "mine"),
    ]
    result = await run(
        runtime, probe, {"mode": "calls", "calls": calls}, services=Services(data=data)
    )
    got = answers(result)
    missing = {"err": {"error": "not_found", "message": "missing"}}
    assert got[0] == got[1] == missing
    assert got[2] == got[3] == missing
    # limit 1 counts readable documents only: a hidden one never takes the slot.
    assert [d["_id"] for d in json.loads(got[4]["ok"])["docs"]] == ["mine"]
    assert [c["id"] for c in json.loads(got[5]["ok"])["results"]] == ["mine"]
    assert json.loads(got[6]["ok"])["text"] == "yours"
    assert data.writes == []  # the refused update changed nothing


async def test_files_outside_the_grant_answer_like_missing_paths(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    files = FakeFiles()
    files.mkdir("/Shared")
    files.put("/Shared/ok.txt", b"shared")
    files.mkdir("/Private")
    files.put("/Private/secret.txt", b"secret")
    calls = [
        call("files", "read", "/Private/secret.txt"),
        call("files", "read", "/Private/nothing.txt"),
        call("files", "list", "/Private"),
        call("files", "list", "/Nowhere"),
        call("files", "read", "/Shared/ok.txt"),
    ]
    result = await run(
        runtime, probe, {"mode": "calls", "calls": calls}, services=Services(files=files)
    )
    got = answers(result)
    missing = {"err": {"error": "not_found", "message": "missing"}}
    assert got[0] == got[1] == got[2] == got[3] == missing
    assert "ok" in got[4]


async def test_an_expired_grant_refuses_every_host_call(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    expired = PermissionSet.from_json(
        {
            "rules": {
                "ops": {"type": OPS, "verbs": ["ALL"]},
                "notify": {"type": "io.cozy.notifications", "verbs": ["POST"]},
            },
            "egress": ["https://bank.example"],
            "expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        }
    )
    data, notifier = seeded(), FakeNotifier()
    calls = [
        call("data", "get", OPS, "op1"),
        call("data", "create", OPS, json.dumps({"amount": 1})),
        call("notify", "notify", "hi", "there"),
        call("http", "fetch", json.dumps({"url": "https://bank.example/"})),
    ]
    result = await run(
        runtime,
        probe,
        {"mode": "calls", "calls": calls},
        grant=expired,
        services=Services(data=data, notifier=notifier),
    )
    assert [a["err"]["error"] for a in answers(result)] == ["forbidden"] * 4
    assert data.writes == [] and notifier.sent == []


# -- guest output is bounded and sanitised --------------------------------------------------------
@pytest.mark.parametrize("as_error", [False, True])
@pytest.mark.parametrize(
    ("text", "repeat", "shown"),
    [
        ("NaN", 1, "NaN"),
        ("[1e999]", 1, "[1e999]"),
        ('"\\ud800"', 1, '"\\ud800"'),
        ("[", 200_000, None),
    ],
)
async def test_bad_output_is_shown_as_text_never_breaks_encoding(
    runtime: AppRuntime,
    probe: CompiledApp,
    text: str,
    repeat: int,
    shown: str | None,
    as_error: bool,
) -> None:
    raw = {"mode": "raw", "text": text, "repeat": repeat, "as_error": as_error}
    result = await run(runtime, probe, raw)
    answer = describe_run(result)
    # What the run endpoint and the jobs API send always encodes as strict JSON.
    encoded = json.dumps(answer, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert encoded
    value = answer["error"] if as_error else answer["output"]
    assert isinstance(value, str)
    if shown is not None:
        assert value == shown
    if not as_error:
        job = job_result("hostile", result)
        json.dumps(job, allow_nan=False, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("as_error", [False, True])
async def test_a_50_mib_result_is_refused_not_returned(
    runtime: AppRuntime, probe: CompiledApp, as_error: bool
) -> None:
    result = await run(
        runtime,
        probe,
        {"mode": "raw", "text": "x" * 1024, "repeat": 50 * 1024, "as_error": as_error},
        run_budget=budget(memory_mib=256),
    )
    assert not result.ok and result.reason == "output limit"
    assert result.output is None and len(result.error or "") < 200
    with pytest.raises(BudgetHit):
        job_result("hostile", result)


# -- WASI grants nothing ---------------------------------------------------------------------
async def test_wasi_files_environment_and_sockets_are_empty(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    fs = output(await run(runtime, probe, {"mode": "fs"}))
    assert all("err" in v for k, v in fs.items() if k not in ("/", "."))
    assert all(v.get("ok", []) == [] or "err" in v for k, v in fs.items() if k in ("/", "."))
    env = output(await run(runtime, probe, {"mode": "env"}))
    assert env["environ"] == {}
    sock = output(await run(runtime, probe, {"mode": "socket"}))
    assert "err" in sock["socket"] and "err" in sock["urllib"]


async def test_an_oversized_argument_is_refused_before_any_work(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    data = seeded()
    huge = json.dumps({"amount": 1, "blob": "x" * (9 * MIB)})
    result = await run(
        runtime,
        probe,
        call("data", "create", OPS, huge),
        services=Services(data=data),
        run_budget=budget(memory_mib=128),
    )
    assert json.loads(output(result)["err"])["error"] == "invalid"
    assert data.writes == []


# -- the same attacks through the stack: HTTP, jobs, the access log, another instance ----------
HOSTILE_MANIFEST = {
    "slug": "hostile",
    "name": "Hostile",
    "version": "0.1.0",
    "type": "webapp",
    "description": ["A hostile test guest."],
    "permissions": {"ops": {"type": OPS, "verbs": ["GET"], "description": "read"}},
    "budget": {
        "fuel": 100_000_000_000,
        "memory_mib": 128,
        "wall_seconds": 10,
        "host_calls": 2000,
    },
    "triggers": ["@webhook"],
}


def hostile_package(probe_wasm: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in (
            ("manifest.json", json.dumps(HOSTILE_MANIFEST).encode()),
            ("app.wasm", probe_wasm),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


async def install_hostile(
    owner: httpx.AsyncClient, services: StackServices, probe: CompiledApp, probe_wasm: bytes
) -> None:
    target = services.config.cache_dir / "apps" / probe.path.name
    if not target.exists():
        shutil.copyfile(probe.path, target)
    await install(owner, hostile_package(probe_wasm))


async def test_no_guest_output_makes_the_stack_answer_500(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: StackServices,
    stack_apps_ready: Path,
    probe_wasm: bytes,
    probe: CompiledApp,
) -> None:
    await install_hostile(owner, services, probe, probe_wasm)
    cases = [("NaN", 1), ("[1e999]", 1), ('"\\ud800"', 1), ("[", 200_000)]
    for text, repeat in cases:
        for as_error in (False, True):
            raw = {"mode": "raw", "text": text, "repeat": repeat, "as_error": as_error}
            answer = await owner.post("/apps/hostile/run", json=raw)
            assert answer.status_code == (422 if as_error else 200), answer.text
            shown = answer.json()["error" if as_error else "output"]
            assert isinstance(shown, str)
    big = {"mode": "raw", "text": "x" * 1024, "repeat": 50 * 1024}
    refused = await owner.post("/apps/hostile/run", json=big)
    assert refused.status_code == 422 and refused.json()["reason"] == "output limit"
    assert len(refused.content) < 4096
    # The same outputs as job results: the jobs API shows them.
    jobs = jobs_of(services)
    for text, repeat in cases:
        raw = {"mode": "raw", "text": text, "repeat": repeat}
        job = await jobs.enqueue(instance, "app", {"slug": "hostile", "input": raw})
        done = await wait_finished(jobs, instance, job.id)
        assert done.state == "done", done.error
        shown = await owner.get(f"/jobs/{job.id}")
        assert shown.status_code == 200, shown.text
        assert isinstance(shown.json()["result"]["output"], str)
    assert (await owner.delete("/apps/hostile")).status_code == 200


async def test_a_flood_leaves_a_bounded_log_and_a_failing_trigger(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: StackServices,
    stack_apps_ready: Path,
    probe_wasm: bytes,
    probe: CompiledApp,
    new_instance: Callable[..., Awaitable[Instance]],
    app: Any,
) -> None:
    await install_hostile(owner, services, probe, probe_wasm)
    flood = {"mode": "flood", "iface": "data", "fn": "get", "args": ["io.cozy.contacts", "c1"]}
    ran = await owner.post("/apps/hostile/run", json=flood)
    assert ran.status_code == 200, ran.text
    assert ran.json()["output"]["calls"] == 2001
    assert ran.json()["budget_hit"] == ["host calls"]
    await services.access_log.flush()
    entries = await services.access_log.query(instance, app="hostile")
    assert len(entries) == 2
    refused = [e for e in entries if "(forbidden)" in e["path"]]
    assert refused[0]["calls"] == 2000 and refused[0]["status"] == 403
    assert "refused 2,000 call(s) of io.cozy.contacts" in refused[0]["path"]
    cut = [e for e in entries if "(budget_exhausted)" in e["path"]]
    assert cut[0]["calls"] == 1
    # Another instance reads its own documents meanwhile, as usual.
    other = await new_instance("bob")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{other.domain}") as bob:
        assert (await bob.post("/auth/login", json={"passphrase": PASSPHRASE})).status_code < 400
        made = await bob.post("/data/io.cozy.notes/", json={"text": "bob's"})
        assert made.status_code in (200, 201), made.text
        doc_id = made.json().get("id") or made.json().get("_id")
        assert (await bob.get(f"/data/io.cozy.notes/{doc_id}")).json()["text"] == "bob's"
    # Through its trigger, the flood fails at once (no retry) and backs the trigger off.
    jobs = jobs_of(services)
    trigger = next(
        t
        for t in await jobs.list_triggers(instance, worker="app")
        if t.message.get("slug") == "hostile"
    )
    job = await jobs.fire_webhook(instance, trigger.id, flood)
    failed = await wait_finished(jobs, instance, job.id)
    assert failed.state == "errored" and failed.attempts == 1
    assert "host calls" in (failed.error or "")
    shown = await owner.get(f"/jobs/triggers/{trigger.id}")
    assert shown.status_code == 200
    assert shown.json()["state"] == "failing" and shown.json()["backoff_until"]
    assert (await owner.delete("/apps/hostile")).status_code == 200


async def test_over_the_store_a_selector_grant_reveals_no_hidden_document(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: StackServices,
    stack_apps_ready: Path,
    probe_wasm: bytes,
    probe: CompiledApp,
) -> None:
    manifest = {
        **HOSTILE_MANIFEST,
        "slug": "hostile-notes",
        "permissions": {
            "notes": {
                "type": NOTES,
                "verbs": ["GET"],
                "selector": "owner",
                "values": ["a"],
                "description": "read a's notes",
            }
        },
        "triggers": [],
    }
    target = services.config.cache_dir / "apps" / probe.path.name
    if not target.exists():
        shutil.copyfile(probe.path, target)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in (
            ("manifest.json", json.dumps(manifest).encode()),
            ("app.wasm", probe_wasm),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    await install(owner, buf.getvalue())
    ids = {}
    # Hidden documents sort first, so an unfiltered `limit: 1` would hand out a hidden one.
    for key, body in (
        ("hidden", {"owner": "b", "text": "not yours", "rank": 0}),
        ("tagged", {"owner": ["x", "a"], "text": "shared", "rank": 1}),
        ("mine", {"owner": "a", "text": "yours", "rank": 2}),
    ):
        made = await owner.post(f"/data/{NOTES}/", json=body)
        assert made.status_code in (200, 201), made.text
        ids[key] = made.json().get("id") or made.json().get("_id")
    calls = [
        call("data", "get", NOTES, ids["hidden"]),
        call("data", "get", NOTES, "no-such-id"),
        call("data", "find", NOTES, json.dumps({"selector": {"rank": {"$gte": 0}}, "limit": 1})),
        call("data", "find", NOTES, json.dumps({"selector": {}, "limit": 10})),
        call("data", "changes_since", NOTES, ""),
    ]
    ran = await owner.post("/apps/hostile-notes/run", json={"mode": "calls", "calls": calls})
    assert ran.status_code == 200, ran.text
    got = ran.json()["output"]
    assert json.loads(got[0]["err"]) == json.loads(got[1]["err"])
    assert json.loads(got[0]["err"]) == {"error": "not_found", "message": "missing"}
    first = [d["_id"] for d in json.loads(got[2]["ok"])["docs"]]
    assert len(first) == 1 and first[0] in (ids["tagged"], ids["mine"])
    every = {d["_id"] for d in json.loads(got[3]["ok"])["docs"]}
    assert every == {ids["tagged"], ids["mine"]}
    changed = {c["id"] for c in json.loads(got[4]["ok"])["results"]}
    assert ids["hidden"] not in changed
    assert (await owner.delete("/apps/hostile-notes")).status_code == 200
