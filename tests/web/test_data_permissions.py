"""Who may do what on `/data`: every route and every kind of credential.

The rules are cozy-stack's per-route table (research/cozy-stack.md §2.7), with Roost's one
correction: `?revs=true` and `open_revs` are permission-checked like any other read. A
document the caller may not read answers exactly like a document that does not exist.

Credentials tried on every route:

| id                   | what it is                                                      |
|----------------------|-----------------------------------------------------------------|
| no-token             | no Authorization header, no session cookie                      |
| other-instance       | a valid whole-doctype token of another instance                 |
| expired              | a whole-doctype token whose `exp` is an hour past               |
| tampered             | a whole-doctype token whose payload was edited after signing    |
| alg-none             | the same claims, re-sent with `{"alg": "none"}` and no signature|
| lacking-verb         | every verb on the doctype except the one the route needs        |
| other-doctype        | every verb, on another doctype                                  |
| id-restricted        | every verb, on the target document's id only                    |
| selector-restricted  | every verb, on contacts whose `groups` contain `family`         |
| whole-doctype        | every verb on the whole doctype                                 |
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from roost.couch import CouchClient
from roost.instances import Instance
from roost.permissions import PermissionSet, issue_token
from roost.services import Services

CONTACTS = "io.cozy.contacts"
DOCTYPES = "io.cozy.doctypes"
ALL_VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")

Json = dict[str, Any]
IssueToken = Callable[..., Awaitable[str]]


# -- the world every test runs in ---------------------------------------------------------


@dataclass
class World:
    services: Services
    issue_token: IssueToken
    instance: Instance
    other: Instance

    async def seed(self, groups: list[str], note: str, doc_id: str | None = None) -> Json:
        """A contact written straight through the document service (not under test here)."""
        documents = self.services.documents
        doc = documents.prepare_new(
            CONTACTS,
            {"fullname": f"{note} person", "groups": groups, "note": note},
            app_slug=None,
            doc_id=doc_id,
        )
        return await documents.save(self.instance, CONTACTS, doc)

    async def whole_type_token(self, instance: Instance | None = None) -> str:
        return await self.issue_token(instance or self.instance, CONTACTS)


@pytest.fixture(scope="module")
async def world(
    services: Services, issue_token: IssueToken, new_instance: Callable[..., Awaitable[Instance]]
) -> World:
    return World(services, issue_token, await new_instance("perm"), await new_instance("other"))


@pytest.fixture
async def http(app: Starlette, world: World) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://{world.instance.domain}"
    ) as client:
        yield client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> Json:
    payload = token.split(".")[1]
    claims: Json = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


async def _expired_token(world: World) -> str:
    permission = await world.services.permission_docs.create(
        world.instance, "cli", PermissionSet.from_inline(CONTACTS)
    )
    return issue_token(
        secret=world.instance.secret,
        audience="cli",
        issuer=world.instance.domain,
        subject="test",
        stamp=world.instance.stamp,
        ttl=timedelta(hours=1),
        permission_id=permission["_id"],
        now=datetime.now(UTC) - timedelta(hours=2),
    )


async def _tampered_token(world: World) -> str:
    header, _, signature = (await world.whole_type_token()).split(".")
    claims = _claims(f"{header}.{_}.{signature}")
    claims["sub"] = "someone-else"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


async def _alg_none_token(world: World) -> str:
    claims = _claims(await world.whole_type_token())
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


async def _scoped(world: World, scope: str) -> str:
    return await world.issue_token(world.instance, scope)


async def credential(world: World, kind: str, route: Route, target_id: str) -> dict[str, str]:
    """The Authorization header of one kind of credential, for one route and target doc."""
    doctype = route.doctype
    if kind == "no-token":
        return {}
    if kind == "other-instance":
        token = await world.whole_type_token(world.other)
    elif kind == "expired":
        token = await _expired_token(world)
    elif kind == "tampered":
        token = await _tampered_token(world)
    elif kind == "alg-none":
        token = await _alg_none_token(world)
    elif kind == "lacking-verb":
        others = ",".join(verb for verb in ALL_VERBS if verb != route.verb)
        token = await _scoped(world, f"{doctype}:{others}")
    elif kind == "other-doctype":
        token = await _scoped(world, "io.cozy.bills")
    elif kind == "id-restricted":
        token = await _scoped(world, f"{doctype}:ALL:{target_id}")
    elif kind == "selector-restricted":
        token = await _scoped(world, f"{doctype}:ALL:family:groups")
    elif kind == "whole-doctype":
        token = await _scoped(world, doctype)
    else:  # pragma: no cover - a typo in a table
        raise AssertionError(kind)
    return {"Authorization": f"Bearer {token}"}


# -- the routes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The document a route is aimed at: `id` (and `rev`) of an existing or missing doc."""

    id: str
    rev: str


Send = Callable[[httpx.AsyncClient, dict[str, str], Target], Awaitable[httpx.Response]]
Expect = Callable[[httpx.Response, Target], None]


@dataclass(frozen=True)
class Route:
    name: str
    verb: str  # the verb a permission must grant
    send: Send
    succeeded: Expect
    doctype: str = CONTACTS

    def __str__(self) -> str:
        return self.name


def _doc_url(target: Target) -> str:
    return f"/data/{CONTACTS}/{target.id}"


def _family_body(target: Target, **extra: Any) -> Json:
    return {"fullname": "family person", "groups": ["family"], **extra}


def _got_family_doc(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["_id"] == target.id
    assert body["_rev"] == target.rev
    assert body["note"] == "family"
    assert body["_type"] == CONTACTS


def _got_head(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200
    assert response.content == b""


def _got_revisions(response: httpx.Response, target: Target) -> None:
    _got_family_doc(response, target)
    revisions = response.json()["_revisions"]
    assert revisions["start"] == 1
    assert revisions["ids"] == [target.rev.split("-", 1)[1]]


def _got_open_revs(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    [entry] = response.json()
    assert entry["ok"]["_id"] == target.id
    assert entry["ok"]["_rev"] == target.rev
    assert entry["ok"]["note"] == "family"


def _updated(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == target.id
    assert body["ok"] is True
    assert body["rev"].startswith("2-")
    assert body["data"]["note"] == "updated"


def _created(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["type"] == CONTACTS
    assert body["rev"].startswith("1-")
    assert body["data"]["groups"] == ["family"]


def _created_with_id(response: httpx.Response, target: Target) -> None:
    _created(response, target)
    assert response.json()["id"] == target.id


def _deleted(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "id": target.id,
        "rev": body["rev"],
        "type": CONTACTS,
        "ok": True,
        "deleted": True,
    }
    assert body["rev"].startswith("2-")


def _found(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert [doc["_id"] for doc in body["docs"]] == [target.id]
    assert body["next"] is False


def _indexed(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["result"] in ("created", "exists")


def _listed(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert target.id in [row["id"] for row in rows]


def _listed_by_key(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    assert row["id"] == target.id
    assert row["value"]["rev"] == target.rev


def _listed_doctypes(response: httpx.Response, target: Target) -> None:
    assert response.status_code == 200, response.text
    doctypes = response.json()
    assert CONTACTS in doctypes
    # Tokens were issued, so the permissions database exists: it is never listed.
    assert "io.cozy.permissions" not in doctypes
    assert doctypes == sorted(doctypes)


ROUTES = [
    Route(
        "GET doc",
        "GET",
        lambda c, h, t: c.get(_doc_url(t), headers=h),
        _got_family_doc,
    ),
    Route(
        "HEAD doc",
        "GET",
        lambda c, h, t: c.head(_doc_url(t), headers=h),
        _got_head,
    ),
    Route(
        "GET doc?revs=true",
        "GET",
        lambda c, h, t: c.get(_doc_url(t), params={"revs": "true"}, headers=h),
        _got_revisions,
    ),
    Route(
        "GET doc?open_revs=all",
        "GET",
        lambda c, h, t: c.get(_doc_url(t), params={"open_revs": "all"}, headers=h),
        _got_open_revs,
    ),
    Route(
        "GET doc?open_revs=[rev]",
        "GET",
        lambda c, h, t: c.get(_doc_url(t), params={"open_revs": json.dumps([t.rev])}, headers=h),
        _got_open_revs,
    ),
    Route(
        "PUT doc (update)",
        "PUT",
        lambda c, h, t: c.put(
            _doc_url(t), json=_family_body(t, _rev=t.rev, note="updated"), headers=h
        ),
        _updated,
    ),
    Route(
        "PUT doc (create with id)",
        "POST",
        lambda c, h, t: c.put(_doc_url(Target(f"new-{t.id}", "")), json=_family_body(t), headers=h),
        lambda r, t: _created_with_id(r, Target(f"new-{t.id}", "")),
    ),
    Route(
        "POST doc",
        "POST",
        lambda c, h, t: c.post(f"/data/{CONTACTS}/", json=_family_body(t), headers=h),
        _created,
    ),
    Route(
        "DELETE doc",
        "DELETE",
        lambda c, h, t: c.delete(_doc_url(t), params={"rev": t.rev}, headers=h),
        _deleted,
    ),
    Route(
        "POST _find",
        "GET",
        lambda c, h, t: c.post(
            f"/data/{CONTACTS}/_find", json={"selector": {"_id": t.id}}, headers=h
        ),
        _found,
    ),
    Route(
        "POST _index",
        "GET",
        lambda c, h, t: c.post(
            f"/data/{CONTACTS}/_index", json={"index": {"fields": ["note"]}}, headers=h
        ),
        _indexed,
    ),
    Route(
        "GET _all_docs",
        "GET",
        lambda c, h, t: c.get(f"/data/{CONTACTS}/_all_docs", headers=h),
        _listed,
    ),
    Route(
        "POST _all_docs",
        "GET",
        lambda c, h, t: c.post(f"/data/{CONTACTS}/_all_docs", json={"keys": [t.id]}, headers=h),
        _listed_by_key,
    ),
    Route(
        "GET _all_doctypes",
        "GET",
        lambda c, h, t: c.get("/data/_all_doctypes", headers=h),
        _listed_doctypes,
        doctype=DOCTYPES,
    ),
]
ROUTE_BY_NAME = {route.name: route for route in ROUTES}


def _error(status: int, error: str, reason: str) -> tuple[int, Json]:
    return status, {"error": error, "reason": reason}


# -- 1. credentials that are not valid for this instance: 401 on every route --------------

REFUSED_CREDENTIALS = {
    "no-token": _error(
        401,
        "unauthorized",
        "authentication required: a session, a Bearer token or an app password",
    ),
    # Signed with another instance's secret: the signature is what fails first.
    "other-instance": _error(401, "unauthorized", "invalid token: bad signature"),
    "expired": _error(401, "unauthorized", "invalid token: expired"),
    "tampered": _error(401, "unauthorized", "invalid token: bad signature"),
    "alg-none": _error(401, "unauthorized", "invalid token: bad signature"),
}


@pytest.mark.parametrize("kind", list(REFUSED_CREDENTIALS))
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_invalid_credentials_are_refused_with_401(
    http: httpx.AsyncClient, world: World, route: Route, kind: str
) -> None:
    doc = await world.seed(["family"], "family")
    target = Target(doc["_id"], doc["_rev"])
    headers = await credential(world, kind, route, target.id)

    response = await route.send(http, headers, target)

    status, body = REFUSED_CREDENTIALS[kind]
    assert response.status_code == status
    if route.name != "HEAD doc":
        assert response.json() == body
        assert "family person" not in response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="roost"'
    # Nothing was written or removed.
    assert await world.services.documents.get(world.instance, CONTACTS, target.id) == doc


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        pytest.param("Bearer not.a.jwt", "invalid token: malformed", id="bearer-garbage"),
        pytest.param("Bearer", "unsupported authorization scheme 'Bearer'", id="bearer-empty"),
        pytest.param("Token abc", "unsupported authorization scheme 'Token'", id="other-scheme"),
        pytest.param("Basic !!!", "malformed Basic credentials", id="basic-not-base64"),
        pytest.param(_basic("user", ""), "malformed Basic credentials", id="basic-no-password"),
        pytest.param(
            _basic("user", "roost-ap-0123456789abcdef-guess"),
            "invalid app password",
            id="basic-guessed-app-password",
        ),
        pytest.param(
            _basic("user", "not.a.jwt"), "invalid token: malformed", id="basic-garbage-token"
        ),
    ],
)
async def test_malformed_credentials_are_401(
    http: httpx.AsyncClient, world: World, authorization: str, reason: str
) -> None:
    doc = await world.seed(["family"], "family")
    response = await http.get(
        _doc_url(Target(doc["_id"], "")), headers={"Authorization": authorization}
    )
    assert (response.status_code, response.json()) == (
        401,
        {"error": "unauthorized", "reason": reason},
    )


async def test_a_token_works_as_a_basic_password(http: httpx.AsyncClient, world: World) -> None:
    doc = await world.seed(["family"], "family")
    token = await world.whole_type_token()
    response = await http.get(
        _doc_url(Target(doc["_id"], "")), headers={"Authorization": _basic("anyone", token)}
    )
    assert response.status_code == 200
    assert response.json()["_id"] == doc["_id"]


# -- 2. valid tokens with some scope: the per-route table ---------------------------------

OK = (200, None)  # the route's own success check applies (201 for creations)


def _no_verb(verb: str, doctype: str = CONTACTS) -> tuple[int, Json]:
    """Single-document routes refuse at once a token with no rule for this verb/doctype."""
    return _error(403, "forbidden", f"no {verb} permission on {doctype}")


def _not_this_doc(verb: str) -> tuple[int, Json]:
    return _error(403, "forbidden", f"no {verb} permission on this {CONTACTS} document")


def _needs_whole(verb: str = "GET", doctype: str = CONTACTS) -> tuple[int, Json]:
    return _error(
        403,
        "forbidden",
        f"{verb} on every {doctype} document needs a permission on the whole doctype",
    )


def _whole_lacking_verb(doctype: str = CONTACTS) -> tuple[int, Json]:
    return _error(403, "forbidden", f"no GET permission on {doctype}")


def _whole_other_doctype(doctype: str = CONTACTS) -> tuple[int, Json]:
    return _error(403, "forbidden", f"no GET permission on {doctype}")


SCOPED_KINDS = (
    "lacking-verb",
    "other-doctype",
    "id-restricted",
    "selector-restricted",
    "whole-doctype",
)
# The target of single-document routes is a contact with groups=["family"]; the
# id-restricted token names exactly that id.
SCOPED_TABLE: dict[str, tuple[tuple[int, Json | None], ...]] = {
    # route:                    lacking-verb       other-doctype      id-restricted  selector  whole
    "GET doc": (_no_verb("GET"), _no_verb("GET"), OK, OK, OK),
    "HEAD doc": (_no_verb("GET"), _no_verb("GET"), OK, OK, OK),
    "GET doc?revs=true": (_no_verb("GET"), _no_verb("GET"), OK, OK, OK),
    "GET doc?open_revs=all": (_no_verb("GET"), _no_verb("GET"), OK, OK, OK),
    "GET doc?open_revs=[rev]": (_no_verb("GET"), _no_verb("GET"), OK, OK, OK),
    "PUT doc (update)": (_no_verb("PUT"), _no_verb("PUT"), OK, OK, OK),
    # The id-restricted token names the existing doc, not the new id: refused.
    "PUT doc (create with id)": (
        _no_verb("POST"),
        _no_verb("POST"),
        _not_this_doc("POST"),
        OK,
        OK,
    ),
    # A new doc gets a random id, which no id-restricted token can name.
    "POST doc": (_no_verb("POST"), _no_verb("POST"), _not_this_doc("POST"), OK, OK),
    "DELETE doc": (_no_verb("DELETE"), _no_verb("DELETE"), OK, OK, OK),
    # Queries need GET on the whole doctype, whatever their HTTP method.
    "POST _find": (
        _whole_lacking_verb(),
        _whole_other_doctype(),
        _needs_whole(),
        _needs_whole(),
        OK,
    ),
    "POST _index": (
        _whole_lacking_verb(),
        _whole_other_doctype(),
        _needs_whole(),
        _needs_whole(),
        OK,
    ),
    # `_all_docs` is also a replication endpoint (DESIGN §8): a listing needs GET on the
    # whole doctype, but a restricted token may ask for given `keys` and sees only what it
    # may read (a forbidden key answers like a missing one, see below).
    "GET _all_docs": (
        _no_verb("GET"),
        _no_verb("GET"),
        _needs_whole(),
        _needs_whole(),
        OK,
    ),
    "POST _all_docs": (_no_verb("GET"), _no_verb("GET"), OK, OK, OK),
    # Needs GET on the whole io.cozy.doctypes; the scopes of this row are on io.cozy.doctypes.
    "GET _all_doctypes": (
        _whole_lacking_verb(DOCTYPES),
        _whole_other_doctype(DOCTYPES),
        _needs_whole("GET", DOCTYPES),
        _needs_whole("GET", DOCTYPES),
        OK,
    ),
}
SCOPED_CASES = [
    pytest.param(ROUTE_BY_NAME[name], kind, expected, id=f"{name}-{kind}")
    for name, row in SCOPED_TABLE.items()
    for kind, expected in zip(SCOPED_KINDS, row, strict=True)
]


def test_the_table_covers_every_route() -> None:
    assert set(SCOPED_TABLE) == set(ROUTE_BY_NAME)


@pytest.mark.parametrize(("route", "kind", "expected"), SCOPED_CASES)
async def test_scoped_tokens_get_exactly_what_their_scope_allows(
    http: httpx.AsyncClient,
    world: World,
    route: Route,
    kind: str,
    expected: tuple[int, Json | None],
) -> None:
    doc = await world.seed(["family"], "family")
    target = Target(doc["_id"], doc["_rev"])
    headers = await credential(world, kind, route, target.id)

    response = await route.send(http, headers, target)

    status, body = expected
    if body is None:
        route.succeeded(response, target)
        return
    assert response.status_code == status
    if route.name != "HEAD doc":
        assert response.json() == body
        assert "family person" not in response.text
    # A refused write changed nothing.
    assert await world.services.documents.get(world.instance, CONTACTS, target.id) == doc


# -- 3. forbidden documents answer exactly like missing ones -------------------------------

MISSING = {"error": "not_found", "reason": "missing"}
TARGETED_ROUTES = [
    ROUTE_BY_NAME[name]
    for name in (
        "GET doc",
        "HEAD doc",
        "GET doc?revs=true",
        "GET doc?open_revs=all",
        "GET doc?open_revs=[rev]",
        "PUT doc (update)",
        "DELETE doc",
    )
]


@pytest.mark.parametrize("kind", ["id-restricted", "selector-restricted"])
@pytest.mark.parametrize("route", TARGETED_ROUTES, ids=str)
async def test_a_forbidden_document_looks_missing(
    http: httpx.AsyncClient, world: World, route: Route, kind: str
) -> None:
    allowed = await world.seed(["family"], "family")
    forbidden = await world.seed(["work"], "work secret")
    # The id-restricted token names only the allowed doc; the selector one matches only it.
    headers = await credential(world, kind, route, allowed["_id"])

    on_forbidden = await route.send(http, headers, Target(forbidden["_id"], forbidden["_rev"]))
    on_missing = await route.send(
        http, headers, Target(f"missing-{secrets.token_hex(4)}", forbidden["_rev"])
    )

    assert on_forbidden.status_code == on_missing.status_code
    assert on_forbidden.headers["content-type"] == on_missing.headers["content-type"]
    assert on_forbidden.content == on_missing.content
    if route.name == "GET doc?open_revs=[rev]":
        # CouchDB answers a list of revisions for any id, each `missing` when absent.
        assert on_forbidden.json() == [{"missing": forbidden["_rev"]}]
    elif route.name != "HEAD doc":
        assert on_forbidden.status_code == 404
        assert on_forbidden.json() == MISSING
    else:
        assert on_forbidden.status_code == 404
    assert "work secret" not in on_forbidden.text
    stored = await world.services.documents.get(world.instance, CONTACTS, forbidden["_id"])
    assert stored == forbidden


async def _move_to_work(world: World, doc: Json) -> Json:
    """The owner moves a family contact to the work group (a second revision)."""
    documents = world.services.documents
    update = documents.prepare_update(
        CONTACTS, doc["_id"], {**doc, "groups": ["work"]}, doc, app_slug=None
    )
    return await documents.save(world.instance, CONTACTS, update)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(lambda rev: {"rev": rev}, id="rev=old"),
        pytest.param(lambda rev: {"rev": rev, "revs": "true"}, id="rev=old&revs=true"),
        pytest.param(lambda rev: {"open_revs": json.dumps([rev])}, id="open_revs=[old]"),
    ],
)
async def test_an_old_revision_is_hidden_once_the_document_left_the_selector(
    http: httpx.AsyncClient, world: World, params: Callable[[str], dict[str, str]]
) -> None:
    old = await world.seed(["family"], "family")
    await _move_to_work(world, dict(old))
    headers = await credential(world, "selector-restricted", ROUTE_BY_NAME["GET doc"], "")

    response = await http.get(
        _doc_url(Target(old["_id"], "")), params=params(old["_rev"]), headers=headers
    )

    if "open_revs" in params(""):
        # What CouchDB answers for a revision of an id it does not hold.
        assert response.json() == [{"missing": old["_rev"]}]
    else:
        assert response.status_code == 404
        assert response.json() == MISSING


async def test_a_document_that_left_the_selector_replicates_as_a_deletion(
    http: httpx.AsyncClient, world: World
) -> None:
    """A replica must learn that a document left its view: `open_revs=all` shows a
    deletion stub of the current revision, and nothing of its content."""
    old = await world.seed(["family"], "family")
    moved = await _move_to_work(world, dict(old))
    headers = await credential(world, "selector-restricted", ROUTE_BY_NAME["GET doc"], "")

    response = await http.get(
        _doc_url(Target(old["_id"], "")), params={"open_revs": "all"}, headers=headers
    )

    assert response.status_code == 200
    assert response.json() == [{"ok": {"_id": old["_id"], "_rev": moved["_rev"], "_deleted": True}}]


async def test_a_document_never_in_the_selector_is_missing_from_open_revs(
    http: httpx.AsyncClient, world: World
) -> None:
    never = await world.seed(["work"], "work secret")
    headers = await credential(world, "selector-restricted", ROUTE_BY_NAME["GET doc"], "")

    response = await http.get(
        _doc_url(Target(never["_id"], "")), params={"open_revs": "all"}, headers=headers
    )

    assert (response.status_code, response.json()) == (404, MISSING)


@pytest.mark.parametrize("kind", ["id-restricted", "selector-restricted"])
async def test_all_docs_by_keys_shows_a_forbidden_key_as_missing(
    http: httpx.AsyncClient, world: World, kind: str
) -> None:
    allowed = await world.seed(["family"], "family")
    forbidden = await world.seed(["work"], "work secret")
    missing_id = f"missing-{secrets.token_hex(4)}"
    headers = await credential(world, kind, ROUTE_BY_NAME["POST _all_docs"], allowed["_id"])

    response = await http.post(
        f"/data/{CONTACTS}/_all_docs",
        params={"include_docs": "true"},
        json={"keys": [allowed["_id"], forbidden["_id"], missing_id]},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    first, second, third = response.json()["rows"]
    assert first["id"] == allowed["_id"]
    assert first["doc"]["note"] == "family"
    assert second == {"key": forbidden["_id"], "error": "not_found"}
    assert third == {"key": missing_id, "error": "not_found"}
    assert "work secret" not in response.text


async def test_a_whole_doctype_token_reads_an_old_revision(
    http: httpx.AsyncClient, world: World
) -> None:
    old = await world.seed(["family"], "family")
    await _move_to_work(world, dict(old))
    headers = await credential(world, "whole-doctype", ROUTE_BY_NAME["GET doc"], "")

    by_rev = await http.get(
        _doc_url(Target(old["_id"], "")), params={"rev": old["_rev"]}, headers=headers
    )
    by_open_revs = await http.get(
        _doc_url(Target(old["_id"], "")),
        params={"open_revs": json.dumps([old["_rev"]])},
        headers=headers,
    )

    assert by_rev.status_code == 200
    assert by_rev.json()["groups"] == ["family"]
    assert by_open_revs.status_code == 200
    assert [entry["ok"]["groups"] for entry in by_open_revs.json()] == [["family"]]


# -- 4. a selector or id grant cannot be stretched by a write ------------------------------


@pytest.mark.parametrize(
    ("kind", "send", "expected"),
    [
        pytest.param(
            "selector-restricted",
            lambda c, h, doc: c.put(
                f"/data/{CONTACTS}/{doc['_id']}",
                json={"_rev": doc["_rev"], "fullname": "moved", "groups": ["work"]},
                headers=h,
            ),
            _not_this_doc("PUT"),
            id="selector-update-out-of-the-selector",
        ),
        pytest.param(
            "selector-restricted",
            lambda c, h, doc: c.post(f"/data/{CONTACTS}/", json={"groups": ["work"]}, headers=h),
            _not_this_doc("POST"),
            id="selector-create-outside-the-selector",
        ),
        pytest.param(
            "selector-restricted",
            lambda c, h, doc: c.put(
                f"/data/{CONTACTS}/fresh-{doc['_id']}", json={"groups": ["work"]}, headers=h
            ),
            _not_this_doc("POST"),
            id="selector-create-with-id-outside-the-selector",
        ),
        pytest.param(
            "id-restricted",
            lambda c, h, doc: c.put(
                f"/data/{CONTACTS}/fresh-{doc['_id']}", json={"groups": ["family"]}, headers=h
            ),
            _not_this_doc("POST"),
            id="id-create-another-id",
        ),
    ],
)
async def test_a_restricted_write_cannot_leave_its_grant(
    http: httpx.AsyncClient,
    world: World,
    kind: str,
    send: Callable[[httpx.AsyncClient, dict[str, str], Json], Awaitable[httpx.Response]],
    expected: tuple[int, Json],
) -> None:
    doc = await world.seed(["family"], "family")
    headers = await credential(world, kind, ROUTE_BY_NAME["PUT doc (update)"], doc["_id"])

    response = await send(http, headers, doc)

    assert (response.status_code, response.json()) == expected
    assert await world.services.documents.get(world.instance, CONTACTS, doc["_id"]) == doc
    missing = await world.services.documents.get_or_none(
        world.instance, CONTACTS, f"fresh-{doc['_id']}"
    )
    assert missing is None


async def test_an_id_restricted_token_creates_the_id_it_names(
    http: httpx.AsyncClient, world: World
) -> None:
    doc_id = f"named-{secrets.token_hex(4)}"
    headers = await credential(world, "id-restricted", ROUTE_BY_NAME["PUT doc (update)"], doc_id)

    response = await http.put(f"/data/{CONTACTS}/{doc_id}", json={"fullname": "N"}, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["id"] == doc_id


# -- 5. revocation ------------------------------------------------------------------------

REVOKED = {"error": "unauthorized", "reason": "invalid token: it has been revoked"}


async def _poll_until_refused(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], seconds: float = 5.0
) -> httpx.Response:
    """Poll until the token is refused; the cache may keep it alive for cache_ttl_seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        response = await http.get(url, headers=headers)
        if response.status_code != 200 or loop.time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_deleting_the_permission_document_revokes_the_token(
    http: httpx.AsyncClient, world: World, config: Any
) -> None:
    doc = await world.seed(["family"], "family")
    token = await world.whole_type_token()
    headers = {"Authorization": f"Bearer {token}"}
    url = _doc_url(Target(doc["_id"], ""))
    assert (await http.get(url, headers=headers)).status_code == 200

    # Deleted behind the app's back, as another stack process (or the operator) would.
    store = CouchClient(config.couchdb_url)
    try:
        permissions_db = world.instance.db("io.cozy.permissions")
        permission = await store.get_doc(permissions_db, _claims(token)["pid"])
        await store.delete_doc(permissions_db, permission["_id"], permission["_rev"])
    finally:
        await store.aclose()

    response = await _poll_until_refused(http, url, headers)
    assert response.status_code == 401
    assert response.json() == REVOKED


async def test_revoke_all_tokens_refuses_every_token_of_the_instance(
    app: Starlette, services: Services, issue_token: IssueToken, new_instance: Any
) -> None:
    instance = await new_instance("revoked")
    tokens = [await issue_token(instance, CONTACTS), await issue_token(instance, "io.cozy.bills")]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{instance.domain}") as http:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await http.get(f"/data/{CONTACTS}/x", headers=headers)).status_code in (
                404,
                403,
            )

        await services.instances.revoke_all_tokens(instance)

        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            response = await _poll_until_refused(http, f"/data/{CONTACTS}/x", headers)
            assert response.status_code == 401
            assert response.json() == {"error": "unauthorized", "reason": "invalid token: revoked"}
