"""Installed apps and connectors of an instance: the stack side of ``roost.apps``.

- :mod:`roost.appstore.adapters` - the runtime's service Protocols over CouchDB and the VFS.
- :mod:`roost.appstore.accounts` - connector credentials, encrypted per instance.
- :mod:`roost.appstore.service` - install / upgrade / uninstall, what is installed, triggers.
- :mod:`roost.appstore.app_runs` - running installed apps: the ``app`` job worker, connector runs.
- :mod:`roost.appstore.catalogue` - the Store: signed registries' packages (docs/registry.md).
- :mod:`roost.appstore.updates` - the daily look for updates of installed apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.appstore.accounts import AccountVault
from roost.appstore.service import AppService, ConsentRequired, InstalledApp

if TYPE_CHECKING:
    from roost.services import Services

__all__ = [
    "AccountVault",
    "AppService",
    "ConsentRequired",
    "InstalledApp",
    "app_service",
    "on_startup",
]


def app_service(services: Services) -> AppService:
    """The process's AppService (built with the other services, its ``app`` worker
    registered with the job service)."""
    return services.apps


async def on_startup(services: Services) -> None:
    """Run by ``create_app``'s lifespan before the job runner starts: recompile every stored
    app whose ``.cwasm`` is missing or was made by another wasmtime version or engine
    configuration - at start-up, never on a request. Registers the Store's daily update
    worker and gives every instance its trigger."""
    from roost.appstore.updates import store_updates

    updates = store_updates(services)
    updates.attach(services.jobs)
    await app_service(services).ensure_compiled()
    await updates.ensure_all()
