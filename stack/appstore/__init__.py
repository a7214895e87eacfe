"""Installed apps and connectors of an instance: the stack side of ``roost.apps``.

- :mod:`roost.appstore.adapters` - the runtime's service Protocols over CouchDB and the VFS.
- :mod:`roost.appstore.accounts` - connector credentials, encrypted per instance.
- :mod:`roost.appstore.service` - install / upgrade / uninstall, runs, jobs and triggers.
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
    """The process's AppService, built on first use from the other services.

    It is kept on the ``Services`` object (as ``services.apps``); when a job service exists
    (``services.jobs``) the ``app`` worker is registered with it once.
    """
    existing = getattr(services, "apps", None)
    if isinstance(existing, AppService):
        return existing
    built = AppService(
        services.config,
        services.couch,
        services.documents,
        services.vfs,
        services.permission_docs,
        services.tokens,
        services.access_log,
    )
    jobs = getattr(services, "jobs", None)
    if jobs is not None:
        built.attach_jobs(jobs)
    setattr(services, "apps", built)  # noqa: B010 - until Services declares the field
    return built


async def on_startup(services: Services) -> None:
    """Lifespan hook for ``create_app(on_startup=[...])``: register the ``app`` job worker
    before the job runner starts, and recompile every stored app whose ``.cwasm`` is missing
    or was made by another wasmtime version or engine configuration - at start-up, never on a
    request."""
    await app_service(services).ensure_compiled()
