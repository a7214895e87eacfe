"""A first walk through the stack: status, login, a token, a document round trip."""

from __future__ import annotations

import httpx

from tests.conftest import PASSPHRASE


async def test_status_reports_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/status")
    assert response.status_code == 200
    assert response.json()["couchdb"]["ok"] is True


async def test_unknown_host_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/data/io.cozy.contacts/x", headers={"Host": "nobody.roost.test"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_document_round_trip_with_token(client, instance, issue_token) -> None:
    token = await issue_token(instance, "io.cozy.contacts")
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.post(
        "/data/io.cozy.contacts/", json={"fullname": "Bob", "groups": ["family"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    fetched = await client.get(f"/data/io.cozy.contacts/{doc_id}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["fullname"] == "Bob"
    assert fetched.json()["cozyMetadata"]["createdAt"]


async def test_json_login_sets_session(client, instance) -> None:
    response = await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    assert response.status_code == 200, response.text
    listing = await client.get("/data/_all_doctypes")
    assert listing.status_code == 200


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/status")
    text = (await client.get("/metrics")).text
    assert 'roost_http_requests_total{area="status",method="GET",status="200"}' in text
    assert "roost_http_request_duration_seconds_bucket" in text


async def test_every_answer_carries_its_own_request_id(client: httpx.AsyncClient) -> None:
    ids = [(await client.get("/status")).headers["x-request-id"] for _ in range(20)]
    assert all(len(rid) == 16 and int(rid, 16) >= 0 for rid in ids)
    assert len(set(ids)) == len(ids)
