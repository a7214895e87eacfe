"""Realtime fixtures: an HTTP client to the live server, addressed to a fresh instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from roost.instances import Instance
from tests.conftest import LiveServer


@pytest.fixture
async def live_http(
    live_server: LiveServer, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """A real TCP client to the live server, as the owner (a token on every doctype used)."""
    token = await issue_token(
        instance, "io.cozy.contacts io.cozy.files org.example.todos io.cozy.notes.misc"
    )
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": instance.domain, "Authorization": f"Bearer {token}"},
        timeout=60,
    ) as http:
        yield http
