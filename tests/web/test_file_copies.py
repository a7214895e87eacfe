"""`POST /files/{id}/copy`: a file copied, checked as a read of the source and a create at
the destination; refusals change nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID


async def _make(
    http: httpx.AsyncClient, auth: dict[str, str], name: str, parent: str, content: bytes | None
) -> str:
    kind = "directory" if content is None else "file"
    answer = await http.post(
        f"/files/{parent}", params={"Type": kind, "Name": name}, content=content, headers=auth
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


async def _names(http: httpx.AsyncClient, auth: dict[str, str], folder: str) -> set[str]:
    answer = await http.get(f"/files/{folder}", params={"page[limit]": 1000}, headers=auth)
    return {item["attributes"]["name"] for item in answer.json().get("included", [])}


async def test_copies_get_free_names_and_the_same_bytes(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    auth = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.files')}"}
    note = await _make(client, auth, "note.txt", ROOT_DIR_ID, b"hello")
    folder = await _make(client, auth, "Box", ROOT_DIR_ID, None)
    first = await client.post(f"/files/{note}/copy", headers=auth)
    second = await client.post(f"/files/{note}/copy", headers=auth)
    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["attributes"]["name"] == "note (2).txt"
    assert second.json()["data"]["attributes"]["name"] == "note (3).txt"
    named = await client.post(
        f"/files/{note}/copy", params={"DirID": folder, "Name": "kept.txt"}, headers=auth
    )
    assert named.status_code == 201
    body = await client.get(f"/files/download/{named.json()['data']['id']}", headers=auth)
    assert body.content == b"hello"
    taken = await client.post(
        f"/files/{note}/copy", params={"DirID": folder, "Name": "kept.txt"}, headers=auth
    )
    assert taken.status_code == 409
    directory = await client.post(f"/files/{folder}/copy", headers=auth)
    assert directory.status_code == 400
    assert await _names(client, auth, folder) == {"kept.txt"}


async def test_a_token_cannot_copy_out_of_or_into_what_it_may_not_touch(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    owner = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.files')}"}
    mine = await _make(client, owner, "Mine", ROOT_DIR_ID, None)
    theirs = await _make(client, owner, "Theirs", ROOT_DIR_ID, None)
    inside = await _make(client, owner, "in.txt", mine, b"in")
    secret = await _make(client, owner, "secret.txt", theirs, b"no")
    token = await issue_token(instance, f"io.cozy.files:ALL:{mine}")
    limited = {"Authorization": f"Bearer {token}"}
    hidden = await client.post(f"/files/{secret}/copy", params={"DirID": mine}, headers=limited)
    assert hidden.status_code == 404
    outward = await client.post(f"/files/{inside}/copy", params={"DirID": theirs}, headers=limited)
    assert outward.status_code == 404
    reader = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.files:GET')}"}
    read_only = await client.post(f"/files/{inside}/copy", headers=reader)
    assert read_only.status_code == 403
    assert await _names(client, owner, mine) == {"in.txt"}
    assert await _names(client, owner, theirs) == {"secret.txt"}


async def test_a_copy_over_the_quota_is_507_and_stores_nothing(
    client: httpx.AsyncClient,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    small = await new_instance("copyquota", quota_bytes=1500)
    auth = {
        "Authorization": f"Bearer {await issue_token(small, 'io.cozy.files')}",
        "Host": small.domain,
    }
    big = await _make(client, auth, "big.bin", ROOT_DIR_ID, b"x" * 1000)
    answer = await client.post(f"/files/{big}/copy", headers=auth)
    assert answer.status_code == 507
    assert await _names(client, auth, ROOT_DIR_ID) == {"big.bin", ".cozy_trash"}
