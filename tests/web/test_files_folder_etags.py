"""`/files`: a folder's `meta.etag` changes with anything in its subtree, and only then."""

from __future__ import annotations

import httpx

from roost.instances import Instance
from tests.web.files_support import IssueToken, files_api


async def test_folder_etag_follows_its_subtree(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await files_api(client, instance, issue_token, "io.cozy.files")
    top = await api.mkdir_ok("Synced")
    deep = await api.mkdir_ok("deep", dir_id=await api.mkdir_ok("middle", dir_id=top))
    other = await api.mkdir_ok("other", dir_id=top)

    async def etags() -> dict[str, str]:
        listing = (await api.get(top)).json()
        found = {listing["data"]["id"]: listing["data"]["meta"]["etag"]}
        for item in listing["included"]:
            found[item["id"]] = item["meta"]["etag"]
        found[deep] = (await api.get(deep)).json()["data"]["meta"]["etag"]
        return found

    before = await etags()
    assert before == await etags()
    await api.upload_ok("note.txt", b"three levels down", dir_id=deep)
    after = await etags()
    assert after[top] != before[top] and after[deep] != before[deep]
    assert after[other] == before[other]
