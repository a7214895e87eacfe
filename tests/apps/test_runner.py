"""The sandbox with real components: budgets, isolation, host calls and their permissions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from roost.apps.compiler import CompiledApp
from roost.apps.engine import AppEngine
from roost.apps.host import core
from roost.apps.runner import RunResult, classify_trap
from roost.apps.runtime import AppRuntime
from roost.apps.services import Services
from roost.permissions import DocumentTarget, PermissionSet, decide

from .conftest import budget
from .fakes import FakeData, FakeNotifier, MemoryAccessLog

OPS = "io.cozy.bank.operations"
GRANT = PermissionSet.from_json(
    {
        "ops": {"type": OPS, "verbs": ["GET", "POST", "PUT"]},
        "notes": {
            "type": "io.roost.notes",
            "verbs": ["GET"],
            "selector": "owner",
            "values": ["alice"],
        },
        "notify": {"type": "io.cozy.notifications", "verbs": ["POST"]},
    }
)


def seeded() -> FakeData:
    data = FakeData()
    data.seed(OPS, [{"_id": f"op{i}", "amount": i, "label": f"op {i}"} for i in range(5)])
    data.seed(
        "io.roost.notes",
        [
            {"_id": "n1", "owner": "alice", "text": "mine"},
            {"_id": "n2", "owner": "bob", "text": "not mine"},
        ],
    )
    data.seed("io.cozy.contacts", [{"_id": "c1", "name": "Carol"}])
    return data


async def run(
    runtime: AppRuntime,
    app: CompiledApp,
    payload: dict[str, Any],
    *,
    grant: PermissionSet = GRANT,
    services: Services | None = None,
    **limits: Any,
) -> RunResult:
    return await runtime.run(
        app.wasm_sha256,
        json.dumps(payload),
        app="probe",
        grant=grant,
        services=services or Services(data=seeded()),
        budget=budget(**limits),
    )


def call(iface: str, fn: str, *args: str) -> dict[str, Any]:
    return {"mode": "call", "iface": iface, "fn": fn, "args": list(args)}


def guest_saw(result: RunResult) -> dict[str, Any]:
    assert result.ok, (result.reason, result.error, result.log)
    assert result.output is not None
    value = json.loads(result.output)
    assert isinstance(value, dict)
    return value


def err_of(seen: dict[str, Any]) -> dict[str, Any]:
    assert "err" in seen, seen
    value = json.loads(seen["err"])
    assert isinstance(value, dict)
    return value


pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles Python guests once


async def test_echo_and_fuel_accounting(runtime: AppRuntime, probe: CompiledApp) -> None:
    r = await run(runtime, probe, {"mode": "echo", "x": 1})
    assert r.ok and r.reason is None
    assert json.loads(r.output or "")["echo"]["x"] == 1
    assert 0 < r.fuel_used < 5_000_000_000


async def test_infinite_loop_stopped_by_fuel(runtime: AppRuntime, probe: CompiledApp) -> None:
    r = await run(runtime, probe, {"mode": "loop"}, fuel=200_000_000, wall_seconds=60)
    assert not r.ok and r.reason == "out of fuel"
    assert r.fuel_used == 200_000_000
    assert "fuel" in (r.error or "")


async def test_infinite_loop_stopped_by_epoch_deadline(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    r = await run(runtime, probe, {"mode": "loop"}, fuel=10**13, wall_seconds=0.3)
    assert not r.ok and r.reason == "time limit"


def test_the_epoch_advances_only_while_a_guest_runs() -> None:
    """A box at rest does not tick (its own engine here: the process-wide one may have a
    guest of another test still running)."""
    engine = AppEngine()
    engine.start()
    try:
        assert engine.running and not engine.ticking
        with engine.guest_running():
            assert engine.ticking
            with engine.guest_running():
                assert engine.ticking
            assert engine.ticking  # one guest still runs
        assert not engine.ticking
    finally:
        engine.stop()
    assert not engine.running  # a ticker at rest stops at once


async def test_a_run_gets_its_whole_time_limit_after_a_pause(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    """The epoch stood still while no guest ran: the next run is not cut short by ticks
    counted during the pause (the pause is longer than its limit)."""
    first = await run(runtime, probe, {"mode": "loop"}, fuel=200_000, wall_seconds=5)
    assert not first.ok and "fuel" in (first.error or "")
    await asyncio.sleep(0.5)
    started = asyncio.get_running_loop().time()
    stopped = await run(runtime, probe, {"mode": "loop"}, fuel=10**13, wall_seconds=0.3)
    took = asyncio.get_running_loop().time() - started
    assert not stopped.ok and stopped.reason == "time limit"
    assert took >= 0.25


async def test_the_loop_keeps_answering_while_a_guest_spins(
    runtime: AppRuntime, probe: CompiledApp, doc_stats: CompiledApp
) -> None:
    spinning = asyncio.ensure_future(
        run(runtime, probe, {"mode": "loop"}, fuel=10**13, wall_seconds=5)
    )
    await asyncio.sleep(0)  # the spinning guest is now in a worker thread
    small = await runtime.run(
        doc_stats.wasm_sha256,
        "{}",
        app="doc-stats",
        grant=GRANT,
        services=Services(data=seeded()),
        budget=budget(memory_mib=4),
    )
    assert small.ok
    assert not spinning.done()  # the event loop served another run meanwhile
    assert (await spinning).reason == "time limit"


async def test_memory_cap(runtime: AppRuntime, probe: CompiledApp) -> None:
    r = await run(runtime, probe, {"mode": "alloc"}, memory_mib=48)
    assert not r.ok and r.reason == "memory limit"
    r = await run(runtime, probe, {"mode": "echo"}, memory_mib=4)
    assert not r.ok and r.reason == "memory limit"  # cannot even instantiate


async def test_trapped_store_is_discarded_and_next_run_works(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    r = await run(runtime, probe, {"mode": "raise"})
    assert not r.ok and r.reason == "trap"
    assert "ValueError" in "\n".join(line.message for line in r.log)
    r = await run(runtime, probe, {"mode": "recurse"})
    assert not r.ok and r.reason == "trap"
    r = await run(runtime, probe, {"mode": "echo"})
    assert r.ok


async def test_app_error_is_not_a_trap(runtime: AppRuntime, probe: CompiledApp) -> None:
    r = await run(runtime, probe, {"mode": "fail", "message": "no account"})
    assert not r.ok and r.reason == "app error"
    assert json.loads(r.error or "") == {"error": "app_failed", "message": "no account"}


async def test_no_filesystem_env_or_socket(runtime: AppRuntime, probe: CompiledApp) -> None:
    fs = guest_saw(await run(runtime, probe, {"mode": "fs"}))
    for path in ("/etc/passwd", "/", ".", "/proc/self/environ", "/work", "write"):
        assert "err" in fs[path], (path, fs[path])
    assert "FileNotFoundError" in fs["/etc/passwd"]["err"]
    env = guest_saw(await run(runtime, probe, {"mode": "env"}))
    assert env["environ"] == {} and env["argv"] == []
    net = guest_saw(await run(runtime, probe, {"mode": "socket"}))
    assert "err" in net["socket"] and "err" in net["urllib"]


async def test_stdout_stderr_and_log_are_captured(runtime: AppRuntime, probe: CompiledApp) -> None:
    r = await run(
        runtime, probe, {"mode": "print", "stdout": "out!", "stderr": "err!", "log": "logged!"}
    )
    assert r.ok
    lines = [(line.level, line.message) for line in r.log]
    assert ("stdout", "out!") in lines and ("stderr", "err!") in lines
    assert ("info", "logged!") in lines


async def test_denied_host_call_returns_err_to_the_guest_and_is_logged(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    access = MemoryAccessLog()
    services = Services(data=seeded(), access_log=access)
    r = await run(runtime, probe, call("data", "find", "io.cozy.contacts", "{}"), services=services)
    e = err_of(guest_saw(r))
    assert e["error"] == "forbidden" and "io.cozy.contacts" in e["message"]
    [entry] = access.entries
    assert (entry.function, entry.doctype, entry.allowed, entry.error) == (
        "find",
        "io.cozy.contacts",
        False,
        "forbidden",
    )
    assert entry.app == "probe"


async def test_reserved_and_invalid_doctypes_are_refused(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    # Even a grant that names stack-managed doctypes cannot reach them through the host API.
    greedy = PermissionSet.from_json(
        {
            "perms": {"type": "io.cozy.permissions"},
            "sessions": {"type": "io.cozy.sessions"},
            "apps": {"type": "io.cozy.apps"},
        }
    )
    calls = [call("data", "find", d, "{}") for d in ("io.cozy.permissions", "io.cozy.sessions")]
    calls += [call("data", "find", "NOT A DOCTYPE", "{}")]
    calls += [call("data", "create", "io.cozy.apps", json.dumps({"slug": "evil"}))]
    for payload in calls:
        seen = guest_saw(await run(runtime, probe, payload, grant=greedy))
        assert err_of(seen)["error"] == "forbidden", payload


async def test_selector_grant_sees_only_matching_documents(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    payload = {
        "mode": "calls",
        "calls": [
            {"iface": "data", "fn": "find", "args": ["io.roost.notes", "{}"]},
            {"iface": "data", "fn": "get", "args": ["io.roost.notes", "n2"]},
            {"iface": "data", "fn": "get", "args": ["io.roost.notes", "n1"]},
            {
                "iface": "data",
                "fn": "changes-since".replace("-", "_"),
                "args": ["io.roost.notes", ""],
            },
        ],
    }
    access = MemoryAccessLog()
    r = await run(runtime, probe, payload, services=Services(data=seeded(), access_log=access))
    assert r.ok
    found, hidden, own, changes = json.loads(r.output or "")
    assert [d["_id"] for d in json.loads(found["ok"])["docs"]] == ["n1"]
    assert err_of(hidden)["error"] == "not_found"  # nothing leaks about bob's note
    assert json.loads(own["ok"])["text"] == "mine"
    assert [c["id"] for c in json.loads(changes["ok"])["results"]] == ["n1"]
    refused = [e for e in access.entries if not e.allowed]
    assert [(e.function, e.ids) for e in refused] == [("get", ("n2",))]


async def test_a_whole_doctype_grant_is_decided_once_per_answer_a_selector_per_document(
    runtime: AppRuntime, probe: CompiledApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading every one of 5 operations asks the one decision about the doctype, not about
    each operation; under a selector grant, each note the store returned is decided on."""
    targets: list[object] = []
    real_decide = decide

    def counting(*args: Any, **kwargs: Any) -> Any:
        targets.append(args[3] if len(args) > 3 else kwargs.get("target"))
        return real_decide(*args, **kwargs)

    monkeypatch.setattr(core, "decide", counting)  # the decision the host functions ask
    payload = {
        "mode": "calls",
        "calls": [
            {"iface": "data", "fn": "find", "args": [OPS, "{}"]},
            {"iface": "data", "fn": "find", "args": ["io.roost.notes", "{}"]},
        ],
    }
    r = await run(runtime, probe, payload)
    ops, notes = (json.loads(seen["ok"])["docs"] for seen in json.loads(r.output or ""))
    assert len(ops) == 5
    assert [d["_id"] for d in notes] == ["n1"]
    documents = [t.id for t in targets if isinstance(t, DocumentTarget) and t.id]
    assert documents == ["n1"]  # the grant's clause kept bob's note in the store


async def test_an_access_entry_counts_the_bytes_the_app_received(
    runtime: AppRuntime, probe: CompiledApp
) -> None:
    """What a read hands the app is what its access entry says it weighed."""
    payload = {
        "mode": "calls",
        "calls": [
            {"iface": "data", "fn": "find", "args": [OPS, "{}"]},
            {"iface": "data", "fn": "get", "args": [OPS, "op1"]},
            {"iface": "data", "fn": "changes_since", "args": [OPS, ""]},
        ],
    }
    access = MemoryAccessLog()
    r = await run(runtime, probe, payload, services=Services(data=seeded(), access_log=access))
    assert r.ok, (r.reason, r.error)
    answers = [seen["ok"] for seen in json.loads(r.output or "")]
    by_function = {e.function: e.bytes for e in access.entries}
    assert by_function == {
        "find": len(answers[0]),
        "get": len(answers[1]),
        "changes-since": len(answers[2]),
    }


async def test_crud_through_the_host(runtime: AppRuntime, probe: CompiledApp) -> None:
    data = seeded()
    payload = {
        "mode": "calls",
        "calls": [
            {
                "iface": "data",
                "fn": "create",
                "args": [OPS, json.dumps({"_id": "new", "amount": 7})],
            },
            {"iface": "data", "fn": "get", "args": [OPS, "new"]},
            {
                "iface": "data",
                "fn": "find",
                "args": [
                    OPS,
                    json.dumps({"selector": {"amount": {"$gt": 3}}, "fields": ["amount"]}),
                ],
            },
            {
                "iface": "data",
                "fn": "delete",
                "args": [OPS, json.dumps({"_id": "op1", "_rev": "1-seed"})],
            },
            {"iface": "data", "fn": "create", "args": [OPS, "not json"]},
            {
                "iface": "data",
                "fn": "update",
                "args": [OPS, json.dumps({"_id": "op2", "_rev": "9-x"})],
            },
        ],
    }
    r = await run(runtime, probe, payload, services=Services(data=data))
    created, got, found, deleted, bad, conflict = json.loads(r.output or "")
    assert json.loads(created["ok"])["_id"] == "new"
    assert json.loads(got["ok"])["amount"] == 7
    assert {d["_id"]: d for d in json.loads(found["ok"])["docs"]}["new"] == {
        "_id": "new",
        "_rev": json.loads(got["ok"])["_rev"],
        "amount": 7,
    }
    assert err_of(deleted)["error"] == "forbidden"  # no DELETE in the grant
    assert err_of(bad)["error"] == "invalid"
    assert err_of(conflict)["error"] == "conflict"
    assert ("POST", OPS, "new") in data.writes
    assert not any(w[0] == "DELETE" for w in data.writes)


async def test_missing_services_and_notify(runtime: AppRuntime, probe: CompiledApp) -> None:
    notifier = FakeNotifier()
    payload = {
        "mode": "calls",
        "calls": [
            {"iface": "notify", "fn": "notify", "args": ["Hello", "World"]},
            {"iface": "files", "fn": "list", "args": ["/"]},
            {"iface": "http", "fn": "fetch", "args": [json.dumps({"url": "https://example.com/"})]},
        ],
    }
    r = await run(runtime, probe, payload, services=Services(data=seeded(), notifier=notifier))
    sent, files, fetched = json.loads(r.output or "")
    assert json.loads(sent["ok"]) == {"id": "n1"}
    assert notifier.sent == [("probe", "Hello", "World")]
    assert err_of(files)["error"] == "forbidden"  # no io.cozy.files rule
    assert err_of(fetched)["error"] == "egress_denied"  # no egress at all


async def test_c_guest_counts_documents_and_passes_errors(
    runtime: AppRuntime, doc_stats: CompiledApp
) -> None:
    r = await runtime.run(
        doc_stats.wasm_sha256,
        json.dumps({"doctype": OPS}),
        app="doc-stats",
        grant=GRANT,
        services=Services(data=seeded()),
        budget=budget(memory_mib=4),
    )
    assert r.ok, r
    assert json.loads(r.output or "")["count"] == 5
    assert [(line.level, line.message) for line in r.log] == [
        ("info", f"counted 5 documents of {OPS}")
    ]
    r = await runtime.run(
        doc_stats.wasm_sha256,
        json.dumps({"doctype": "io.cozy.contacts"}),
        app="doc-stats",
        grant=GRANT,
        services=Services(data=seeded()),
        budget=budget(memory_mib=4),
    )
    assert not r.ok and r.reason == "app error"
    assert json.loads(r.error or "")["error"] == "forbidden"


def test_trap_classification() -> None:
    assert classify_trap("... wasm trap: all fuel consumed by WebAssembly") == "out of fuel"
    assert classify_trap("Caused by:\n    wasm trap: interrupt\n") == "time limit"
    assert classify_trap("memory minimum size of 199 pages exceeds memory limits") == "memory limit"
    assert classify_trap("unreachable", stderr="object type name: MemoryError") == "memory limit"
    assert classify_trap("wasm trap: call stack exhausted") == "trap"


async def test_files_inside_the_grant_only(runtime: AppRuntime, probe: CompiledApp) -> None:
    from .fakes import FakeFiles

    files = FakeFiles()
    photos = files.mkdir("/Photos")
    files.put("/Photos/cat.txt", b"meow")
    files.mkdir("/Private")
    files.put("/Private/diary.txt", b"secret")
    grant = PermissionSet.from_json(
        {"photos": {"type": "io.cozy.files", "verbs": ["GET", "POST", "PUT"], "values": [photos]}}
    )
    payload = {
        "mode": "calls",
        "calls": [
            {"iface": "files", "fn": "list", "args": ["/Photos"]},
            {"iface": "files", "fn": "read", "args": ["/Photos/cat.txt"]},
            {
                "iface": "files",
                "fn": "write",
                "args": ["/Photos/dog.txt", json.dumps({"text": "woof"})],
            },
            {"iface": "files", "fn": "read", "args": ["/Private/diary.txt"]},
            {"iface": "files", "fn": "list", "args": ["/"]},
            {
                "iface": "files",
                "fn": "write",
                "args": ["/Private/x.txt", json.dumps({"text": "x"})],
            },
        ],
    }
    r = await run(runtime, probe, payload, grant=grant, services=Services(files=files))
    listed, read, wrote, secret, root, sneaky = json.loads(r.output or "")
    assert [e["name"] for e in json.loads(listed["ok"])["entries"]] == ["cat.txt"]
    import base64

    assert base64.b64decode(json.loads(read["ok"])["base64"]) == b"meow"
    assert json.loads(wrote["ok"])["name"] == "dog.txt" and files.data["/Photos/dog.txt"] == b"woof"
    # Outside the grant answers exactly like a missing path (no existence oracle).
    for refused in (secret, root, sneaky):
        assert err_of(refused) == {"error": "not_found", "message": "missing"}
    assert "/Private/x.txt" not in files.data
