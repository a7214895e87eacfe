"""WebDAV fixtures: a live Roost on real TCP whose default instance is a fresh test instance.

External clients (litmus, rclone, webdav4) address `http://127.0.0.1:PORT/dav/files/`; the
Host header `127.0.0.1:PORT` names no instance, so the server's `default_instance` (this
module's instance) answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from roost.app import create_app
from roost.config import Config
from roost.embedded_store import free_port
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from tests.conftest import LiveServer


@dataclass
class DavSite:
    instance: Instance
    port: int
    password: str  # an app password with every right on io.cozy.files
    services: Services  # the live server's own services (its VFS, its caches)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/dav/files/"

    def client(self, password: str | None = None, **kwargs: object) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            auth=("user", password or self.password),
            timeout=60,
            # Passed through to httpx.Client as given; its keywords have many distinct types.
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="session")
async def dav_site(
    config: Config, new_instance: Callable[..., Awaitable[Instance]], services: Services
) -> AsyncIterator[DavSite]:
    instance = await new_instance("dav", quota_bytes=None)
    _, secret = await services.app_passwords.create(
        instance, "tests", PermissionSet.from_inline("io.cozy.files")
    )
    site_config = dataclasses.replace(config, default_instance=instance.domain)
    app = create_app(site_config)
    server = LiveServer(app, free_port())
    server.start()
    yield DavSite(instance, server.port, secret, app.state.services)
    server.stop()


@pytest.fixture(scope="session")
def app_password(services: Services) -> Callable[..., Awaitable[str]]:
    """`await app_password(instance, "io.cozy.files:GET")` → the secret of a new password."""

    async def make(instance: Instance, scope: str, ttl: timedelta | None = None) -> str:
        _, secret = await services.app_passwords.create(
            instance, "test", PermissionSet.from_inline(scope), ttl=ttl
        )
        return secret

    return make
