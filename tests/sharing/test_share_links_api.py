"""The owner's share-link API: create, list, read, revoke; and every bad request refused
with a clear 4xx and nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from tests.sharing.helpers import make_file, make_folder, path_of, share, share_docs


@pytest.fixture
async def api(
    app: Starlette, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    token = await issue_token(instance, "io.cozy.files io.roost.share_links io.cozy.photos.albums")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{instance.domain}",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


async def test_create_list_read_and_revoke(
    api: httpx.AsyncClient, client: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    folder = await make_folder(api, "Holidays")
    later = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    link = await share(api, folder, expires_at=later.isoformat(), password="open sesame")
    assert link["kind"] == "read"
    assert link["target"] == {
        "type": "io.cozy.files",
        "id": folder,
        "name": "Holidays",
        "what": "folder",
    }
    assert link["password"] is True and link["expired"] is False
    assert datetime.fromisoformat(link["expires_at"]) == later
    assert link["url"].startswith(f"http://{instance.domain}/s/")

    stored = await share_docs(services, instance)
    assert [d["_id"] for d in stored] == [link["id"]]
    # Neither the code nor the password is in the store: only their hashes.
    code = path_of(link).removeprefix("/s/")
    assert code not in str(stored[0]) and "open sesame" not in str(stored[0])
    assert stored[0]["permissions"]["rules"]

    listed = (await api.get("/share-links")).json()["links"]
    assert [entry["id"] for entry in listed] == [link["id"]]
    assert "url" not in listed[0]
    await api.post(f"/files/{folder}", params={"Type": "directory", "Name": "x"})
    renamed = await api.patch(
        f"/files/{folder}",
        json={"data": {"type": "io.cozy.files", "id": folder, "attributes": {"name": "Summer"}}},
    )
    assert renamed.status_code == 200, renamed.text
    assert (await api.get(f"/share-links/{link['id']}")).json()["target"]["name"] == "Summer"

    assert (await client.get(path_of(link))).status_code == 401  # the password form
    assert (await api.delete(f"/share-links/{link['id']}")).status_code == 204
    assert (await api.get("/share-links")).json() == {"links": []}
    assert (await api.get(f"/share-links/{link['id']}")).status_code == 404
    assert (await api.delete(f"/share-links/{link['id']}")).status_code == 404
    assert (await client.get(path_of(link))).status_code == 410


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "JSON"),
        ([], "JSON object"),
        ({"target": {"type": "io.cozy.files"}}, "target must be"),
        ({"target": {"type": "io.cozy.contacts", "id": "x"}}, "target.type"),
        ({"target": {"type": "io.cozy.files", "id": ""}}, "target.id"),
        ({"target": {"type": "io.cozy.files", "id": "FOLDER"}, "kind": "write"}, "kind"),
        (
            {
                "target": {"type": "io.cozy.files", "id": "FOLDER"},
                "expires_at": "2001-01-01T00:00:00Z",
            },
            "past",
        ),
        (
            {
                "target": {"type": "io.cozy.files", "id": "FOLDER"},
                "expires_at": "2099-01-01T00:00:00",
            },
            "time zone",
        ),
        (
            {"target": {"type": "io.cozy.files", "id": "FOLDER"}, "expires_at": "tomorrow"},
            "ISO 8601",
        ),
        (
            {"target": {"type": "io.cozy.files", "id": "FOLDER"}, "password": "x" * 257},
            "at most 256",
        ),
        ({"target": {"type": "io.cozy.files", "id": "FOLDER"}, "password": "abc"}, "at least 4"),
        (
            {"target": {"type": "io.cozy.files", "id": "FOLDER"}, "password": 1234},
            "password must be",
        ),
        ({"target": {"type": "io.cozy.files", "id": "FOLDER"}, "extra": 1}, "unknown field"),
        (
            {"target": {"type": "io.cozy.files", "id": "FILE"}, "kind": "drop"},
            "drop link is for a folder",
        ),
        ({"target": {"type": "io.cozy.files", "id": "io.cozy.files.root-dir"}}, "whole Drive"),
    ],
)
async def test_bad_requests_are_refused_and_nothing_is_written(
    api: httpx.AsyncClient, services: Services, instance: Instance, body: object, reason: str
) -> None:
    folder = await make_folder(api, "F")
    file_id = await make_file(api, "a.txt", b"a")
    if isinstance(body, dict) and isinstance(body.get("target"), dict) and "id" in body["target"]:
        target = dict(body["target"])
        target["id"] = {"FOLDER": folder, "FILE": file_id}.get(
            target.get("id", ""), target.get("id")
        )
        body = {**body, "target": target}
    if isinstance(body, str):
        answer = await api.post(
            "/share-links", content=body, headers={"Content-Type": "application/json"}
        )
    else:
        answer = await api.post("/share-links", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert reason in answer.json()["reason"]
    assert await share_docs(services, instance) == []


async def test_what_the_token_may_not_read_cannot_be_shared(
    app: Starlette,
    api: httpx.AsyncClient,
    services: Services,
    instance: Instance,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    mine = await make_folder(api, "Mine")
    other = await make_folder(api, "Other")
    inside = await make_file(api, "in.txt", b"in", mine)
    grant = PermissionSet.from_inline(f"io.roost.share_links io.cozy.files:GET:{mine}")
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    token = await services.tokens.issue(
        instance,
        audience="cli",
        subject="test",
        permissions=PermissionSet(rules=grant.rules, expires_at=in_an_hour),
        ttl=timedelta(hours=1),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{instance.domain}",
        headers={"Authorization": f"Bearer {token}"},
    ) as narrow:
        hidden = await narrow.post(
            "/share-links", json={"target": {"type": "io.cozy.files", "id": other}}
        )
        missing = await narrow.post(
            "/share-links", json={"target": {"type": "io.cozy.files", "id": "0" * 32}}
        )
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json() == {"error": "not_found", "reason": "missing"}
        # Read-only: no drop link (visitors would write where the token may not).
        drop = await narrow.post(
            "/share-links", json={"target": {"type": "io.cozy.files", "id": mine}, "kind": "drop"}
        )
        assert drop.status_code == 403, drop.text
        # A file inside its folder is fine, but only until the grant's own expiry.
        forever = await narrow.post(
            "/share-links", json={"target": {"type": "io.cozy.files", "id": inside}}
        )
        assert forever.status_code == 403 and "outlive" in forever.json()["reason"]
        assert await share_docs(services, instance) == []
        soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        made = await narrow.post(
            "/share-links",
            json={"target": {"type": "io.cozy.files", "id": inside}, "expires_at": soon},
        )
        assert made.status_code == 201, made.text

    token = await issue_token(instance, "io.cozy.files")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{instance.domain}",
        headers={"Authorization": f"Bearer {token}"},
    ) as no_action:
        refused = await no_action.post(
            "/share-links", json={"target": {"type": "io.cozy.files", "id": mine}}
        )
        assert refused.status_code == 403 and "share links" in refused.json()["reason"]
        assert (await no_action.get("/share-links")).status_code == 403
    assert len(await share_docs(services, instance)) == 1


async def test_anonymous_callers_get_401(
    client: httpx.AsyncClient, api: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    folder = await make_folder(api, "Not for strangers")
    before = await share_docs(services, instance)
    answer = await client.post(
        "/share-links", json={"target": {"type": "io.cozy.files", "id": folder}}
    )
    assert answer.status_code == 401
    assert (await client.get("/share-links")).status_code == 401
    assert await share_docs(services, instance) == before
