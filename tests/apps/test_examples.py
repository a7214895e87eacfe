"""The example apps do their job end to end: fake bank on loopback, seeded documents."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.apps.egress import EgressFetcher
from roost.apps.package import read_package
from roost.apps.runner import RunResult
from roost.apps.runtime import AppRuntime, PreparedApp
from roost.apps.services import Services
from roost.permissions import PermissionSet

from .fakes import FakeData, MemoryAccessLog
from .servers import FakeBank, Server, serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles Python guests once

ACCOUNTS, OPS, BILLS = "io.cozy.bank.accounts", "io.cozy.bank.operations", "io.cozy.bills"


@pytest.fixture(scope="session")
def installed(runtime: AppRuntime, examples_built: Path) -> dict[str, PreparedApp]:
    """Install-time work for the three Python examples: read the package, compile, validate."""
    out = {}
    for slug in ("bank-connector", "health-bills", "insurance-offer"):
        out[slug] = runtime.prepare_sync(read_package(examples_built / slug))
    return out


@pytest.fixture
def bank() -> Iterator[Server]:
    with serve(FakeBank) as server:
        yield server


async def run(
    runtime: AppRuntime,
    app: PreparedApp,
    payload: dict[str, Any],
    services: Services,
    grant: PermissionSet | None = None,
) -> RunResult:
    return await runtime.run(
        app.wasm_sha256,
        json.dumps(payload),
        app=app.manifest.slug,
        grant=grant or app.grant,
        services=services,
        budget=app.budget,
    )


def bank_grant(app: PreparedApp, bank: Server) -> PermissionSet:
    # The manifest names the real bank; the test bank listens on loopback instead.
    return dataclasses.replace(app.grant, egress=(bank.url,))


def bank_input(bank: Server, password: str = FakeBank.PASSWORD) -> dict[str, Any]:
    return {"bank_url": bank.url, "credentials": {"login": FakeBank.LOGIN, "password": password}}


async def import_bank(
    runtime: AppRuntime,
    installed: dict[str, PreparedApp],
    bank: Server,
    data: FakeData,
    access: MemoryAccessLog | None = None,
) -> RunResult:
    services = Services(data=data, http=EgressFetcher.allowing({"127.0.0.1"}), access_log=access)
    app = installed["bank-connector"]
    return await run(runtime, app, bank_input(bank), services, bank_grant(app, bank))


async def test_bank_connector_imports_idempotently(
    runtime: AppRuntime, installed: dict[str, PreparedApp], bank: Server
) -> None:
    data, access = FakeData(), MemoryAccessLog()
    r = await import_bank(runtime, installed, bank, data, access)
    assert r.ok, (r.error, r.log)
    assert json.loads(r.output or "") == {
        "accounts": {"created": 2, "updated": 0, "unchanged": 0},
        "operations": {"created": 6, "updated": 0, "unchanged": 0},
    }
    accounts = {a["vendorId"]: a for a in data.all(ACCOUNTS)}
    assert accounts["CHK-001"]["balance"] == 1523.42
    ops = data.all(OPS)
    assert len(ops) == 6 and all(
        op["account"] in {a["_id"] for a in accounts.values()} for op in ops
    )
    # Every fetch is in the access log with its destination (one entry per kind of call).
    fetches = [e for e in access.entries if e.interface == "http"]
    assert sum(e.calls for e in fetches) == 4
    assert all(e.egress_host == "127.0.0.1" for e in fetches)
    # A re-run creates nothing.
    writes = len(data.writes)
    r = await import_bank(runtime, installed, bank, data)
    assert r.ok
    assert json.loads(r.output or "")["operations"] == {"created": 0, "updated": 0, "unchanged": 6}
    assert len(data.all(OPS)) == 6 and len(data.writes) == writes


async def test_bank_connector_bad_credentials_and_egress(
    runtime: AppRuntime, installed: dict[str, PreparedApp], bank: Server
) -> None:
    app = installed["bank-connector"]
    services = Services(data=FakeData(), http=EgressFetcher.allowing({"127.0.0.1"}))
    r = await run(runtime, app, bank_input(bank, "wrong"), services, bank_grant(app, bank))
    assert not r.ok and r.reason == "app error"
    assert json.loads(r.error or "")["error"] == "LOGIN_FAILED"
    # With the manifest's own egress (the real bank only) the loopback bank is unreachable.
    r = await run(runtime, app, bank_input(bank), services)
    assert not r.ok and json.loads(r.error or "")["error"] == "egress_denied"
    assert bank.hits[-1][2].get("Authorization") is None  # it never got the token request


async def test_health_bills_links_bills_to_operations(
    runtime: AppRuntime, installed: dict[str, PreparedApp], bank: Server
) -> None:
    data = FakeData()
    assert (await import_bank(runtime, installed, bank, data)).ok
    data.seed(
        BILLS,
        [
            {
                "_id": "b-ameli",
                "type": "health_costs",
                "vendor": "Ameli",
                "amount": 16.1,
                "date": "2026-10-02",
            },
            {
                "_id": "b-harmonie",
                "type": "health_costs",
                "vendor": "Harmonie",
                "amount": 25.0,
                "date": "2026-10-14",
            },
            {
                "_id": "b-late",
                "type": "health_costs",
                "vendor": "Ameli",
                "amount": 25.0,
                "date": "2026-08-01",
            },
            {
                "_id": "b-phone",
                "type": "phone",
                "vendor": "Ameli",
                "amount": 16.1,
                "date": "2026-10-02",
            },
        ],
    )
    r = await run(runtime, installed["health-bills"], {}, Services(data=data))
    assert r.ok, (r.error, r.log)
    out = json.loads(r.output or "")
    assert sorted((m["bill"], m["amount"]) for m in out["matched"]) == [
        ("b-ameli", 16.1),
        ("b-harmonie", 25.0),
    ]
    assert out["unmatched"] == ["b-late"]
    ops = {op["vendorId"]: op for op in data.all(OPS)}
    bills = {b["_id"]: b for b in data.all(BILLS)}
    assert bills["b-ameli"]["matchingOperation"] == ops["T2"]["_id"]
    assert ops["T2"]["bills"] == ["io.cozy.bills:b-ameli"]
    assert ops["T4"]["bills"] == ["io.cozy.bills:b-harmonie"]
    assert "matchingOperation" not in bills["b-phone"]
    # Idempotent: nothing new to match.
    r = await run(runtime, installed["health-bills"], {}, Services(data=data))
    assert json.loads(r.output or "") == {"matched": [], "unmatched": ["b-late"]}


async def test_insurance_offer_reads_only_driving_data_and_writes_an_offer(
    runtime: AppRuntime, installed: dict[str, PreparedApp]
) -> None:
    app = installed["insurance-offer"]
    assert app.grant.egress == ()
    data = FakeData()
    data.seed(
        "io.roost.vehicles",
        [
            {
                "_id": "car1",
                "make": "Renault",
                "model": "Zoe",
                "year": 2021,
                "energy": "electric",
                "value": 14000,
            },
        ],
    )
    data.seed(
        "io.roost.driving.trips",
        [
            {
                "vehicle": "car1",
                "date": f"2026-{m:02d}-10",
                "distance_km": 600,
                "night_km": 60,
                "harsh_brakes": 1,
                "speeding_km": 0,
            }
            for m in range(1, 13)
        ]
        + [{"vehicle": "other", "distance_km": 99999}],
    )
    data.seed(OPS, [{"_id": "salary", "amount": 2400}])
    access = MemoryAccessLog()
    services = Services(data=data, access_log=access, http=EgressFetcher())
    payload = {"as_of": "2026-11-22", "months": 12}
    r = await run(runtime, app, payload, services)
    assert r.ok, (r.error, r.log)
    [offer] = data.all("io.roost.insurance.offers")
    assert offer["_id"] == "offer-car1" and offer["vehicle"] == "car1"
    assert offer["basis"]["km"] == 7200 and offer["basis"]["trips"] == 12
    assert offer["basis"]["night_share"] == 0.1
    assert 10 < offer["monthly_premium"] < 100
    assert offer["annual_premium"] == round(offer["monthly_premium"] * 12, 2)
    touched = {e.doctype for e in access.entries}
    assert touched <= {"io.roost.vehicles", "io.roost.driving.trips", "io.roost.insurance.offers"}
    assert not any(e.interface == "http" for e in access.entries)
    # Same data, same day: the offer is unchanged.
    r = await run(runtime, app, payload, services)
    assert r.ok and len(data.all("io.roost.insurance.offers")) == 1
    assert data.all("io.roost.insurance.offers")[0]["_rev"] == offer["_rev"]
