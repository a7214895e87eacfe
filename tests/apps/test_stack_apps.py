"""Apps inside the stack: install with consent, run over HTTP against CouchDB, accounts,
upgrades, uninstall, access log and the app's own origin. Real store, real components."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wasmtime

from roost.appstore import app_service
from roost.config import Config
from roost.instances import Instance
from roost.services import Services

from .conftest import EXAMPLES
from .servers import FakeBank, Server, serve
from .stack_helpers import install, package, package_of
from .test_compiler import RUN_EXPORT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles Python guests once


@pytest.fixture
def bank() -> Iterator[Server]:
    with serve(FakeBank) as server:
        yield server


async def test_install_consent_run_and_uninstall(
    owner: httpx.AsyncClient, instance: Instance, services: Services, stack_apps_ready: Path
) -> None:
    data = package("doc-stats")
    # Without consent nothing is installed; the answer lists what the app may do.
    asked = await owner.post("/apps/install", content=data)
    assert asked.status_code == 403
    assert any("bank operations" in line for line in asked.json()["consent"])
    assert (await owner.get("/apps/")).json() == []
    app = await install(owner, data)
    assert app["slug"] == "doc-stats" and app["state"] == "ready"
    # The records: the app document and its permission document.
    couch = services.couch
    doc = await couch.get_doc(instance.db("io.cozy.apps"), "io.cozy.apps/doc-stats")
    perm = await couch.get_doc(instance.db("io.cozy.permissions"), doc["permissions_id"])
    assert perm["type"] == "app" and perm["source_id"] == "io.cozy.apps/doc-stats"
    assert perm["permissions"]["rules"]["operations"]["type"] == "io.cozy.bank.operations"
    # Run it over HTTP against real documents.
    for i in range(3):
        created = await owner.post(
            "/data/io.cozy.bank.operations/",
            json={"amount": i, "label": "x", "date": "2026-10-0" + str(i + 1)},
        )
        assert created.status_code in (200, 201), created.text
    ran = await owner.post("/apps/doc-stats/run", json={})
    assert ran.status_code == 200, ran.text
    assert ran.json()["output"]["count"] == 3 and ran.json()["ok"] is True
    # Outside its grant: an app error, not a crash.
    denied = await owner.post("/apps/doc-stats/run", json={"doctype": "io.cozy.contacts"})
    assert denied.status_code == 422 and denied.json()["error"]["error"] == "forbidden"
    await services.access_log.flush()
    entries = await services.access_log.query(instance, app="doc-stats")
    assert any(e.get("status") == 403 and e.get("doctype") == "io.cozy.contacts" for e in entries)
    # Uninstall revokes everything.
    gone = await owner.delete("/apps/doc-stats")
    assert gone.status_code == 200
    assert (
        await couch.get_doc_or_none(instance.db("io.cozy.permissions"), doc["permissions_id"])
        is None
    )
    assert (await owner.post("/apps/doc-stats/run", json={})).status_code == 404


async def test_upgrade_that_widens_permissions_needs_consent_again(
    owner: httpx.AsyncClient, instance: Instance, services: Services, stack_apps_ready: Path
) -> None:
    await install(owner, package("doc-stats"))
    same = package("doc-stats", manifest_changes={"version": "0.1.1"})
    ok = await owner.post("/apps/install", content=same)
    assert ok.status_code == 201 and ok.json()["version"] == "0.1.1"
    wider = package(
        "doc-stats",
        manifest_changes={
            "version": "0.2.0",
            "permissions": {
                "everything": {"type": "io.cozy.contacts", "description": "all contacts"}
            },
        },
    )
    asked = await owner.post("/apps/install", content=wider)
    assert asked.status_code == 403 and asked.json()["upgrade"] is True
    assert (await owner.get("/apps/doc-stats")).json()["version"] == "0.1.1"
    accepted = await owner.post(f"/apps/install/{asked.json()['staging']}/accept")
    assert accepted.status_code == 201 and accepted.json()["version"] == "0.2.0"
    assert (await owner.delete("/apps/doc-stats")).status_code == 200


async def test_connector_with_encrypted_account_imports_into_couchdb(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    bank: Server,
    stack_apps_ready: Path,
) -> None:
    data = package("bank-connector", manifest_changes={"egress": [bank.url]})
    app = await install(owner, data)
    assert app["type"] == "konnector"
    account = await owner.post(
        "/apps/bank-connector/accounts",
        json={
            "label": "my bank",
            "credentials": {"login": FakeBank.LOGIN, "password": FakeBank.PASSWORD},
        },
    )
    assert account.status_code == 201, account.text
    raw = await services.couch.get_doc(instance.db("io.cozy.accounts"), account.json()["_id"])
    assert FakeBank.PASSWORD not in json.dumps(raw)  # stored encrypted
    ran = await owner.post("/apps/bank-connector/run", json={"bank_url": bank.url})
    assert ran.status_code == 200, ran.text
    assert ran.json()["output"]["operations"]["created"] == 6
    again = await owner.post("/apps/bank-connector/run", json={"bank_url": bank.url})
    assert again.json()["output"]["operations"] == {"created": 0, "updated": 0, "unchanged": 6}
    ops = await services.documents.find(instance, "io.cozy.bank.operations", {"limit": 100})
    assert len(ops["docs"]) == 6
    assert all(d["cozyMetadata"]["createdByApp"] == "bank-connector" for d in ops["docs"])
    await services.access_log.flush()
    entries = await services.access_log.query(instance, app="bank-connector", limit=200)
    assert any(e.get("egress_host") == "127.0.0.1" for e in entries)
    # Uninstall deletes the account too.
    assert (await owner.delete("/apps/bank-connector")).status_code == 200
    assert (
        await services.couch.get_doc_or_none(instance.db("io.cozy.accounts"), account.json()["_id"])
        is None
    )


async def test_app_ui_on_its_own_origin_with_its_token(
    owner: httpx.AsyncClient, instance: Instance, app: object, stack_apps_ready: Path
) -> None:
    page = b"<!doctype html><html><head><title>stats</title></head><body>hi</body></html>"
    await install(owner, package("doc-stats", ui={"index.html": page, "app.js": b"1;"}))
    opened = await owner.get("/apps/doc-stats/open")
    assert opened.status_code == 303
    location = opened.headers["location"]
    assert location.startswith(f"http://doc-stats.{instance.domain}/?roost_token=")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://doc-stats.{instance.domain}"
    ) as ui:
        bare = await ui.get("/")
        assert bare.status_code == 303 and bare.headers["location"].endswith("/apps/doc-stats/open")
        shown = await ui.get(location)
        assert shown.status_code == 200
        assert "default-src 'self'" in shown.headers["content-security-policy"]
        token = location.split("roost_token=", 1)[1]
        assert f'<meta name="roost-token" content="{token}">' in shown.text
        assert (await ui.get("/app.js")).text == "1;"
        assert (await ui.get("/../../etc/passwd")).status_code == 404
        auth = {"Authorization": f"Bearer {token}"}
        allowed = await ui.post(
            "/data/io.cozy.bank.operations/_find", json={"selector": {}}, headers=auth
        )
        assert allowed.status_code == 200, allowed.text
        refused = await ui.post("/data/io.cozy.contacts/_find", json={"selector": {}}, headers=auth)
        assert refused.status_code == 403
    assert (await owner.delete("/apps/doc-stats")).status_code == 200


def test_cli_installs_lists_and_removes(
    config: Config, instance: Instance, stack_apps_ready: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from roost.cli import main

    archive = tmp_path / "doc-stats.tar.gz"
    archive.write_bytes(package("doc-stats"))
    runner = CliRunner()
    env = {
        "ROOST_DATA": str(config.data_dir),
        "ROOST_COUCHDB_URL": config.couchdb_url or "",
        "ROOST_DB_PREFIX": config.db_prefix,
    }
    refused = runner.invoke(
        main, ["apps", "install", instance.domain, str(archive)], env=env, input="n\n"
    )
    assert refused.exit_code == 1 and "cannot reach the network" in refused.output
    done = runner.invoke(main, ["apps", "install", instance.domain, str(archive), "--yes"], env=env)
    assert done.exit_code == 0, done.output
    listed = runner.invoke(main, ["apps", "ls", instance.domain], env=env)
    assert "doc-stats\t0.1.0\twebapp\tready" in listed.output
    removed = runner.invoke(main, ["apps", "rm", instance.domain, "doc-stats"], env=env)
    assert removed.exit_code == 0, removed.output


def test_app_service_is_shared(services: Services) -> None:
    assert app_service(services) is app_service(services)


async def test_consent_page_in_the_browser(
    owner: httpx.AsyncClient, instance: Instance, services: Services, stack_apps_ready: Path
) -> None:
    import re

    page = await owner.get("/apps", headers={"accept": "text/html"})
    assert page.status_code == 200 and "No apps installed" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    files = {"package": ("insurance-offer.tar.gz", package("insurance-offer"), "application/gzip")}
    waiting = sorted(services.apps.pending_installs.root.glob(f"{instance.domain}/*"))
    forged = await owner.post("/apps/install", files=files, data={"csrf_token": "nope"})
    assert forged.status_code == 403
    # Refused before anything is read: nothing installed, nothing more waiting for consent.
    assert (await owner.get("/apps/")).json() == []
    assert sorted(services.apps.pending_installs.root.glob(f"{instance.domain}/*")) == waiting
    consent = await owner.post("/apps/install", files=files, data={"csrf_token": csrf.group(1)})
    assert consent.status_code == 200, consent.text
    text = consent.text
    assert "Install Insurance offer" in text
    assert "It cannot reach the network" in text
    assert "io.roost.driving.trips" in text and "io.roost.vehicles" in text
    assert "Accept and install" in text
    action = re.search(r'action="(/apps/install/[0-9a-f]+/accept)"', text)
    assert action is not None
    done = await owner.post(action.group(1), data={"csrf_token": csrf.group(1)})
    assert done.status_code == 200 and "Insurance offer is installed" in done.text
    assert "insurance-offer" in [a["slug"] for a in (await owner.get("/apps/")).json()]
    assert (
        await owner.post(action.group(1), data={"csrf_token": csrf.group(1)})
    ).status_code == 404
    assert (await owner.delete("/apps/insurance-offer")).status_code == 200


async def test_start_up_recompiles_what_is_missing(
    owner: httpx.AsyncClient, instance: Instance, services: Services, stack_apps_ready: Path
) -> None:
    from roost.appstore import on_startup

    app = await install(owner, package("doc-stats"))
    service = app_service(services)
    artifact = service.runtime.cache.path_for(app["wasm_sha256"])
    artifact.unlink()
    service.runtime.cache.forget(app["wasm_sha256"])
    # A run never compiles: without its artifact the app is refused, not compiled mid-request.
    refused = await owner.post("/apps/doc-stats/run", json={})
    assert refused.status_code == 403 and "not compiled" in refused.json()["reason"]
    await on_startup(services)
    assert artifact.is_file()
    assert (await owner.post("/apps/doc-stats/run", json={})).status_code == 200
    assert (await owner.delete("/apps/doc-stats")).status_code == 200


async def test_sealed_credentials_open_only_for_their_connector_and_instance(
    services: Services, instance: Instance, new_instance: Any
) -> None:
    from roost.appstore.accounts import AccountVault
    from roost.errors import Forbidden

    vault = AccountVault(services.couch)
    blob = vault.seal(instance, "acc1", "bank-connector", {"password": "hunter2"})
    assert "hunter2" not in blob
    assert vault.open(instance, "acc1", "bank-connector", blob) == {"password": "hunter2"}
    other = await new_instance("bob")
    for owner, account_id, slug in (
        (instance, "acc1", "evil-connector"),
        (instance, "acc2", "bank-connector"),
        (other, "acc1", "bank-connector"),
    ):
        with pytest.raises(Forbidden):
            vault.open(owner, account_id, slug, blob)


async def test_an_install_whose_compiler_runs_out_of_memory_is_a_503_and_installs_nothing(
    owner: httpx.AsyncClient, services: Services, stack_apps_ready: Path
) -> None:
    # A component no test compiled before (its own bytes), so the install must compile.
    wasm = bytes(wasmtime.wat2wasm("(component" + RUN_EXPORT + ")"))
    manifest = json.loads((EXAMPLES / "doc-stats" / "manifest.json").read_text())
    manifest.update(slug="compile-starved", name="Starved", triggers=[])
    data = package_of("compile-starved", wasm, manifest)
    cache = app_service(services).runtime.cache
    before = await owner.get("/apps/")
    cache.compile_memory_bytes = 32 * 1024 * 1024  # the compiler cannot even start
    try:
        refused = await owner.post("/apps/install?consent=true", content=data)
    finally:
        cache.compile_memory_bytes = 2 * 1024**3
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "service_unavailable"
    assert "could not compile the app now" in refused.json()["reason"]
    assert (await owner.get("/apps/")).json() == before.json()
    # The package was never at fault: the same request installs once the compiler can run.
    again = await owner.post("/apps/install?consent=true", content=data)
    assert again.status_code == 201, again.text
    assert (await owner.delete("/apps/compile-starved")).status_code == 200
