"""Fleet fixtures: stacks with data directories of their own, sharing only the suite's
CouchDB and one SeaweedFS (their file bytes are in S3, under one key prefix)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from roost.app import create_app
from roost.config import Config
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from tests.seaweed import SeaweedS3


@dataclass
class Stack:
    """One stack of the fleet: its own services (caches, VFS) and data directory."""

    services: Services
    http: httpx.AsyncClient
    data_dir: Path


@pytest.fixture(scope="session")
def fleet_config(config: Config, seaweed: SeaweedS3, db_prefix: str) -> Config:
    return dataclasses.replace(config, **seaweed.settings(key_prefix=f"{db_prefix}fleet/"))  # type: ignore[arg-type]


@pytest.fixture
async def fleet_instance(
    new_instance: Callable[..., Awaitable[Instance]],
) -> Instance:
    return await new_instance("fleet")


@pytest.fixture
async def stacks(
    fleet_config: Config, fleet_instance: Instance, tmp_path: Path
) -> AsyncIterator[list[Stack]]:
    """Two stacks serving `fleet_instance`, addressed in-process (each its own app)."""
    built: list[Stack] = []
    try:
        for index in range(2):
            data_dir = tmp_path / f"stack{index}"
            data_dir.mkdir()
            stack_config = dataclasses.replace(fleet_config, data_dir=data_dir)
            services = Services.build(stack_config, stack_config.couchdb_url or "")
            transport = httpx.ASGITransport(app=create_app(stack_config, services=services))
            http = httpx.AsyncClient(
                transport=transport, base_url=f"http://{fleet_instance.domain}", timeout=60
            )
            built.append(Stack(services, http, data_dir))
        yield built
    finally:
        for stack in built:
            await stack.http.aclose()
            await stack.services.aclose()


@pytest.fixture
async def dav_password(services: Services, fleet_instance: Instance) -> str:
    _, secret = await services.app_passwords.create(
        fleet_instance, "fleet", PermissionSet.from_inline("io.cozy.files")
    )
    return secret
