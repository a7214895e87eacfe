"""A CouchDB-compatible server replicating from Roost with `POST /_replicate`.

The replicator is a PouchDB Server of its own (see conftest): it takes credentials only in
the source URL (Basic, the token as password) and dies when a replication fails, so it never
shares a process with the test store. When `ROOST_COUCHDB_URL` points at Apache CouchDB,
that server replicates too, with the token in `{"url", "headers"}`.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import httpx

from tests.replication.helpers import FAMILY_READ, WHOLE, bearer, contact, push


async def _replicate(replicator_url: str, source: Any, target: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=replicator_url, timeout=120) as http:
        answer = await http.post(
            "/_replicate", json={"source": source, "target": target, "create_target": True}
        )
        assert answer.status_code in (200, 201), answer.text
        result: dict[str, Any] = answer.json()
        rows = await http.get(f"/{target}/_all_docs", params={"include_docs": "true"})
        result["replica"] = {row["id"]: row["doc"] for row in rows.json()["rows"]}
        return result


def _source(port: int, token: str) -> str:
    return f"http://roost:{token}@127.0.0.1:{port}/data/io.cozy.contacts"


async def test_pouchdb_server_pulls_every_document_with_a_whole_doctype_token(
    client, instance, issue_token, replicator, instance_server
) -> None:
    token = await issue_token(instance, WHOLE)
    written = await push(client, token, [contact(f"c{i:03}", "family") for i in range(120)])
    target = f"replica-{secrets.token_hex(4)}"
    result = await _replicate(replicator.url, _source(instance_server.port, token), target)
    assert result["ok"] is True
    assert {i: d["_rev"] for i, d in result["replica"].items()} == {
        w["id"]: w["rev"] for w in written
    }
    # A second run finds its checkpoint and copies nothing.
    again = await _replicate(replicator.url, _source(instance_server.port, token), target)
    assert again.get("docs_written", 0) == 0


async def test_pouchdb_server_pulls_exactly_the_allowed_documents(
    client, instance, issue_token, replicator, instance_server
) -> None:
    owner = await issue_token(instance, WHOLE)
    await push(
        client,
        owner,
        [contact("ann", "family"), contact("bob", "work"), contact("cy", "work", "family")],
    )
    family = await issue_token(instance, FAMILY_READ)
    target = f"replica-{secrets.token_hex(4)}"
    result = await _replicate(replicator.url, _source(instance_server.port, family), target)
    assert result["ok"] is True
    assert sorted(result["replica"]) == ["ann", "cy"]
    assert result["replica"]["ann"]["groups"] == ["family"]


async def test_apache_couchdb_replicates_with_header_credentials(
    client, instance, issue_token, instance_server
) -> None:
    couchdb = os.environ.get("ROOST_COUCHDB_URL")
    if not couchdb:
        import pytest

        pytest.skip("needs ROOST_COUCHDB_URL (Apache CouchDB) to act as the replicator")
    family = await issue_token(instance, FAMILY_READ)
    owner = await issue_token(instance, WHOLE)
    await push(client, owner, [contact("ann", "family"), contact("bob", "work")])
    source = {
        "url": f"http://127.0.0.1:{instance_server.port}/data/io.cozy.contacts",
        "headers": {"Authorization": f"Bearer {family}"},
    }
    target = f"roost-test-replica-{secrets.token_hex(4)}"
    try:
        result = await _replicate(couchdb, source, target)
        assert sorted(result["replica"]) == ["ann"]
    finally:
        async with httpx.AsyncClient(base_url=couchdb) as http:
            await http.delete(f"/{target}")


async def test_pouchdb_server_pushes_and_roost_refuses_out_of_scope_documents(
    client, instance, issue_token, replicator, instance_server
) -> None:
    source = f"outbox-{secrets.token_hex(4)}"
    async with httpx.AsyncClient(base_url=replicator.url, timeout=60) as http:
        assert (await http.put(f"/{source}")).status_code == 201
        docs = [contact("ann", "family"), contact("bob", "work"), contact("cy", "family")]
        written = await http.post(f"/{source}/_bulk_docs", json={"docs": docs})
        assert written.status_code == 201
        family = await issue_token(instance, "io.cozy.contacts:ALL:family:groups")
        answer = await http.post(
            "/_replicate", json={"source": source, "target": _source(instance_server.port, family)}
        )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["docs_written"] == 2
    assert result["doc_write_failures"] == 1
    owner = await issue_token(instance, WHOLE)
    rows = (await client.get("/data/io.cozy.contacts/_all_docs", headers=bearer(owner))).json()
    assert [row["id"] for row in rows["rows"]] == ["ann", "cy"]
