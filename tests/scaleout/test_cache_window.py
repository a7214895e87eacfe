"""What one stack caches, another stack's change reaches within the documented window
(`cache_ttl_seconds`, docs/scaling.md): revoked app passwords, revoked tokens, listings.

Each test warms both stacks' caches first, changes something through the first stack,
waits the window out and shows the second stack sees the change — a bound the cache
promises, not a speed measured."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from roost.config import Config
from roost.instances import Instance
from roost.permissions import PermissionSet
from tests.scaleout.conftest import Stack

PROPFIND = {"Depth": "1"}


def _window(config: Config) -> float:
    # A little past the window: the entry cached at the last request has expired.
    return config.cache_ttl_seconds + 0.2


async def test_a_revoked_app_password_stops_working_on_every_stack_within_the_window(
    stacks: list[Stack], fleet_instance: Instance
) -> None:
    first, second = stacks
    password, secret = await first.services.app_passwords.create(
        fleet_instance, "laptop", PermissionSet.from_inline("io.cozy.files")
    )
    auth = httpx.BasicAuth("me", secret)
    for stack in stacks:
        warm = await stack.http.request("PROPFIND", "/dav/files/", headers=PROPFIND, auth=auth)
        assert warm.status_code == 207, warm.text

    await first.services.app_passwords.revoke(fleet_instance, password.id)
    # The stack that revoked refuses at once; the other one within the window.
    refused = await first.http.request("PROPFIND", "/dav/files/", headers=PROPFIND, auth=auth)
    assert refused.status_code == 401
    await asyncio.sleep(_window(second.services.config))
    for stack in stacks:
        after = await stack.http.request("PROPFIND", "/dav/files/", headers=PROPFIND, auth=auth)
        assert after.status_code == 401
        put = await stack.http.put("/dav/files/after-revocation.txt", content=b"x", auth=auth)
        assert put.status_code == 401
    assert await first.services.vfs.lookup_or_none(fleet_instance, "/after-revocation.txt") is None


async def test_a_revoked_token_is_refused_by_every_stack_within_the_window(
    stacks: list[Stack], fleet_instance: Instance
) -> None:
    first, second = stacks
    permission = await first.services.permission_docs.create(
        fleet_instance, "app", PermissionSet.from_inline("io.cozy.contacts")
    )
    token = first.services.tokens.sign(
        fleet_instance,
        audience="app",
        subject="fleet-test",
        permission_id=permission["_id"],
        ttl=timedelta(hours=1),
    )
    headers = {"Authorization": f"Bearer {token}"}
    for stack in stacks:
        warm = await stack.http.get("/data/io.cozy.contacts/_all_docs", headers=headers)
        assert warm.status_code == 200, warm.text

    await first.services.permission_docs.delete(fleet_instance, permission["_id"])
    await asyncio.sleep(_window(second.services.config))
    for stack in stacks:
        after = await stack.http.get("/data/io.cozy.contacts/_all_docs", headers=headers)
        assert after.status_code in (401, 403), after.text
        write = await stack.http.post(
            "/data/io.cozy.contacts/", json={"fullname": "Eve"}, headers=headers
        )
        assert write.status_code in (401, 403)


async def test_a_file_written_through_one_stack_is_listed_by_the_other_within_the_window(
    stacks: list[Stack], dav_password: str, fleet_instance: Instance
) -> None:
    first, second = stacks
    auth = httpx.BasicAuth("me", dav_password)
    assert (await first.http.request("MKCOL", "/dav/files/window/", auth=auth)).status_code == 201
    for stack in stacks:
        warm = await stack.http.request(
            "PROPFIND", "/dav/files/window/", headers=PROPFIND, auth=auth
        )
        assert warm.status_code == 207
        assert "new.txt" not in warm.text

    put = await first.http.put("/dav/files/window/new.txt", content=b"hello", auth=auth)
    assert put.status_code == 201
    await asyncio.sleep(_window(second.services.config))
    listed = await second.http.request(
        "PROPFIND", "/dav/files/window/", headers=PROPFIND, auth=auth
    )
    assert listed.status_code == 207
    assert "new.txt" in listed.text
    got = await second.http.get("/dav/files/window/new.txt", auth=auth)
    assert got.content == b"hello"
