"""`GET /files/archive`: a folder or a selection as a zip, each file checked, streamed."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Awaitable, Callable

import httpx

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID


async def _mkdir(http: httpx.AsyncClient, auth: dict[str, str], name: str, parent: str) -> str:
    answer = await http.post(
        f"/files/{parent}", params={"Type": "directory", "Name": name}, headers=auth
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


async def _upload(
    http: httpx.AsyncClient, auth: dict[str, str], name: str, content: bytes, parent: str
) -> str:
    answer = await http.post(
        f"/files/{parent}", params={"Type": "file", "Name": name}, content=content, headers=auth
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


def _unzip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {n: archive.read(n) for n in archive.namelist()}


async def test_a_folder_and_a_file_in_one_zip(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    auth = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.files')}"}
    folder = await _mkdir(client, auth, "Trip", ROOT_DIR_ID)
    sub = await _mkdir(client, auth, "Day 1", folder)
    big = bytes(range(256)) * 4096  # 1 MiB, several chunks
    await _upload(client, auth, "map.bin", big, sub)
    await _upload(client, auth, "été.txt", b"accents ok", folder)
    loose = await _upload(client, auth, "readme.txt", b"read me", ROOT_DIR_ID)
    answer = await client.get(
        "/files/archive", params=[("Id", folder), ("Id", loose)], headers=auth
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert 'filename="files.zip"' in answer.headers["content-disposition"]
    assert _unzip(answer.content) == {
        "Trip/": b"",
        "Trip/Day 1/": b"",
        "Trip/Day 1/map.bin": big,
        "Trip/été.txt": b"accents ok",
        "readme.txt": b"read me",
    }
    one = await client.get("/files/archive", params={"Id": folder, "Name": "Voyage"}, headers=auth)
    assert "filename*=UTF-8''Voyage.zip" in one.headers["content-disposition"]


async def test_what_a_token_may_not_read_is_missing(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    owner = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.files')}"}
    shared = await _mkdir(client, owner, "Shared", ROOT_DIR_ID)
    private = await _mkdir(client, owner, "Private", ROOT_DIR_ID)
    await _upload(client, owner, "ok.txt", b"ok", shared)
    secret = await _upload(client, owner, "secret.txt", b"no", private)
    token = await issue_token(instance, f"io.cozy.files:GET:{shared}")
    limited = {"Authorization": f"Bearer {token}"}
    hidden = await client.get("/files/archive", params={"Id": secret}, headers=limited)
    absent = await client.get("/files/archive", params={"Id": "nope"}, headers=limited)
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    mixed = await client.get(
        "/files/archive", params=[("Id", shared), ("Id", private)], headers=limited
    )
    assert mixed.status_code == 404
    # The root holds both and is not the token's to read; its own folder is.
    root = await client.get("/files/archive", params={"Id": ROOT_DIR_ID}, headers=limited)
    assert root.status_code == 404
    own = await client.get("/files/archive", params={"Id": shared}, headers=limited)
    assert own.status_code == 200
    assert _unzip(own.content) == {"Shared/": b"", "Shared/ok.txt": b"ok"}


async def test_bad_requests_are_plain_4xx(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    auth = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.files')}"}
    none = await client.get("/files/archive", headers=auth)
    assert none.status_code == 400
    too_many = await client.get(
        "/files/archive", params={"Id": ",".join(f"x{n}" for n in range(1001))}, headers=auth
    )
    assert too_many.status_code == 400
    bad_name = await client.get(
        "/files/archive", params={"Id": ROOT_DIR_ID, "Name": "a/b"}, headers=auth
    )
    assert bad_name.status_code == 400
    anonymous = await client.get("/files/archive", params={"Id": ROOT_DIR_ID})
    assert anonymous.status_code == 401
    contacts = {"Authorization": f"Bearer {await issue_token(instance, 'io.cozy.contacts')}"}
    refused = await client.get("/files/archive", params={"Id": ROOT_DIR_ID}, headers=contacts)
    assert refused.status_code == 403
