"""Installs and upgrades are all or nothing: a failure at any step leaves the installed state
(app document, permission documents, triggers) exactly as it was before, content for content.

Failures are injected with a subclass of the real installer whose one step fails, before or
after doing its write; and with triggers the jobs grammar refuses (a real failing condition).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from roost.apps.package import read_package
from roost.appstore.installer import AppInstaller
from roost.appstore.service import AppService
from roost.errors import BadRequest
from roost.instances import Instance
from roost.services import Services

from .stack_helpers import package

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SLUG = "doc-stats"
STEPS = ("write_permissions", "write_app_doc", "delete_old_triggers", "create_triggers")

State = dict[str, Any]


class InjectedFailure(Exception):
    pass


def failing_at(step: str, when: str) -> type[AppInstaller]:
    """The real installer, with `step` failing before or after its own writes."""

    async def fail(self: AppInstaller, *args: Any) -> Any:
        if when == "after":
            await getattr(AppInstaller, step)(self, *args)
        raise InjectedFailure(f"{step} failed {when} writing")

    return type(f"FailingAt_{step}_{when}", (AppInstaller,), {step: fail})


def _without_rev(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_rev"}


async def installed_state(services: Services, instance: Instance) -> State:
    """Everything an install writes, read straight from the store, revisions left out."""
    couch = services.couch
    app = await couch.get_doc_or_none(instance.db("io.cozy.apps"), f"io.cozy.apps/{SLUG}")
    permissions = await couch.all_docs(
        instance.db("io.cozy.permissions"), params={"include_docs": True}
    )
    triggers = await services.jobs.list_triggers(instance)
    return {
        "app": _without_rev(app) if app is not None else None,
        "permissions": sorted(
            (
                _without_rev(row["doc"])
                for row in permissions.get("rows", [])
                if isinstance(row.get("doc"), dict) and not row["id"].startswith("_design/")
            ),
            key=lambda d: str(d["_id"]),
        ),
        "triggers": sorted(
            ({**t.to_json(), "_rev": None} for t in triggers), key=lambda t: str(t["_id"])
        ),
    }


@pytest.fixture
async def apps(services: Services, stack_apps_ready: Path) -> AppService:
    return services.apps


@pytest.fixture
async def fresh(new_instance: Callable[..., Awaitable[Instance]]) -> Instance:
    return await new_instance("installer")


async def _read(apps: AppService, **changes: Any) -> Any:
    return await apps.read(package(SLUG, manifest_changes=changes))


async def _install_first_version(apps: AppService, instance: Instance) -> None:
    first = await _read(apps, triggers=["@every 24h", "@webhook"])
    await apps.install(instance, first, consent=True)


UPGRADE = {
    "version": "0.2.0",
    "triggers": ["@cron 0 5 * * *", "@every 1h", "@event io.cozy.bank.operations:CREATED"],
    "permissions": {
        "operations": {
            "type": "io.cozy.bank.operations",
            "verbs": ["GET", "POST"],
            "description": "count and add bank operations",
        }
    },
}


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", STEPS)
async def test_a_failed_upgrade_leaves_the_installed_app_as_it_was(
    apps: AppService, services: Services, fresh: Instance, step: str, when: str
) -> None:
    await _install_first_version(apps, fresh)
    before = await installed_state(services, fresh)
    assert before["app"]["version"] == "0.1.0" and len(before["triggers"]) == 2
    upgrade = await _read(apps, **UPGRADE)

    with pytest.raises(InjectedFailure):
        await failing_at(step, when)(apps).install(fresh, upgrade, consent=True)

    assert await installed_state(services, fresh) == before
    # And the same upgrade, not failing, goes through from that state.
    await apps.install(fresh, upgrade, consent=True)
    after = await installed_state(services, fresh)
    assert after["app"]["version"] == "0.2.0"
    assert sorted(t["type"] for t in after["triggers"]) == ["@cron", "@event", "@every"]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", STEPS)
async def test_a_failed_first_install_leaves_nothing(
    apps: AppService, services: Services, fresh: Instance, step: str, when: str
) -> None:
    before = await installed_state(services, fresh)
    assert before["app"] is None
    new = await _read(apps, triggers=["@every 24h", "@webhook"])

    with pytest.raises(InjectedFailure):
        await failing_at(step, when)(apps).install(fresh, new, consent=True)

    assert await installed_state(services, fresh) == before
    assert await apps.get_or_none(fresh, SLUG) is None


@pytest.mark.parametrize(
    "triggers",
    [
        ["@every 1h", "@cron 61 * * * *"],
        ["@every 0s"],
        ["@every 1h", "@hourly"],
        ["@event io.cozy.bills:EATEN"],
    ],
    ids=["cron-61", "every-0s", "unknown-type", "event-verb"],
)
async def test_an_upgrade_with_a_trigger_the_jobs_grammar_refuses_writes_nothing(
    apps: AppService, services: Services, fresh: Instance, triggers: list[str]
) -> None:
    await _install_first_version(apps, fresh)
    before = await installed_state(services, fresh)
    # Past `read` (which refuses it too): the installer checks on its own.
    bad = read_package(package(SLUG, manifest_changes={**UPGRADE, "triggers": triggers}))

    with pytest.raises(BadRequest) as refused:
        await apps.install(fresh, bad, consent=True)

    assert "triggers[" in refused.value.reason
    assert await installed_state(services, fresh) == before


async def test_a_trigger_the_jobs_api_accepts_installs(
    apps: AppService, services: Services, fresh: Instance
) -> None:
    """`@every 1d` is valid for `POST /jobs/triggers`, so it is for a manifest too."""
    app = await apps.install(fresh, await _read(apps, triggers=["@every 1d"]), consent=True)
    triggers = await services.jobs.list_triggers(fresh)
    assert [(t.type, t.arguments, t.message["slug"]) for t in triggers] == [
        ("@every", "1d", app.slug)
    ]


async def test_a_package_with_a_bad_trigger_is_refused_when_read(
    apps: AppService, services: Services, fresh: Instance
) -> None:
    """Before the consent page: a package that could never install is not staged."""
    before = await installed_state(services, fresh)
    with pytest.raises(BadRequest) as refused:
        await _read(apps, triggers=["@every 1h", "@cron 61 * * * *"])
    assert refused.value.reason.startswith("invalid manifest: triggers[1]: ")
    assert await installed_state(services, fresh) == before
