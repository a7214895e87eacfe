"""What the `/data` API does with documents, for a caller allowed to do it.

Permissions are in test_data_permissions.py; here the caller is the owner (session cookie)
unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from roost.app import create_app
from roost.config import Config
from roost.instances import Instance
from roost.services import Services
from tests.conftest import PASSPHRASE
from tests.stored import stored_databases, stored_revs

CONTACTS = "io.cozy.contacts"
ITEMS = "org.example.items"  # no schema: any JSON object goes
ITEM_COUNT = 250

Json = dict[str, Any]


def _error(status: int, error: str, reason: str) -> tuple[int, Json]:
    return status, {"error": error, "reason": reason}


def _answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


class OwnerClient(httpx.AsyncClient):
    """A client of one instance's owner that knows which instance it talks to."""

    def __init__(self, app: Starlette, instance: Instance) -> None:
        super().__init__(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{instance.domain}"
        )
        self.instance = instance


@pytest.fixture(scope="module")
async def owner(
    app: Starlette, new_instance: Callable[..., Awaitable[Instance]]
) -> AsyncIterator[OwnerClient]:
    """A client logged in as the owner of a fresh instance, for the whole module."""
    instance = await new_instance("data")
    async with OwnerClient(app, instance) as http:
        login = await http.post("/auth/login", json={"passphrase": PASSPHRASE})
        assert login.status_code == 200, login.text
        yield http


def instance_of(http: httpx.AsyncClient) -> Instance:
    assert isinstance(http, OwnerClient), "only the module's `owner` client knows its instance"
    return http.instance


async def _create(http: httpx.AsyncClient, body: Json, doctype: str = CONTACTS) -> Json:
    response = await http.post(f"/data/{doctype}/", json=body)
    assert response.status_code == 201, response.text
    data: Json = response.json()["data"]
    return data


# -- create, read, update, delete ---------------------------------------------------------


async def test_what_a_get_answers_can_be_put_back(owner: httpx.AsyncClient) -> None:
    """Client libraries send back the document they read, `_type` included."""
    created = await _create(owner, {"fullname": "Grace", "groups": ["x"]})
    fetched = (await owner.get(f"/data/{CONTACTS}/{created['_id']}")).json()
    assert fetched["_type"] == CONTACTS

    updated = await owner.put(
        f"/data/{CONTACTS}/{created['_id']}", json={**fetched, "fullname": "Grace H."}
    )

    assert updated.status_code == 200, updated.text
    stored = await owner.get(f"/data/{CONTACTS}/{created['_id']}")
    assert stored.json()["fullname"] == "Grace H."
    # `_type` is the doctype, not a stored member: the store holds no such field.
    raw = await owner.get(
        f"/data/{CONTACTS}/_all_docs",
        params={"include_docs": "true", "keys": f'["{created["_id"]}"]'},
    )
    assert "_type" not in raw.json()["rows"][0]["doc"]


async def test_a_type_naming_the_doctype_is_accepted_on_creation(owner: httpx.AsyncClient) -> None:
    created = await owner.post(
        f"/data/{CONTACTS}/", json={"fullname": "Alan", "groups": [], "_type": CONTACTS}
    )
    assert created.status_code == 201, created.text
    assert "_type" not in created.json()["data"]
    put = await owner.put(
        f"/data/{CONTACTS}/alan-{secrets.token_hex(4)}",
        json={"fullname": "Alan", "groups": [], "_type": CONTACTS},
    )
    assert put.status_code == 201, put.text


async def test_a_type_naming_another_doctype_is_refused(owner: httpx.AsyncClient) -> None:
    created = await _create(owner, {"fullname": "Edsger", "groups": ["x"]})
    url = f"/data/{CONTACTS}/{created['_id']}"
    before = (await owner.get(url)).json()

    refused = await owner.put(url, json={**before, "_type": "io.cozy.bills", "fullname": "E."})
    refused_new = await owner.post(
        f"/data/{CONTACTS}/", json={"fullname": "X", "groups": [], "_type": "io.cozy.bills"}
    )

    for response in (refused, refused_new):
        assert response.status_code == 400
        assert response.json()["error"] == "bad_request"
        assert "_type" in response.json()["reason"]
    assert (await owner.get(url)).json() == before


async def test_a_document_round_trip(owner: httpx.AsyncClient) -> None:
    created = await owner.post(f"/data/{CONTACTS}/", json={"fullname": "Ada", "groups": ["x"]})
    assert created.status_code == 201
    body = created.json()
    doc_id, rev = body["id"], body["rev"]
    assert body == {
        "id": doc_id,
        "rev": rev,
        "type": CONTACTS,
        "ok": True,
        "data": {
            "_id": doc_id,
            "_rev": rev,
            "fullname": "Ada",
            "groups": ["x"],
            "cozyMetadata": body["data"]["cozyMetadata"],
        },
    }
    assert rev.startswith("1-")

    fetched = await owner.get(f"/data/{CONTACTS}/{doc_id}")
    assert _answer(fetched) == (200, {**body["data"], "_type": CONTACTS})

    updated = await owner.put(
        f"/data/{CONTACTS}/{doc_id}", json={"_rev": rev, "fullname": "Ada L.", "groups": ["x"]}
    )
    assert updated.status_code == 200
    new_rev = updated.json()["rev"]
    assert new_rev.startswith("2-")
    assert updated.json()["data"]["fullname"] == "Ada L."

    deleted = await owner.delete(f"/data/{CONTACTS}/{doc_id}", params={"rev": new_rev})
    assert deleted.status_code == 200
    assert deleted.json() == {
        "id": doc_id,
        "rev": deleted.json()["rev"],
        "type": CONTACTS,
        "ok": True,
        "deleted": True,
    }
    assert deleted.json()["rev"].startswith("3-")

    gone = await owner.get(f"/data/{CONTACTS}/{doc_id}")
    assert _answer(gone) == _error(404, "not_found", "missing")


async def test_concurrent_reads_each_get_their_own_document(owner: httpx.AsyncClient) -> None:
    """Concurrent reads of a doctype share store requests (group reads): each still gets
    its own document, and a deleted or missing one answers 404 like a lone read."""
    written = []
    for n in range(12):
        created = await owner.post(f"/data/{CONTACTS}/", json={"fullname": f"Reader {n}"})
        written.append(created.json()["data"])
    gone = written.pop()
    await owner.delete(f"/data/{CONTACTS}/{gone['_id']}", params={"rev": gone["_rev"]})
    ids = [doc["_id"] for doc in written] + [gone["_id"], "never-written"]

    answers = await asyncio.gather(*(owner.get(f"/data/{CONTACTS}/{i}") for i in ids))

    expected = [(200, {**doc, "_type": CONTACTS}) for doc in written]
    expected += [_error(404, "not_found", "missing")] * 2
    assert [_answer(answer) for answer in answers] == expected


async def test_put_with_an_id_creates_then_updates(owner: httpx.AsyncClient) -> None:
    doc_id = f"fixed-{secrets.token_hex(4)}"
    created = await owner.put(f"/data/{CONTACTS}/{doc_id}", json={"fullname": "Fixed"})
    assert created.status_code == 201
    assert created.json()["id"] == doc_id
    again = await owner.put(f"/data/{CONTACTS}/{doc_id}", json={"fullname": "Again"})
    assert _answer(again) == _error(
        409, "conflict", "Document update conflict: the document exists; send its _rev"
    )


async def test_delete_accepts_the_revision_in_if_match(owner: httpx.AsyncClient) -> None:
    doc = await _create(owner, {"fullname": "If"})
    response = await owner.delete(
        f"/data/{CONTACTS}/{doc['_id']}", headers={"If-Match": f'"{doc["_rev"]}"'}
    )
    assert response.status_code == 200
    assert response.json()["deleted"] is True


STALE_REV = "1-00000000000000000000000000000000"


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        pytest.param(
            lambda http, doc: http.put(
                f"/data/{CONTACTS}/{doc['_id']}", json={"_rev": STALE_REV, "fullname": "late"}
            ),
            _error(409, "conflict", "Document update conflict: the revision is stale"),
            id="put-stale-rev",
        ),
        pytest.param(
            lambda http, doc: http.delete(
                f"/data/{CONTACTS}/{doc['_id']}", params={"rev": STALE_REV}
            ),
            _error(409, "conflict", "Document update conflict: the revision is stale"),
            id="delete-stale-rev",
        ),
        pytest.param(
            lambda http, doc: http.delete(f"/data/{CONTACTS}/{doc['_id']}"),
            _error(400, "bad_request", "deleting needs the current revision: ?rev= or If-Match"),
            id="delete-without-rev",
        ),
        pytest.param(
            lambda http, doc: http.delete(
                f"/data/{CONTACTS}/{doc['_id']}",
                params={"rev": doc["_rev"]},
                headers={"If-Match": STALE_REV},
            ),
            _error(400, "bad_request", "the rev parameter and the If-Match header differ"),
            id="delete-rev-and-if-match-differ",
        ),
        pytest.param(
            lambda http, doc: http.put(
                f"/data/{CONTACTS}/{doc['_id']}",
                json={"_id": "another", "_rev": doc["_rev"], "fullname": "x"},
            ),
            _error(400, "bad_request", "the _id in the body differs from the id in the URL"),
            id="put-id-differs",
        ),
        pytest.param(
            lambda http, doc: http.put(
                f"/data/{CONTACTS}/{doc['_id']}",
                json={"_rev": doc["_rev"], "_attachments": {}, "fullname": "x"},
            ),
            _error(400, "bad_request", "a document may not carry _attachments"),
            id="put-underscore-field",
        ),
    ],
)
async def test_writes_that_do_not_apply_change_nothing(
    owner: httpx.AsyncClient,
    send: Callable[[httpx.AsyncClient, Json], Awaitable[httpx.Response]],
    expected: tuple[int, Json],
) -> None:
    doc = await _create(owner, {"fullname": "Stays"})
    assert _answer(await send(owner, doc)) == expected
    after = await owner.get(f"/data/{CONTACTS}/{doc['_id']}")
    assert after.json()["_rev"] == doc["_rev"]
    assert after.json()["fullname"] == "Stays"


# -- bodies that are not documents --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content", "content_type", "expected"),
    [
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b'{"fullname": ',
            "application/json",
            _error(
                400,
                "bad_request",
                "the body is not valid JSON: Expecting value: line 1 column 14 (char 13)",
            ),
            id="post-bad-json",
        ),
        pytest.param(
            "PUT",
            f"/data/{CONTACTS}/bad-json",
            b"{'single': 'quotes'}",
            "application/json",
            _error(
                400,
                "bad_request",
                "the body is not valid JSON: Expecting property name enclosed in double quotes:"
                " line 1 column 2 (char 1)",
            ),
            id="put-bad-json",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b"\xff\xfe",
            "application/json",
            None,  # 400 whatever the decoder says
            id="post-not-utf8",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b"",
            "application/json",
            _error(400, "bad_request", "the body is empty; a JSON document was expected"),
            id="post-empty",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b"[1, 2]",
            "application/json",
            _error(400, "bad_request", "the body must be a JSON object"),
            id="post-array",
        ),
        pytest.param(
            "PUT",
            f"/data/{CONTACTS}/a-string",
            b'"just a string"',
            "application/json",
            _error(400, "bad_request", "the body must be a JSON object"),
            id="put-string",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b"fullname=x",
            "application/x-www-form-urlencoded",
            _error(
                415,
                "unsupported_media_type",
                "expected application/json, got application/x-www-form-urlencoded",
            ),
            id="post-form",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b'{"_id": "chosen"}',
            "application/json",
            _error(400, "bad_request", "a new document may not carry _id"),
            id="post-with-_id",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b'{"_rev": "1-abc", "fullname": "x"}',
            "application/json",
            _error(400, "bad_request", "a new document may not carry _rev"),
            id="post-with-_rev",
        ),
        pytest.param(
            "POST",
            f"/data/{CONTACTS}/",
            b'{"_deleted": true, "_attachments": {}}',
            "application/json",
            _error(400, "bad_request", "a new document may not carry _attachments, _deleted"),
            id="post-with-_deleted-and-_attachments",
        ),
        pytest.param(
            "PUT",
            f"/data/{CONTACTS}/with-conflicts",
            b'{"_conflicts": []}',
            "application/json",
            _error(400, "bad_request", "a new document may not carry _conflicts"),
            id="put-create-with-_conflicts",
        ),
        pytest.param(
            "PUT",
            f"/data/{CONTACTS}/_reserved",
            b'{"fullname": "x"}',
            "application/json",
            _error(400, "bad_request", "document ids starting with '_' are reserved by CouchDB"),
            id="put-reserved-id",
        ),
        pytest.param(
            "PUT",
            f"/data/{CONTACTS}/{'x' * 513}",
            b'{"fullname": "x"}',
            "application/json",
            _error(
                400,
                "bad_request",
                "a document id is a non-empty string of at most 512 characters",
            ),
            id="put-id-too-long",
        ),
    ],
)
async def test_a_body_that_is_not_a_document_is_refused(
    owner: httpx.AsyncClient,
    method: str,
    path: str,
    content: bytes,
    content_type: str,
    expected: tuple[int, Json] | None,
) -> None:
    before = await owner.get(f"/data/{CONTACTS}/_all_docs")
    response = await owner.request(
        method, path, content=content, headers={"Content-Type": content_type}
    )
    if expected is None:
        assert response.status_code == 400
        assert response.json()["error"] == "bad_request"
    else:
        assert _answer(response) == expected
    after = await owner.get(f"/data/{CONTACTS}/_all_docs")
    assert after.json()["rows"] == before.json()["rows"]


# -- size limit ---------------------------------------------------------------------------

SMALL_LIMIT = 256


@pytest.fixture(scope="module")
async def small_body_app(config: Config) -> AsyncIterator[Starlette]:
    """An app (its own services) whose max_body_bytes is tiny."""
    small = dataclasses.replace(config, max_body_bytes=SMALL_LIMIT)
    services = Services.build(small, small.couchdb_url or "")
    try:
        yield create_app(small, services=services)
    finally:
        await services.aclose()


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64):
        yield data[start : start + 64]


@pytest.mark.parametrize(
    ("size", "chunked", "expected_status"),
    [
        pytest.param(SMALL_LIMIT - 10, False, 201, id="under-the-limit"),
        pytest.param(SMALL_LIMIT + 1, False, 413, id="over-with-content-length"),
        pytest.param(SMALL_LIMIT + 1, True, 413, id="over-chunked-without-length"),
        pytest.param(10 * SMALL_LIMIT, True, 413, id="far-over-chunked"),
    ],
)
async def test_a_body_over_max_body_bytes_is_413(
    small_body_app: Starlette,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
    size: int,
    chunked: bool,
    expected_status: int,
) -> None:
    instance = await new_instance("small")
    token = await issue_token(instance, ITEMS)
    padding = "x" * (size - len('{"pad": ""}'))
    body = f'{{"pad": "{padding}"}}'.encode()
    assert len(body) == size
    transport = httpx.ASGITransport(app=small_body_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{instance.domain}") as http:
        response = await http.post(
            f"/data/{ITEMS}/",
            content=_stream(body) if chunked else body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        listing = await http.get(
            f"/data/{ITEMS}/_all_docs", headers={"Authorization": f"Bearer {token}"}
        )
    if expected_status == 201:
        assert response.status_code == 201, response.text
        assert len(listing.json()["rows"]) == 1
    else:
        assert _answer(response) == _error(
            413, "payload_too_large", f"the body exceeds the {SMALL_LIMIT}-byte limit"
        )
        assert listing.json()["rows"] == []


# -- doctype names and stack-managed doctypes ----------------------------------------------


@pytest.mark.parametrize(
    ("doctype", "problem"),
    [
        ("contacts", "it needs at least one dot (reverse-DNS, like io.cozy.contacts)"),
        ("IO.Cozy.Contacts", "only lowercase letters a-z, digits, '.' and '_' are allowed"),
        ("io-cozy-contacts", "only lowercase letters a-z, digits, '.' and '_' are allowed"),
        ("io..cozy", "it may not contain two dots in a row"),
        ("io.cozy.contacts.", "it may not start or end with a dot"),
        (".io.cozy", "it may not start or end with a dot"),
        ("io.cozy.*", "wildcards are not allowed here"),
    ],
)
@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda http, d: http.get(f"/data/{d}/some-id"), id="GET"),
        pytest.param(lambda http, d: http.post(f"/data/{d}/", json={"a": 1}), id="POST"),
        pytest.param(lambda http, d: http.post(f"/data/{d}/_find", json={}), id="_find"),
    ],
)
async def test_an_invalid_doctype_name_is_400(
    owner: httpx.AsyncClient,
    services: Services,
    send: Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]],
    doctype: str,
    problem: str,
) -> None:
    before = await stored_databases(services, instance_of(owner))
    response = await send(owner, doctype)
    assert await stored_databases(services, instance_of(owner)) == before
    assert _answer(response) == _error(
        400, "bad_request", f"{doctype!r} is not a valid doctype name: {problem}"
    )


READ_ONLY = "is read-only through this API: it is written through its own API"
UNREADABLE = "is a reserved doctype: it cannot be read through this API"
UNUSABLE = "is a reserved doctype: it cannot be used through this API"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/data/io.cozy.files/", _error(403, "forbidden", f"io.cozy.files {READ_ONLY}")),
        ("PUT", "/data/io.cozy.files/x", _error(403, "forbidden", f"io.cozy.files {READ_ONLY}")),
        (
            "DELETE",
            "/data/io.cozy.files/x?rev=1-a",
            _error(403, "forbidden", f"io.cozy.files {READ_ONLY}"),
        ),
        ("PUT", "/data/io.cozy.jobs/x", _error(403, "forbidden", f"io.cozy.jobs {READ_ONLY}")),
        # Readable: an owner reading a file document that does not exist gets a plain 404.
        ("GET", "/data/io.cozy.files/x", _error(404, "not_found", "missing")),
        (
            "GET",
            "/data/io.cozy.permissions/x",
            _error(403, "forbidden", f"io.cozy.permissions {UNREADABLE}"),
        ),
        (
            "POST",
            "/data/io.cozy.permissions/_find",
            _error(403, "forbidden", f"io.cozy.permissions {UNREADABLE}"),
        ),
        (
            "GET",
            "/data/io.cozy.permissions/_all_docs",
            _error(403, "forbidden", f"io.cozy.permissions {UNREADABLE}"),
        ),
        (
            "POST",
            "/data/io.cozy.permissions/",
            _error(403, "forbidden", f"io.cozy.permissions {UNUSABLE}"),
        ),
        (
            "GET",
            "/data/io.cozy.sessions/x",
            _error(403, "forbidden", f"io.cozy.sessions {UNREADABLE}"),
        ),
    ],
)
async def test_stack_managed_doctypes_are_read_only_or_invisible_even_to_the_owner(
    owner: httpx.AsyncClient,
    services: Services,
    method: str,
    path: str,
    expected: tuple[int, Json],
) -> None:
    instance = instance_of(owner)
    doctype = path.split("/")[2]
    before = await stored_revs(services, instance, doctype)
    body: Json | None = {} if method in ("POST", "PUT") else None
    response = await owner.request(method, path, json=body)
    assert _answer(response) == expected
    assert await stored_revs(services, instance, doctype) == before


async def test_a_real_permission_document_cannot_be_read(
    owner: httpx.AsyncClient, services: Services, issue_token: Callable[..., Awaitable[str]]
) -> None:
    instance = instance_of(owner)
    await issue_token(instance, CONTACTS)
    [permission, *_] = await services.permission_docs.list(instance)
    response = await owner.get(f"/data/io.cozy.permissions/{permission['_id']}")
    assert _answer(response) == _error(403, "forbidden", f"io.cozy.permissions {UNREADABLE}")
    assert permission["_rev"] not in response.text


# -- schemas ------------------------------------------------------------------------------

SCHEMA_VIOLATIONS = [
    pytest.param(CONTACTS, {"fullname": 5}, "fullname", id="contacts-fullname-not-string"),
    pytest.param(
        CONTACTS, {"email": [{"address": "no-at-sign"}]}, "email/0/address", id="contacts-email"
    ),
    pytest.param(CONTACTS, {"name": {"nickname": "x"}}, "name", id="contacts-name-extra-key"),
    pytest.param("io.cozy.bank.accounts", {}, "(document)", id="accounts-label-required"),
    pytest.param(
        "io.cozy.bank.accounts",
        {"label": "Main", "currency": "euro"},
        "currency",
        id="accounts-currency-code",
    ),
    pytest.param(
        "io.cozy.bank.operations",
        {"label": "Rent", "amount": "12.5", "date": "2024-01-31"},
        "amount",
        id="operations-amount-not-number",
    ),
    pytest.param(
        "io.cozy.bank.operations",
        {"label": "Rent", "amount": 12.5, "date": "yesterday"},
        "date",
        id="operations-date-format",
    ),
    pytest.param(
        "io.cozy.bills", {"amount": 10, "date": "2024-01-31"}, "(document)", id="bills-vendor"
    ),
    pytest.param(
        "io.cozy.bills",
        {"amount": 10, "date": "2024-01-31", "vendor": "EDF", "isRefund": "no"},
        "isRefund",
        id="bills-isRefund-not-boolean",
    ),
    pytest.param("io.cozy.photos.albums", {"name": ""}, "name", id="albums-empty-name"),
    pytest.param(
        "io.cozy.photos.albums",
        {"name": "Summer", "period": {"start": "june"}},
        "period/start",
        id="albums-period-start",
    ),
]
VALID_DOCUMENTS: dict[str, Json] = {
    CONTACTS: {"fullname": "Valid", "email": [{"address": "v@example.org"}]},
    "io.cozy.bank.accounts": {"label": "Main", "currency": "EUR"},
    "io.cozy.bank.operations": {"label": "Rent", "amount": -800, "date": "2024-01-31"},
    "io.cozy.bills": {"amount": 10, "date": "2024-01-31T10:00:00Z", "vendor": "EDF"},
    "io.cozy.photos.albums": {"name": "Summer"},
}


@pytest.mark.parametrize(("doctype", "body", "field"), SCHEMA_VIOLATIONS)
async def test_a_schema_violation_is_400_naming_the_field_and_writes_nothing(
    owner: httpx.AsyncClient, doctype: str, body: Json, field: str
) -> None:
    doc_id = f"invalid-{secrets.token_hex(4)}"
    before = await owner.get(f"/data/{doctype}/_all_docs")

    posted = await owner.post(f"/data/{doctype}/", json=body)
    put = await owner.put(f"/data/{doctype}/{doc_id}", json=body)

    for response in (posted, put):
        assert response.status_code == 400
        answer = response.json()
        assert answer["error"] == "invalid_document"
        assert answer["reason"].startswith(f"{doctype} schema: {field}: ")
    assert _answer(await owner.get(f"/data/{doctype}/{doc_id}")) == _error(
        404, "not_found", "missing"
    )
    after = await owner.get(f"/data/{doctype}/_all_docs")
    assert after.json()["rows"] == before.json()["rows"]


@pytest.mark.parametrize(("doctype", "body", "field"), SCHEMA_VIOLATIONS)
async def test_an_update_violating_the_schema_leaves_the_document_as_it_was(
    owner: httpx.AsyncClient, doctype: str, body: Json, field: str
) -> None:
    doc = await _create(owner, VALID_DOCUMENTS[doctype], doctype)
    response = await owner.put(f"/data/{doctype}/{doc['_id']}", json={**body, "_rev": doc["_rev"]})
    assert response.status_code == 400
    assert response.json()["reason"].startswith(f"{doctype} schema: {field}: ")
    after = await owner.get(f"/data/{doctype}/{doc['_id']}")
    assert after.json()["_rev"] == doc["_rev"]


@pytest.mark.parametrize("doctype", list(VALID_DOCUMENTS))
async def test_a_valid_document_of_each_schema_is_accepted(
    owner: httpx.AsyncClient, doctype: str
) -> None:
    doc = await _create(owner, VALID_DOCUMENTS[doctype], doctype)
    assert {key: doc[key] for key in VALID_DOCUMENTS[doctype]} == VALID_DOCUMENTS[doctype]


async def test_an_unknown_well_formed_doctype_is_schemaless(owner: httpx.AsyncClient) -> None:
    body = {"anything": [1, {"goes": None}], "fullname": 5}
    doc = await _create(owner, body, "org.example.scratch")
    fetched = await owner.get(f"/data/org.example.scratch/{doc['_id']}")
    assert fetched.status_code == 200
    assert fetched.json()["anything"] == body["anything"]
    assert fetched.json()["_type"] == "org.example.scratch"


# -- cozyMetadata -------------------------------------------------------------------------


async def test_cozy_metadata_is_stamped_by_the_stack(
    app: Starlette, owner: httpx.AsyncClient, issue_token: Callable[..., Awaitable[str]]
) -> None:
    instance = instance_of(owner)
    # An `app` token: the stack knows which app writes (its slug is the token's subject).
    token = await issue_token(instance, CONTACTS, audience="app")
    headers = {"Authorization": f"Bearer {token}"}
    forged = {"createdAt": "2000-01-01T00:00:00Z", "createdByApp": "forger"}
    created = await owner.post(
        f"/data/{CONTACTS}/", json={"fullname": "M", "cozyMetadata": forged}, headers=headers
    )
    assert created.status_code == 201
    first = created.json()["data"]["cozyMetadata"]
    assert first["createdAt"] != forged["createdAt"]
    assert first["createdAt"] == first["updatedAt"]
    assert first["createdByApp"] == "test"
    assert first["updatedByApps"] == [{"slug": "test", "date": first["createdAt"]}]
    assert first["metadataVersion"] == 1

    doc = created.json()["data"]
    # The owner (no app) updates it later.
    updated = await owner.put(f"/data/{CONTACTS}/{doc['_id']}", json={**doc, "fullname": "M2"})
    assert updated.status_code == 200
    second = updated.json()["data"]["cozyMetadata"]
    assert second["createdAt"] == first["createdAt"]
    assert second["createdByApp"] == "test"
    assert second["updatedAt"] > first["updatedAt"]
    assert second["updatedByApps"] == first["updatedByApps"]

    stored = (await owner.get(f"/data/{CONTACTS}/{doc['_id']}")).json()["cozyMetadata"]
    assert stored == second


async def test_the_owner_writes_without_an_app_slug(owner: httpx.AsyncClient) -> None:
    doc = await _create(owner, {"fullname": "O"})
    metadata = doc["cozyMetadata"]
    assert "createdByApp" not in metadata
    assert metadata["updatedByApps"] == []


# -- _find --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def items(owner: httpx.AsyncClient, services: Services) -> list[str]:
    """ITEM_COUNT documents {n: i, parity: even|odd}, written straight to the store."""
    instance = instance_of(owner)
    docs: list[Json] = [
        {"_id": f"item-{n:04d}", "n": n, "parity": "even" if n % 2 == 0 else "odd"}
        for n in range(ITEM_COUNT)
    ]
    await services.couch.bulk_docs(instance.db(ITEMS), docs)
    index = await owner.post(f"/data/{ITEMS}/_index", json={"index": {"fields": ["n"]}})
    assert index.status_code == 200, index.text
    return [doc["_id"] for doc in docs]


async def _find(http: httpx.AsyncClient, query: Json) -> httpx.Response:
    return await http.post(f"/data/{ITEMS}/_find", json=query)


async def test_find_defaults_to_100_documents_and_says_there_is_more(
    owner: httpx.AsyncClient, items: list[str]
) -> None:
    response = await _find(owner, {"selector": {}})
    assert response.status_code == 200
    body = response.json()
    assert len(body["docs"]) == 100
    assert body["limit"] == 100
    assert body["next"] is True
    assert isinstance(body["bookmark"], str)


async def test_find_accepts_limit_1000(owner: httpx.AsyncClient, items: list[str]) -> None:
    body = (await _find(owner, {"selector": {}, "limit": 1000})).json()
    assert sorted(doc["_id"] for doc in body["docs"]) == items
    assert body["next"] is False
    assert "bookmark" not in body


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        pytest.param({"limit": 1001}, "limit must be an integer from 1 to 1000", id="limit-1001"),
        pytest.param({"limit": 0}, "limit must be an integer from 1 to 1000", id="limit-0"),
        pytest.param({"limit": "10"}, "limit must be an integer from 1 to 1000", id="limit-str"),
        pytest.param({"limit": True}, "limit must be an integer from 1 to 1000", id="limit-bool"),
        pytest.param({"skip": -1}, "skip must be a non-negative integer", id="skip-negative"),
        pytest.param({"bookmark": "not-ours"}, "invalid bookmark", id="bookmark-garbage"),
        pytest.param({"bookmark": 12}, "invalid bookmark", id="bookmark-number"),
        pytest.param({"selector": []}, "selector must be a JSON object", id="selector-list"),
        pytest.param({"fields": "n"}, "fields must be a list of field names", id="fields-str"),
        pytest.param(
            {"sort": "n"},
            "sort must be a list of field names or {field: asc|desc}",
            id="sort-str",
        ),
        pytest.param({"group_by": "n"}, "unsupported _find keys: group_by", id="unknown-key"),
    ],
)
async def test_find_refuses_malformed_queries(
    owner: httpx.AsyncClient, items: list[str], query: Json, reason: str
) -> None:
    response = await _find(owner, {"selector": {}, **query})
    assert _answer(response) == _error(400, "bad_request", reason)


async def test_find_passes_the_stores_own_refusal_as_400(
    owner: httpx.AsyncClient, items: list[str]
) -> None:
    response = await _find(owner, {"selector": {"n": {"$in": 5}}})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    ("selector", "limit", "page_sizes"),
    [
        pytest.param({}, 100, [100, 100, 50], id="250-by-100"),
        pytest.param({"n": {"$lt": 200}}, 100, [100, 100], id="exact-multiple"),
        pytest.param({"parity": "odd"}, 40, [40, 40, 40, 5], id="filtered-by-40"),
        pytest.param({"n": {"$gte": 1000}}, 10, [0], id="empty"),
    ],
)
async def test_bookmarks_walk_every_page_exactly_once(
    owner: httpx.AsyncClient,
    items: list[str],
    selector: Json,
    limit: int,
    page_sizes: list[int],
) -> None:
    seen: list[str] = []
    sizes: list[int] = []
    query: Json = {"selector": selector, "limit": limit}
    while True:
        body = (await _find(owner, query)).json()
        sizes.append(len(body["docs"]))
        seen += [doc["_id"] for doc in body["docs"]]
        if not body["next"]:
            assert "bookmark" not in body
            break
        query = {"selector": selector, "limit": limit, "bookmark": body["bookmark"]}
    assert sizes == page_sizes
    assert len(seen) == len(set(seen)) == sum(page_sizes)


async def test_sorted_pages_continue_in_order(owner: httpx.AsyncClient, items: list[str]) -> None:
    query: Json = {"selector": {"n": {"$gte": 0}}, "sort": [{"n": "desc"}], "limit": 70}
    numbers: list[int] = []
    while True:
        body = (await _find(owner, query)).json()
        numbers += [doc["n"] for doc in body["docs"]]
        if not body["next"]:
            break
        query = {**query, "bookmark": body["bookmark"]}
    assert numbers == list(reversed(range(ITEM_COUNT)))


async def test_skip_and_bookmark_add_up(owner: httpx.AsyncClient, items: list[str]) -> None:
    query: Json = {"selector": {"n": {"$gte": 0}}, "sort": ["n"], "skip": 10, "limit": 5}
    first = (await _find(owner, query)).json()
    second = (await _find(owner, {**query, "bookmark": first["bookmark"]})).json()
    assert [doc["n"] for doc in first["docs"]] == [10, 11, 12, 13, 14]
    assert [doc["n"] for doc in second["docs"]] == [15, 16, 17, 18, 19]


async def test_find_returns_only_the_asked_fields(
    owner: httpx.AsyncClient, items: list[str]
) -> None:
    query = {"selector": {"n": {"$lt": 3}}, "fields": ["n"], "sort": ["n"]}
    body = (await _find(owner, query)).json()
    assert body["docs"] == [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"fields": ["n"]}, 'the body must be {"index": {"fields": [...]}}', id="flat"),
        pytest.param(
            {"index": {"fields": []}},
            'index.fields must be a non-empty list of field names or {"field": "asc"|"desc"}',
            id="no-fields",
        ),
        pytest.param(
            {"index": {"fields": [1]}},
            'index.fields must be a non-empty list of field names or {"field": "asc"|"desc"}',
            id="number-field",
        ),
        pytest.param(
            {"index": {"fields": [{"n": "sideways"}]}},
            'index.fields must be a non-empty list of field names or {"field": "asc"|"desc"}',
            id="bad-direction",
        ),
        pytest.param(
            {"index": {"fields": ["n"], "partial_filter_selector": 3}},
            "index.partial_filter_selector must be a JSON object",
            id="partial-filter-not-object",
        ),
        pytest.param(
            {"index": {"fields": ["n"]}, "name": 5}, "name must be a non-empty string", id="name"
        ),
    ],
)
async def test_index_refuses_malformed_definitions(
    owner: httpx.AsyncClient, body: Json, reason: str
) -> None:
    response = await owner.post(f"/data/{ITEMS}/_index", json=body)
    assert _answer(response) == _error(400, "bad_request", reason)


async def test_index_is_idempotent(owner: httpx.AsyncClient, items: list[str]) -> None:
    body = {"index": {"fields": ["parity"]}, "name": "by-parity", "ddoc": "by-parity"}
    first = await owner.post(f"/data/{ITEMS}/_index", json=body)
    second = await owner.post(f"/data/{ITEMS}/_index", json=body)
    assert first.status_code == second.status_code == 200
    assert first.json()["name"] == "by-parity"
    assert second.json()["result"] == "exists"


# -- _all_docs, _all_doctypes -------------------------------------------------------------


async def test_all_docs_pages_with_limit_skip_and_keys(
    owner: httpx.AsyncClient, items: list[str]
) -> None:
    page = await owner.get(
        f"/data/{ITEMS}/_all_docs",
        params={"limit": "3", "skip": "1", "startkey": '"item-"', "include_docs": "true"},
    )
    assert page.status_code == 200
    rows = page.json()["rows"]
    assert [row["id"] for row in rows] == items[1:4]
    assert [row["doc"]["n"] for row in rows] == [1, 2, 3]

    by_keys = await owner.post(
        f"/data/{ITEMS}/_all_docs", json={"keys": ["item-0007", "no-such-item"]}
    )
    assert by_keys.status_code == 200
    rows = by_keys.json()["rows"]
    assert rows[0]["id"] == "item-0007"
    assert rows[1] == {"key": "no-such-item", "error": "not_found"}


async def test_all_docs_of_a_doctype_never_written_is_empty(owner: httpx.AsyncClient) -> None:
    response = await owner.get("/data/org.example.never/_all_docs")
    assert _answer(response) == (200, {"total_rows": 0, "offset": 0, "rows": []})


@pytest.mark.parametrize(
    ("method", "params", "body", "reason"),
    [
        ("GET", {"keys": "[1]"}, None, "keys must be a list of document ids"),
        ("GET", {"keys": "nope"}, None, "keys must be JSON-encoded"),
        ("POST", {}, {"keys": "item-0001"}, "keys must be a list of document ids"),
        ("POST", {}, [1], "the body must be a JSON object"),
        ("GET", {"limit": "-1"}, None, "limit must be at least 0"),
        ("GET", {"limit": "ten"}, None, "limit must be an integer"),
        ("GET", {"startkey": "5"}, None, "startkey must be a JSON string"),
        ("GET", {"include_docs": "yes"}, None, "include_docs must be true or false"),
    ],
)
async def test_all_docs_refuses_malformed_parameters(
    owner: httpx.AsyncClient,
    method: str,
    params: dict[str, str],
    body: Any,
    reason: str,
) -> None:
    response = await owner.request(method, f"/data/{ITEMS}/_all_docs", params=params, json=body)
    assert _answer(response) == _error(400, "bad_request", reason)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"open_revs": "nope"}, 'open_revs must be "all" or a JSON list of revisions'),
        ({"open_revs": "[1]"}, 'open_revs must be "all" or a JSON list of revisions'),
        ({"revs": "maybe"}, "revs must be true or false"),
        ({"conflicts": "1"}, "conflicts must be true or false"),
    ],
)
async def test_get_refuses_malformed_parameters(
    owner: httpx.AsyncClient, params: dict[str, str], reason: str
) -> None:
    doc = await _create(owner, {"fullname": "P"})
    response = await owner.get(f"/data/{CONTACTS}/{doc['_id']}", params=params)
    assert _answer(response) == _error(400, "bad_request", reason)


async def test_all_doctypes_lists_what_was_written_and_hides_reserved_ones(
    owner: httpx.AsyncClient, items: list[str]
) -> None:
    await _create(owner, {"fullname": "D"})
    response = await owner.get("/data/_all_doctypes")
    assert response.status_code == 200
    doctypes = response.json()
    assert {CONTACTS, ITEMS} <= set(doctypes)
    # The login above opened a session: io.cozy.sessions exists but is never listed.
    assert "io.cozy.sessions" not in doctypes
    assert doctypes == sorted(doctypes)
