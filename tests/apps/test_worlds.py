"""World versions: apps built for roost:app@0.1.0 keep linking and running unchanged beside
apps of 0.2.0 (which adds the outbox); each version links only its own interfaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roost.apps.compiler import allowed_import
from roost.apps.host import functions_of
from roost.apps.package import read_package
from roost.apps.runtime import AppRuntime, PreparedApp
from roost.apps.services import Services

from .fakes import FakeData, MemoryAccessLog

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles Python guests once

OLD_WORLD = ("bank-connector", "health-bills", "doc-stats")


def prepared(runtime: AppRuntime, examples: Path, slug: str) -> PreparedApp:
    return runtime.prepare_sync(read_package(examples / slug))


def roost_imports(app: PreparedApp) -> list[str]:
    return [name for name in app.compiled.imports if name.startswith("roost:")]


def test_each_example_imports_exactly_the_world_its_manifest_names(
    runtime: AppRuntime, examples_built: Path, doc_stats_wasm: bytes
) -> None:
    for slug in OLD_WORLD:
        app = prepared(runtime, examples_built, slug)
        assert app.manifest.world == "roost:app@0.1.0"
        names = roost_imports(app)
        assert names and all(name.endswith("@0.1.0") for name in names), names
    offer = prepared(runtime, examples_built, "insurance-offer")
    assert offer.manifest.world == "roost:app@0.2.0"
    assert "roost:app/outbox@0.2.0" in roost_imports(offer)
    assert all(name.endswith("@0.2.0") for name in roost_imports(offer))


def test_the_outbox_exists_from_world_0_2_0_only() -> None:
    assert allowed_import("roost:app/outbox@0.2.0")
    assert allowed_import("roost:app/outbox@0.3.0")
    assert not allowed_import("roost:app/outbox@0.1.0")
    for version in ("0.1.0", "0.2.0", "0.3.0"):
        for iface in ("data", "files", "http", "log", "notify"):
            assert allowed_import(f"roost:app/{iface}@{version}")
    assert not allowed_import("roost:app/data@0.4.0")


def test_bulk_writes_are_linked_from_world_0_3_0_only() -> None:
    """An older world's `data` keeps exactly its own functions: a component claiming
    `create-many` from `data@0.1.0` would find nothing to link to."""
    single = ["get", "find", "create", "update", "delete", "changes-since"]
    assert functions_of("0.1.0", "data") == single
    assert functions_of("0.2.0", "data") == single
    assert functions_of("0.3.0", "data") == [*single, "get-many", "create-many", "update-many"]
    assert functions_of("0.1.0", "outbox") == []
    assert functions_of("0.3.0", "outbox") == functions_of("0.2.0", "outbox") != []


async def test_0_1_0_apps_run_unchanged_beside_a_0_2_0_app(
    runtime: AppRuntime, examples_built: Path, doc_stats_wasm: bytes
) -> None:
    data = FakeData()
    data.seed("io.cozy.bank.operations", [{"_id": "op1", "amount": 12.5, "label": "x"}])
    data.seed("io.cozy.bills", [])
    for slug in ("doc-stats", "health-bills"):
        app = prepared(runtime, examples_built, slug)
        result = await runtime.run(
            app.wasm_sha256,
            "{}",
            app=slug,
            grant=app.grant,
            services=Services(data=data),
            budget=app.budget,
        )
        assert result.ok, (slug, result.error, result.log)
    doc_stats = prepared(runtime, examples_built, "doc-stats")
    counted = await runtime.run(
        doc_stats.wasm_sha256,
        "{}",
        app="doc-stats",
        grant=doc_stats.grant,
        services=Services(data=data),
        budget=doc_stats.budget,
    )
    assert json.loads(counted.output or "")["count"] == 1
    # The 0.2.0 app in the same runtime: without an outbox service here, its proposal is an
    # `unavailable` err (never a trap), and it was refused before anything else happened.
    offer = prepared(runtime, examples_built, "insurance-offer")
    data.seed(
        "io.roost.insurance.offers",
        [
            {
                "_id": "offer-car1",
                "status": "offered",
                "monthly_premium": 30.0,
                "annual_premium": 360.0,
                "currency": "EUR",
                "as_of": "2026-11-22",
            }
        ],
    )
    access = MemoryAccessLog()
    proposed = await runtime.run(
        offer.wasm_sha256,
        json.dumps({"accept": "offer-car1"}),
        app="insurance-offer",
        grant=offer.grant,
        services=Services(data=data, access_log=access),
        budget=offer.budget,
    )
    assert not proposed.ok and proposed.reason == "app error"
    assert json.loads(proposed.error or "")["error"] == "unavailable"
    assert data.all("io.roost.insurance.offers")[0]["status"] == "offered"
    assert any(e.interface == "outbox" and e.function == "propose" for e in access.entries)
