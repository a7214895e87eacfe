"""The Store's catalogue over the suite's real store: install verified packages, upgrades that
ask for consent only when they ask for more, refusals that change nothing, and the daily job
that announces updates once."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from roost.appstore.catalogue import Catalogue, PackageRefused
from roost.appstore.service import ConsentRequired
from roost.appstore.signing import SigningKey
from roost.appstore.updates import STORE_DOCTYPE, StoreUpdates
from roost.config import Config
from roost.instances import Instance
from roost.jobs import JobDoc, JobService
from roost.notifications import NOTIFICATIONS_DOCTYPE
from roost.services import Services
from tests.conftest import PASSPHRASE
from tests.registry.conftest import (
    WRITE_CONTACTS,
    AppMaker,
    flip_byte,
    publish,
    publish_one,
    store_config,
)


def catalogue(services: Services, config: Config, registry: Path, *keys: SigningKey) -> Catalogue:
    return Catalogue(store_config(config, [str(registry)], list(keys)), services.apps)


def one_app_store(
    services: Services,
    config: Config,
    registry: Path,
    make_app: AppMaker,
    key: SigningKey,
    **app: Any,
) -> Catalogue:
    """The Store over a registry holding birthdays 1.0.0, signed with a trusted key."""
    publish_one(registry, make_app, key, **app)
    return catalogue(services, config, registry, key)


async def installed(services: Services, instance: Instance) -> dict[str, str]:
    return {a.slug: a.version for a in await services.apps.list_installed(instance)}


async def stored_wasm(services: Services) -> set[str]:
    return {p.name for p in (services.apps.root / "wasm").glob("*.wasm")}


async def test_install_from_a_registry_then_upgrade_with_and_without_consent(
    services: Services,
    config: Config,
    instance: Instance,
    tmp_path: Path,
    make_app: AppMaker,
    key: SigningKey,
) -> None:
    registry = tmp_path / "reg"
    store = one_app_store(services, config, registry, make_app, key)
    [view] = await store.listing(instance)
    assert view.problem is None and view.name == "Test registry"
    [item] = view.items
    assert (item.slug, item.entry.version, item.is_installed) == ("birthdays", "1.0.0", False)
    lines = await store.added_lines(instance, item)
    assert lines == ["Read your contacts (io.cozy.contacts) — show your contacts' birthdays"]

    _, package = await store.fetch(item)
    with pytest.raises(ConsentRequired):
        await services.apps.install(instance, package, consent=False)
    await services.apps.install(instance, package, consent=True)
    assert await installed(services, instance) == {"birthdays": "1.0.0"}

    # 1.1.0 asks for nothing more: no consent needed, nothing to show.
    publish(registry, [make_app("birthdays", "1.1.0")], key)
    item = await store.item(instance, view.registry.id, "birthdays")
    assert item.update_available and item.installed is not None
    assert await store.added_lines(instance, item) == []
    _, package = await store.fetch(item)
    await services.apps.install(instance, package, consent=False)
    assert await installed(services, instance) == {"birthdays": "1.1.0"}

    # 2.0.0 asks to create contacts and calendar events and to reach a host: only that shows.
    publish(
        registry,
        [
            make_app(
                "birthdays",
                "2.0.0",
                permissions=WRITE_CONTACTS,
                egress=["https://cards.example.com"],
            )
        ],
        key,
    )
    item = await store.item(instance, view.registry.id, "birthdays")
    assert await store.added_lines(instance, item) == [
        "Read and create your contacts (io.cozy.contacts) — show your contacts' birthdays",
        "Create your calendar events (io.cozy.calendar.events) — add birthdays to your calendar",
        "Reach https://cards.example.com",
    ]
    _, package = await store.fetch(item)
    with pytest.raises(ConsentRequired) as refused:
        await services.apps.install(instance, package, consent=False)
    assert refused.value.upgrade
    assert await installed(services, instance) == {"birthdays": "1.1.0"}
    await services.apps.install(instance, package, consent=True)
    assert await installed(services, instance) == {"birthdays": "2.0.0"}


async def test_tampered_unsigned_and_untrusted_packages_install_nothing(
    services: Services,
    config: Config,
    instance: Instance,
    tmp_path: Path,
    make_app: AppMaker,
    key: SigningKey,
    other_key: SigningKey,
) -> None:
    before_wasm = await stored_wasm(services)
    app = make_app("tampered", "1.0.0", name="Tampered")

    tampered = publish(tmp_path / "tampered", [app], key)
    flip_byte(tampered / "packages" / "tampered-1.0.0.tar.gz")
    store = catalogue(services, config, tampered, key)
    item = await store.item(instance, store.registries[0].id, "tampered")
    with pytest.raises(PackageRefused, match="does not match its signed checksum"):
        await store.fetch(item)

    unsigned = publish(tmp_path / "unsigned", [app], None)
    store = catalogue(services, config, unsigned, key)
    [view] = await store.listing(instance)
    assert view.items == () and view.problem is not None and "is not signed" in view.problem
    with pytest.raises(PackageRefused, match="is not signed"):
        await store.item(instance, view.registry.id, "tampered")

    untrusted = publish(tmp_path / "untrusted", [app], other_key)
    store = catalogue(services, config, untrusted, key)
    with pytest.raises(PackageRefused, match="does not trust"):
        await store.item(instance, store.registries[0].id, "tampered")

    assert await installed(services, instance) == {}
    assert await stored_wasm(services) == before_wasm


async def test_the_daily_job_announces_each_new_version_once(
    config: Config, tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    # A stack of its own on the same store, under its own database prefix: the start-up
    # sweep gives *every* instance a trigger, and this test's instances are the only ones.
    own = replace(config, db_prefix=f"{config.db_prefix}upd{secrets.token_hex(2)}-")
    services = Services.build(own, config.couchdb_url or "")
    try:
        instance = await services.instances.create("upd.roost.test", PASSPHRASE)
        registry = tmp_path / "reg"
        store = one_app_store(services, config, registry, make_app, key, name="Birthdays")

        def publish_1_2_0() -> None:
            publish(registry, [make_app("birthdays", "1.2.0", name="Birthdays")], key)

        await _announce_once(services, instance, store, publish_1_2_0)
    finally:
        await services.aclose()


async def _announce_once(
    services: Services, instance: Instance, store: Catalogue, publish_1_2_0: Callable[[], None]
) -> None:
    item = await store.item(instance, store.registries[0].id, "birthdays")
    _, package = await store.fetch(item)
    await services.apps.install(instance, package, consent=True)

    # The worker, registered with this stack's real job service and run by it.
    jobs = services.jobs
    updates = StoreUpdates(services, store)
    updates.attach(jobs)
    # At start-up every instance gets its daily trigger.
    assert await updates.ensure_all() == 1
    trigger = await jobs.get_trigger(instance, "store-updates")
    assert (trigger.type, trigger.arguments, trigger.worker) == ("@every", "24h", "store-updates")
    assert await updates.check(instance) == []  # nothing newer yet

    publish_1_2_0()
    job = await jobs.enqueue(instance, "store-updates")
    done = await _wait_done(jobs, instance, job.id)
    link = f"/store/{store.registries[0].id}/birthdays"
    assert done.result == {"announced": [{"slug": "birthdays", "version": "1.2.0", "link": link}]}
    notes = await _notifications(services, instance)
    assert [(n["category"], n["title"], n["link"]) for n in notes] == [
        ("update", "Birthdays 1.2.0 is available", link)
    ]
    assert "You have version 1.0.0" in notes[0]["message"]
    # The next day: the same version is not announced again.
    assert await updates.check(instance) == []
    assert len(await _notifications(services, instance)) == 1
    state = await services.couch.get_doc(instance.db(STORE_DOCTYPE), "updates")
    assert state["announced"] == {"birthdays": "1.2.0"}


async def _wait_done(jobs: JobService, instance: Instance, job_id: str) -> JobDoc:
    for _ in range(200):
        job = await jobs.get(instance, job_id)
        if job.state in ("done", "errored"):
            return job
        await jobs.poll_once()
        await asyncio.sleep(0.05)
    raise AssertionError("the job never finished")


async def _notifications(services: Services, instance: Instance) -> list[dict[str, Any]]:
    result = await services.couch.all_docs(
        instance.db(NOTIFICATIONS_DOCTYPE), params={"include_docs": True}
    )
    return [row["doc"] for row in result.get("rows", []) if not row["id"].startswith("_design/")]


async def test_a_roost_whose_bundle_was_never_made_offers_nothing_and_reports_nothing(
    services: Services, config: Config, instance: Instance, tmp_path: Path
) -> None:
    fresh = Catalogue(replace(config, data_dir=tmp_path / "fresh"), services.apps)
    assert [r.id for r in fresh.registries] == ["bundled"]
    assert await fresh.listing(instance) == []
    assert await fresh.updates(instance) == []


async def test_a_silent_registry_does_not_hold_the_store_page(
    services: Services, config: Config, instance: Instance, tmp_path: Path, key: SigningKey
) -> None:
    listener = socket.socket()  # accepts connections, never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        silent = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        store = Catalogue(store_config(config, [silent], [key]), services.apps, listing_seconds=0.5)
        [view] = await store.listing(instance)
        assert view.items == ()
        assert view.problem == f"the registry {silent} did not answer in time"
    finally:
        listener.close()


async def test_collect_lists_the_connectors_the_registries_offer(
    services: Services,
    config: Config,
    instance: Instance,
    tmp_path: Path,
    make_app: AppMaker,
    key: SigningKey,
) -> None:
    registry = tmp_path / "reg"
    apps = [
        make_app("birthdays", "1.0.0", name="Birthdays"),
        make_app("fake-bank", "1.0.0", type="konnector", name="Fake Bank"),
    ]
    publish(registry, apps, key)
    store = catalogue(services, config, registry, key)
    [entry] = await store.connectors(instance)
    assert (entry.slug, entry.name, entry.link) == (
        "fake-bank",
        "Fake Bank",
        f"/store/{store.registries[0].id}/fake-bank",
    )
    assert entry.description == ("Fake Bank does one useful thing.",)
