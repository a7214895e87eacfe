"""Small helpers shared by the replication tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

CONTACTS = "io.cozy.contacts"
WHOLE = "io.cozy.contacts"
FAMILY = "io.cozy.contacts:ALL:family:groups"
FAMILY_READ = "io.cozy.contacts:GET:family:groups"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def contact(doc_id: str, *groups: str, **fields: Any) -> dict[str, Any]:
    return {"_id": doc_id, "fullname": doc_id.title(), "groups": list(groups), **fields}


async def push(
    client: httpx.AsyncClient, token: str, docs: list[dict[str, Any]], *, new_edits: bool = True
) -> list[dict[str, Any]]:
    response = await client.post(
        f"/data/{CONTACTS}/_bulk_docs",
        json={"docs": docs, "new_edits": new_edits},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    answer: list[dict[str, Any]] = response.json()
    return answer


async def changes(
    client: httpx.AsyncClient, token: str, body: Any = None, **params: Any
) -> dict[str, Any]:
    query = {k: (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in params.items()}
    if body is None:
        response = await client.get(
            f"/data/{CONTACTS}/_changes", params=query, headers=bearer(token)
        )
    else:
        response = await client.post(
            f"/data/{CONTACTS}/_changes", params=query, json=body, headers=bearer(token)
        )
    assert response.status_code == 200, response.text
    feed: dict[str, Any] = json.loads(response.text)
    return feed


def ids(feed: dict[str, Any]) -> list[str]:
    """The feed's ids, sorted: CouchDB promises no order between the documents of one
    `_bulk_docs`, nor between the shards of a clustered database."""
    return sorted(row["id"] for row in feed["results"])
