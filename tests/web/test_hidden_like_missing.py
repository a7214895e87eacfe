"""A document a token may not read answers, on every read route, byte for byte what a
document that does not exist answers — revision included.

The token reads contacts of the `family` group only. The forbidden contact (group `work`)
was never in its scope, has two revisions, a conflict and an attachment; the missing id was
never written. Each route is asked the same question about both ids (same revision strings
too) and the two answers must be identical once the missing id is written in place of the
forbidden one: status, content type and every byte of the body.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from roost.couch import quote_db
from roost.instances import Instance
from roost.services import Services

CONTACTS = "io.cozy.contacts"
URL = f"/data/{CONTACTS}"
SCOPE = f"{CONTACTS}:ALL:family:groups"

Json = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """What is asked about one id: the forbidden one or the missing one."""

    id: str
    rev: str  # the forbidden document's current revision, asked about for both ids
    old_rev: str
    conflict_rev: str


@dataclass
class World:
    instance: Instance
    owner: str
    restricted: str
    forbidden: Case
    missing: Case


def _attachment(text: str) -> Json:
    data = base64.b64encode(text.encode()).decode()
    return {"note.txt": {"content_type": "text/plain", "data": data}}


@pytest.fixture(scope="module")
async def world(
    services: Services,
    issue_token: Callable[..., Awaitable[str]],
    new_instance: Callable[..., Awaitable[Instance]],
) -> World:
    instance = await new_instance("hidden")
    couch = services.couch
    db = instance.db(CONTACTS)
    await couch.ensure_db(db)
    forbidden_id = f"work-{secrets.token_hex(4)}"
    first: dict[str, Any] = {"_id": forbidden_id, "fullname": "A colleague", "groups": ["work"]}
    first["_attachments"] = _attachment("a secret note")
    old_rev = await couch.put_doc(db, first)
    current = await couch.get_doc(db, forbidden_id)
    current["fullname"] = "A colleague, renamed"
    rev = await couch.put_doc(db, current)
    # A conflicting branch, as two devices editing offline leave behind.
    conflict: dict[str, Any] = {
        "_id": forbidden_id,
        "_rev": old_rev,
        "fullname": "Other",
        "groups": ["work"],
    }
    conflict_rev = "2-" + "c" * 32
    conflict["_rev"] = conflict_rev
    conflict["_revisions"] = {"start": 2, "ids": ["c" * 32, old_rev.split("-", 1)[1]]}
    await couch.json_request(
        "POST", f"/{quote_db(db)}/_bulk_docs", json_body={"docs": [conflict], "new_edits": False}
    )
    # A family contact, so the token has something to read and the database is not empty.
    await couch.put_doc(db, {"_id": "family-1", "fullname": "Mum", "groups": ["family"]})
    owner = await issue_token(instance, CONTACTS)
    restricted = await issue_token(instance, SCOPE)
    missing_id = f"work-{secrets.token_hex(4)}"
    return World(
        instance,
        owner,
        restricted,
        Case(forbidden_id, rev, old_rev, conflict_rev),
        Case(missing_id, rev, old_rev, conflict_rev),
    )


@pytest.fixture
async def http(app: Starlette, world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url=f"http://{world.instance.domain}",
        headers={"Authorization": f"Bearer {world.restricted}"},
    ) as client:
        yield client


Ask = Callable[[httpx.AsyncClient, Case], Awaitable[httpx.Response]]


def _get(path: Callable[[Case], str]) -> Ask:
    async def ask(http: httpx.AsyncClient, case: Case) -> httpx.Response:
        return await http.get(path(case))

    return ask


def _head(path: Callable[[Case], str]) -> Ask:
    async def ask(http: httpx.AsyncClient, case: Case) -> httpx.Response:
        return await http.head(path(case))

    return ask


def _post(path: str, body: Callable[[Case], Any]) -> Ask:
    async def ask(http: httpx.AsyncClient, case: Case) -> httpx.Response:
        return await http.post(path, json=body(case))

    return ask


async def _put_with_rev(http: httpx.AsyncClient, case: Case) -> httpx.Response:
    body = {"_rev": case.rev, "fullname": "Me", "groups": ["family"]}
    return await http.put(f"{URL}/{case.id}", json=body)


async def _delete_with_rev(http: httpx.AsyncClient, case: Case) -> httpx.Response:
    return await http.delete(f"{URL}/{case.id}", params={"rev": case.rev})


ROUTES: dict[str, Ask] = {
    "get": _get(lambda c: f"{URL}/{c.id}"),
    "head": _head(lambda c: f"{URL}/{c.id}"),
    "get-rev": _get(lambda c: f"{URL}/{c.id}?rev={c.rev}"),
    "get-old-rev": _get(lambda c: f"{URL}/{c.id}?rev={c.old_rev}"),
    "get-revs": _get(lambda c: f"{URL}/{c.id}?revs=true"),
    "get-revs-info": _get(lambda c: f"{URL}/{c.id}?revs_info=true"),
    "get-conflicts": _get(lambda c: f"{URL}/{c.id}?conflicts=true"),
    "get-latest": _get(lambda c: f"{URL}/{c.id}?rev={c.old_rev}&latest=true"),
    "open-revs-all": _get(lambda c: f"{URL}/{c.id}?open_revs=all"),
    "open-revs-all-revs": _get(lambda c: f"{URL}/{c.id}?open_revs=all&revs=true"),
    # One revision per list: PouchDB Server orders the answers for several missing
    # revisions differently from one request to the next.
    "open-revs-list": _get(lambda c: f"{URL}/{c.id}?open_revs={json.dumps([c.rev])}"),
    "open-revs-conflict": _get(
        lambda c: f"{URL}/{c.id}?open_revs={json.dumps([c.conflict_rev])}&revs=true"
    ),
    "bulk-get": _post(f"{URL}/_bulk_get", lambda c: {"docs": [{"id": c.id}]}),
    "bulk-get-rev": _post(f"{URL}/_bulk_get", lambda c: {"docs": [{"id": c.id, "rev": c.rev}]}),
    "bulk-get-conflict": _post(
        f"{URL}/_bulk_get", lambda c: {"docs": [{"id": c.id, "rev": c.conflict_rev}]}
    ),
    "bulk-get-revs": _post(
        f"{URL}/_bulk_get?revs=true&latest=true",
        lambda c: {"docs": [{"id": c.id, "rev": c.old_rev}]},
    ),
    "all-docs-keys-get": _get(lambda c: f"{URL}/_all_docs?keys={json.dumps([c.id])}"),
    "all-docs-keys-post": _post(f"{URL}/_all_docs", lambda c: {"keys": [c.id]}),
    "all-docs-keys-docs": _post(
        f"{URL}/_all_docs?include_docs=true&conflicts=true", lambda c: {"keys": [c.id]}
    ),
    "revs-diff": _post(f"{URL}/_revs_diff", lambda c: {c.id: [c.rev, c.old_rev, "9-abc"]}),
    "changes-doc-ids-get": _get(
        lambda c: f"{URL}/_changes?filter=_doc_ids&doc_ids={json.dumps([c.id])}"
    ),
    "changes-doc-ids-post": _post(
        f"{URL}/_changes?filter=_doc_ids&style=all_docs", lambda c: {"doc_ids": [c.id]}
    ),
    "changes-selector": _post(
        f"{URL}/_changes?filter=_selector&include_docs=true",
        lambda c: {"selector": {"_id": c.id}},
    ),
    "local": _get(lambda c: f"{URL}/_local/{c.id}"),
    "attachment": _get(lambda c: f"{URL}/{c.id}/note.txt"),
    "attachment-head": _head(lambda c: f"{URL}/{c.id}/note.txt"),
    "attachment-rev": _get(lambda c: f"{URL}/{c.id}/note.txt?rev={c.old_rev}"),
    "find": _post(f"{URL}/_find", lambda c: {"selector": {"_id": c.id}}),
    "put-with-rev": _put_with_rev,
    "delete-with-rev": _delete_with_rev,
}


@pytest.fixture(scope="module")
async def owner_checkpoint(app: Starlette, world: World) -> None:
    """The owner keeps a `_local` document under the forbidden id."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url=f"http://{world.instance.domain}",
        headers={"Authorization": f"Bearer {world.owner}"},
    ) as owner:
        answer = await owner.put(f"{URL}/_local/{world.forbidden.id}", json={"last_seq": "1"})
        assert answer.status_code == 201, answer.text


@pytest.mark.usefixtures("owner_checkpoint")
@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
async def test_forbidden_answers_like_missing(
    http: httpx.AsyncClient, services: Services, world: World, route: str
) -> None:
    db = world.instance.db(CONTACTS)
    before = await services.couch.get_doc(db, world.forbidden.id, params={"revs": "true"})
    forbidden = await ROUTES[route](http, world.forbidden)
    missing = await ROUTES[route](http, world.missing)
    assert forbidden.status_code == missing.status_code, (forbidden.text, missing.text)
    assert forbidden.headers.get("content-type") == missing.headers.get("content-type")
    assert forbidden.content == missing.content.replace(
        world.missing.id.encode(), world.forbidden.id.encode()
    ), (forbidden.text, missing.text)
    # Nothing of the forbidden document's content shows, and nothing of it changed.
    assert "colleague" not in forbidden.text
    assert "secret note" not in forbidden.text
    after = await services.couch.get_doc(db, world.forbidden.id, params={"revs": "true"})
    assert after == before
