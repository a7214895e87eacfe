"""What the share-link tests share: files made through the real /files API, links through
the real /share-links API, and the store read back directly (no cache)."""

from __future__ import annotations

from typing import Any

import httpx

from roost.instances import Instance
from roost.permission_docs import PERMISSIONS_DOCTYPE
from roost.permissions import ROOT_DIR_ID
from roost.services import Services


async def make_folder(api: httpx.AsyncClient, name: str, parent: str = ROOT_DIR_ID) -> str:
    answer = await api.post(f"/files/{parent}", params={"Type": "directory", "Name": name})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


async def make_file(
    api: httpx.AsyncClient, name: str, content: bytes, parent: str = ROOT_DIR_ID
) -> str:
    answer = await api.post(
        f"/files/{parent}", params={"Type": "file", "Name": name}, content=content
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


async def names_in(api: httpx.AsyncClient, folder: str) -> dict[str, str]:
    answer = await api.get(f"/files/{folder}", params={"page[limit]": 1000})
    assert answer.status_code == 200, answer.text
    return {i["attributes"]["name"]: i["id"] for i in answer.json().get("included", [])}


async def share(api: httpx.AsyncClient, target_id: str, **fields: Any) -> dict[str, Any]:
    body = {"target": {"type": fields.pop("doctype", "io.cozy.files"), "id": target_id}}
    body.update(fields)
    answer = await api.post("/share-links", json=body)
    assert answer.status_code == 201, answer.text
    link: dict[str, Any] = answer.json()
    return link


def path_of(link: dict[str, Any]) -> str:
    """`/s/{code}` from the link's absolute URL."""
    return "/s/" + str(link["url"]).rsplit("/s/", 1)[1]


async def share_docs(services: Services, instance: Instance) -> list[dict[str, Any]]:
    """The share-link documents really in the store (no cache)."""
    rows = await services.couch.all_docs(
        instance.db(PERMISSIONS_DOCTYPE), params={"include_docs": True}
    )
    return [r["doc"] for r in rows["rows"] if r.get("doc", {}).get("type") == "share"]
