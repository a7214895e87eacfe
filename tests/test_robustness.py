"""Every endpoint answers bad input with the right 4xx and a JSON reason, and writes nothing.

The project's rule: malformed input, unknown ids, stale revisions, oversize bodies and
forbidden access get a 4xx with `{"error", "reason"}` — never a 500, never a half-written
file or document. This suite walks `roost.app.route_table()` (the WebDAV mount included)
and throws at each route and method, as the owner, as anonymous, as a narrow token and
with broken credentials:

- broken credentials (Basic that is not base64, garbage Bearer, another instance's token
  or session, a revoked token, an unsigned JWT…) → 401, or a redirect for HTML pages;
- a narrow token (or a read-only app password) on every write → 4xx;
- malformed JSON (truncated, invalid UTF-8, NaN, 1e999, lone surrogates, 100 000 levels
  of nesting, non-objects, wrong content types) → 4xx on every route that reads JSON;
- bodies over the route's limit, with and without Content-Length → 413;
- absurd ids in every path parameter (5000 characters, NUL, `..`, `%2F`, `_design/x`…)
  and invalid doctype names → 4xx when they can never be valid, no 5xx otherwise;
- bad query parameters (negative, huge, non-integer, non-JSON) → no 5xx;
- methods no route allows → 405 JSON; unknown hosts → 404 JSON;
- stale or garbage revisions and If-Match → 409/412;
- WebDAV: malformed XML, XXE, bad Depth/Destination/If/Timeout/Lock-Token, absurd paths
  → never a 5xx (RFC 4918 answers are XML or plain text there);
- hypothesis: random JSON bodies and random paths on `/data` and `/files`.

A refused request must leave every database of the instance (document counts and update
sequences) and the blobs on disk as they were. OAuth 2 protocol routes may answer RFC 6749
errors (`error_description` instead of `reason`). Bugs found in code owned by others are
`xfail(strict=True)` cases in KNOWN_BUGS, each naming the request that shows it.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Final
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, PermissionSet
from roost.services import Services
from roost.sessions import COOKIE_NAME
from tests.conftest import PASSPHRASE
from tests.robustness_support import (
    ABSURD_IDS,
    BAD_QUERIES,
    INVALID_DOCTYPES,
    ITEMS,
    MALFORMED_BODIES,
    Endpoint,
    Outcome,
    Segment,
    Site,
    Snapshot,
    allowed_methods,
    basic,
    endpoints,
    problems,
    unsigned_jwt,
)

ENDPOINTS: Final = endpoints()

# -- what each route is ------------------------------------------------------------------

# Routes that read a JSON body (the body is the request's payload).
JSON_BODY: Final = frozenset(
    {
        "POST /auth/login",
        "POST /auth/register",
        "POST /settings/app-passwords",
        "POST /share-links",
        "POST /jobs/queue/{worker}",
        "POST /jobs/triggers",
        "POST /jobs/webhooks/{trigger_id}",
        "POST /apps/{slug}/accounts",
        "POST /apps/{slug}/run",
        "POST /files/{file_id}/relationships/referenced_by",
        "DELETE /files/{file_id}/relationships/referenced_by",
        "POST /data/{doctype}/{docid}/relationships/references",
        "DELETE /data/{doctype}/{docid}/relationships/references",
        "PATCH /files/{file_id}",
        "POST /data/{doctype}/_find",
        "POST /data/{doctype}/_index",
        "POST /data/{doctype}/_all_docs",
        "POST /data/{doctype}/",
        "POST /data/{doctype}",
        "PUT /data/{doctype}/{docid}",
        "POST /data/{doctype}/_changes",
        "POST /data/{doctype}/_revs_diff",
        "POST /data/{doctype}/_bulk_get",
        "POST /data/{doctype}/_bulk_docs",
        "PUT /data/{doctype}/_local/{localid}",
    }
)
# JSON routes where no body at all is a valid request.
OPTIONAL_BODY: Final = frozenset({"POST /data/{doctype}/_changes", "POST /jobs/queue/{worker}"})
# Routes a reader may use with a 2xx: POSTs that only read, and what a read-only replicator
# or Mango client needs (index creation, as in cozy-stack, and `_local` checkpoints).
READS: Final = frozenset(
    {
        "POST /data/{doctype}/_index",
        "PUT /data/{doctype}/_local/{localid}",
        "DELETE /data/{doctype}/_local/{localid}",
        "POST /data/{doctype}/_find",
        "POST /data/{doctype}/_all_docs",
        "POST /data/{doctype}/_changes",
        "POST /data/{doctype}/_revs_diff",
        "POST /data/{doctype}/_bulk_get",
        "POST /data/{doctype}/_ensure_full_commit",
    }
)
# A share link's public pages: no credentials, and HTML answers (plain 404/410 pages).
SHARED_PAGES: Final = frozenset(
    {
        "GET /s/{code}",
        "HEAD /s/{code}",
        "POST /s/{code}/password",
        "POST /s/{code}/upload",
        "GET /s/{code}/folder/{folder_id}",
        "HEAD /s/{code}/folder/{folder_id}",
        "GET /s/{code}/view/{file_id}",
        "HEAD /s/{code}/view/{file_id}",
        "GET /s/{code}/raw/{file_id}",
        "HEAD /s/{code}/raw/{file_id}",
        "GET /s/{code}/thumbnails/{file_id}/{size}",
        "HEAD /s/{code}/thumbnails/{file_id}/{size}",
        "GET /s/{code}/zip/{folder_id}",
        "HEAD /s/{code}/zip/{folder_id}",
    }
)
# Routes reachable without credentials (they must still refuse bad input politely).
PUBLIC: Final = frozenset(
    {
        "GET /status",
        "HEAD /status",
        "GET /metrics",
        "HEAD /metrics",
        "GET /auth/login",
        "HEAD /auth/login",
        "POST /auth/login",
        "OPTIONS /",
        "OPTIONS /dav/files",
        "OPTIONS /dav/files/{path}",
        "POST /jobs/webhooks/{trigger_id}",
        # OAuth 2: a client authenticates with its own credentials, not a principal.
        "POST /auth/register",
        "GET /auth/register/{client_id}",
        "HEAD /auth/register/{client_id}",
        "DELETE /auth/register/{client_id}",
        "POST /auth/access_token",
        "POST /auth/revoke",
        # Content-hashed CSS and ES modules of the pages (the sign-in page needs them too).
        "GET /static/{name}",
        "HEAD /static/{name}",
        *SHARED_PAGES,
    }
)
# The owner's HTML pages: anonymous visitors are redirected to the login page.
PAGES: Final = frozenset(
    {
        "GET /",
        "HEAD /",
        "GET /settings",
        "HEAD /settings",
        "GET /apps",
        "HEAD /apps",
        "GET /apps/{slug}/open",
        "HEAD /apps/{slug}/open",
        "GET /auth/authorize",
        "HEAD /auth/authorize",
        "GET /auth/clients",
        "HEAD /auth/clients",
        "GET /drive",
        "HEAD /drive",
        "GET /drive/trash",
        "HEAD /drive/trash",
        "GET /drive/search",
        "HEAD /drive/search",
        "GET /drive/{folder_id}",
        "HEAD /drive/{folder_id}",
        "GET /photos",
        "HEAD /photos",
        "GET /banks",
        "HEAD /banks",
        "GET /banks/operations/{operation_id}",
        "HEAD /banks/operations/{operation_id}",
        "GET /notifications",
        "HEAD /notifications",
        "GET /collect",
        "HEAD /collect",
        "GET /store",
        "HEAD /store",
        "GET /store/{registry}/{slug}",
        "HEAD /store/{registry}/{slug}",
        "GET /collect/{slug}",
        "HEAD /collect/{slug}",
        "GET /photos/albums",
        "HEAD /photos/albums",
        "GET /photos/albums/{album_id}",
        "HEAD /photos/albums/{album_id}",
        "GET /outbox",
        "HEAD /outbox",
        "GET /outbox/{proposal_id}",
        "HEAD /outbox/{proposal_id}",
        "GET /outbox/{proposal_id}/body",
        "HEAD /outbox/{proposal_id}/body",
        "POST /settings/language",
        *SHARED_PAGES,
    }
)
# RFC 6749 §5.2 errors: `{"error", "error_description"}`.
OAUTH_PROTOCOL_PREFIXES: Final = ("/auth/register", "/auth/access_token", "/auth/revoke")

# The body limit of each JSON route (bytes); the rest use config.max_body_bytes.
BULK_LIMIT: Final = 32 * 1024 * 1024
BODY_LIMITS: Final = {
    "POST /auth/login": 16 * 1024,
    "POST /data/{doctype}/_revs_diff": BULK_LIMIT,
    "POST /data/{doctype}/_bulk_get": BULK_LIMIT,
    "POST /data/{doctype}/_bulk_docs": BULK_LIMIT,
    "PUT /data/{doctype}/_local/{localid}": 256 * 1024,
}
# Routes that look their target up before reading the body (an unknown one is 404 first).
LOOKUP_FIRST: Final = frozenset({"POST /apps/{slug}/accounts", "POST /jobs/webhooks/{trigger_id}"})

# A request each route would accept from someone allowed to (so a refusal is about the
# principal, the id or the parameter under test, not about a missing body).
PLAUSIBLE: Final[dict[str, tuple[dict[str, str], bytes | None]]] = {
    "POST /files/": ({"Type": "directory", "Name": "robust-new"}, None),
    "POST /files/{dir_id}": ({"Type": "file", "Name": "robust-new.txt"}, b"new bytes"),
    "PUT /files/{file_id}": ({}, b"replaced bytes"),
    "PATCH /files/{file_id}": ({}, b'{"data": {"attributes": {"name": "robust-renamed.txt"}}}'),
    "POST /files/{file_id}/relationships/referenced_by": (
        {},
        b'{"data": [{"type": "org.example.items", "id": "x"}]}',
    ),
    "DELETE /files/{file_id}/relationships/referenced_by": (
        {},
        b'{"data": [{"type": "org.example.items", "id": "x"}]}',
    ),
    "POST /data/{doctype}/{docid}/relationships/references": (
        {},
        b'{"data": [{"type": "io.cozy.files", "id": "x"}]}',
    ),
    "DELETE /data/{doctype}/{docid}/relationships/references": (
        {},
        b'{"data": [{"type": "io.cozy.files", "id": "x"}]}',
    ),
    "POST /data/{doctype}/_find": ({}, b'{"selector": {}}'),
    "POST /data/{doctype}/_index": ({}, b'{"index": {"fields": ["name"]}}'),
    "POST /data/{doctype}/_all_docs": ({}, b'{"keys": []}'),
    "POST /data/{doctype}/_revs_diff": ({}, b"{}"),
    "POST /data/{doctype}/_bulk_get": ({}, b'{"docs": [{"id": "robustness-missing-id"}]}'),
    "POST /data/{doctype}/_bulk_docs": ({}, b'{"docs": [{"name": "bulk"}]}'),
    "PUT /data/{doctype}/_local/{localid}": ({}, b'{"seq": 1}'),
    "DELETE /data/{doctype}/{docid}": ({"rev": "1-00000000000000000000000000000000"}, None),
    # An empty passphrase is refused before any (deliberately slow) hashing.
    "POST /auth/login": ({}, b'{"passphrase": ""}'),
    # Registration is open (RFC 7591): only an invalid one is refused whoever asks.
    "POST /auth/register": ({}, b'{"redirect_uris": [], "client_name": "robust"}'),
    "POST /settings/app-passwords": ({}, b'{"label": "robust", "scope": "io.cozy.files"}'),
    "POST /share-links": ({}, b'{"target": {"type": "io.cozy.files", "id": "robust-missing"}}'),
    "POST /jobs/triggers": ({}, b'{"type": "@every", "arguments": "1h", "worker": "robust"}'),
    "POST /apps/{slug}/accounts": ({}, b'{"credentials": {}}'),
    "POST /apps/{slug}/run": ({}, b"{}"),
    "POST /apps/install": ({}, b"not a tarball"),
}
DEFAULT_BODY: Final = b'{"robust": true}'

# The databases a route can write, by path prefix (the `unchanged` check reads these).
FILE_DOCTYPES: Final = (
    "io.cozy.files",
    "io.roost.files.names",
    "io.cozy.files.versions",
    "io.roost.dav.locks",
)
AFFECTED: Final = (
    ("/data/", (ITEMS, *FILE_DOCTYPES)),
    ("/files", FILE_DOCTYPES),
    ("/dav", FILE_DOCTYPES),
    ("/settings", ("io.roost.app_passwords", "io.cozy.permissions", "io.cozy.files")),
    (
        "/auth",
        (
            "io.cozy.sessions",
            "io.cozy.oauth.clients",
            "io.cozy.oauth.access_codes",
            "io.cozy.permissions",
        ),
    ),
    ("/jobs", ("io.cozy.jobs", "io.cozy.triggers")),
    ("/apps", ("io.cozy.apps", "io.cozy.konnectors", "io.cozy.accounts", "io.cozy.permissions")),
)


def affected(endpoint: Endpoint) -> tuple[str, ...] | None:
    """The doctypes whose databases `endpoint` may write; None: watch every database."""
    for prefix, doctypes in AFFECTED:
        if endpoint.template.startswith(prefix):
            return doctypes
    return None


def plausible(endpoint: Endpoint) -> tuple[dict[str, str], bytes | None]:
    if endpoint.key in PLAUSIBLE:
        return PLAUSIBLE[endpoint.key]
    if endpoint.method in ("POST", "PUT", "PATCH") and not endpoint.is_dav:
        return {}, DEFAULT_BODY
    return {}, None


def json_header(
    body: bytes | None, content_type: str | None = "application/json"
) -> dict[str, str]:
    return {"content-type": content_type} if body is not None and content_type else {}


def reason_keys(endpoint: Endpoint) -> tuple[str, ...]:
    if endpoint.template.startswith(OAUTH_PROTOCOL_PREFIXES):
        return ("reason", "error_description")
    return ("reason",)


def is_write(endpoint: Endpoint) -> bool:
    return (
        endpoint.method not in ("GET", "HEAD", "OPTIONS", "PROPFIND") and endpoint.key not in READS
    )


# -- known bugs in code owned by others: xfail(strict=True) -----------------------------------

# (family, endpoint key, variant label) → the bug.
KNOWN_BUGS: Final[dict[tuple[str, str, str], str]] = {}


def cases(family: str, selected: Iterable[Endpoint]) -> list[Any]:
    """One case per endpoint (every variant but the known bugs), then one per known bug."""
    out = []
    for endpoint in selected:
        out.append(pytest.param(endpoint, None, id=endpoint.key))
        for (bug_family, key, variant), reason in KNOWN_BUGS.items():
            if bug_family == family and key == endpoint.key:
                out.append(
                    pytest.param(
                        endpoint,
                        variant,
                        id=f"{endpoint.key}|{variant}",
                        marks=pytest.mark.xfail(strict=True, reason=reason),
                    )
                )
    return out


def variants_for(
    family: str, endpoint: Endpoint, variant: str | None, labels: Iterable[str]
) -> list[str]:
    if variant is not None:
        return [variant]
    return [label for label in labels if (family, endpoint.key, label) not in KNOWN_BUGS]


# -- the seeded site ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def site(
    app: object,
    services: Services,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
) -> AsyncIterator[Site]:
    instance = await new_instance("robust")
    other = await new_instance("robustother")
    built = Site(app, services, instance, other, session_cookie="")
    async with built.client() as http:
        login = await http.post("/auth/login", json={"passphrase": PASSPHRASE})
        assert login.status_code == 200, login.text
        built.session_cookie = login.cookies[COOKIE_NAME]
        owner = {"cookie": f"{COOKIE_NAME}={built.session_cookie}"}
        other_login = await http.post(
            "/auth/login", json={"passphrase": PASSPHRASE}, headers={"host": other.domain}
        )
        assert other_login.status_code == 200, other_login.text
        built.seeds["other_session"] = other_login.cookies[COOKIE_NAME]

        created = await http.post(f"/data/{ITEMS}/", json={"name": "seed"}, headers=owner)
        assert created.status_code == 201, created.text
        built.seeds["item_id"] = created.json()["id"]
        built.seeds["item_rev"] = created.json()["rev"]

        folder = await http.post(
            "/files/", params={"Type": "directory", "Name": "robust-dir"}, headers=owner
        )
        assert folder.status_code == 201, folder.text
        dir_id = built.seeds["dir_id"] = folder.json()["data"]["id"]
        upload = await http.post(
            f"/files/{dir_id}",
            params={"Type": "file", "Name": "a.txt"},
            content=b"hello",
            headers=owner,
        )
        assert upload.status_code == 201, upload.text
        file_id = built.seeds["file_id"] = upload.json()["data"]["id"]
        again = await http.put(f"/files/{file_id}", content=b"hello again", headers=owner)
        assert again.status_code == 200, again.text
        built.seeds["file_rev"] = again.json()["data"]["meta"]["rev"]
        versions = await http.get(f"/files/{file_id}/versions", headers=owner)
        assert versions.status_code == 200, versions.text
        built.seeds["version_id"] = versions.json()["data"][0]["id"].split("/", 1)[1]
        scratch = await http.post(
            f"/files/{dir_id}",
            params={"Type": "file", "Name": "scratch.txt"},
            content=b"s",
            headers=owner,
        )
        assert scratch.status_code == 201, scratch.text
        built.seeds["scratch_id"] = scratch.json()["data"]["id"]
        victim = await http.post(
            "/files/", params={"Type": "directory", "Name": "robust-victim"}, headers=owner
        )
        assert victim.status_code == 201, victim.text

    password, secret = await services.app_passwords.create(
        instance, "robustness", PermissionSet.from_inline("io.cozy.files:GET")
    )
    built.seeds["password_id"] = password.id
    built.tokens["files_reader_password"] = secret
    _, dav_secret = await services.app_passwords.create(
        instance, "robustness-dav", PermissionSet.from_inline("io.cozy.files")
    )
    built.tokens["dav_password"] = dav_secret
    built.tokens["narrow"] = await issue_token(instance, f"{ITEMS}:GET io.cozy.files:GET:{dir_id}")
    built.tokens["other_instance"] = await issue_token(other, f"io.cozy.files {ITEMS}")
    revoked = await issue_token(instance, f"io.cozy.files {ITEMS}")
    payload = revoked.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    await services.permission_docs.delete(instance, claims["pid"])
    built.tokens["revoked"] = revoked
    yield built


async def assert_unchanged(site: Site, before: Snapshot, outcomes: list[Outcome], *_: Any) -> None:
    changes = (await site.snapshot(before.doctypes)).changes_since(before)
    assert not changes, "a refused request wrote something:\n" + "\n".join(
        changes + [o.describe() for o in outcomes if o.status < 400]
    )


def assert_sane(outcomes: list[Outcome], endpoint: Endpoint | None = None, **kwargs: Any) -> None:
    if endpoint is not None:
        # WebDAV answers RFC 4918 bodies; the owner's HTML pages answer HTML.
        kwargs.setdefault("json_errors", not endpoint.is_dav and endpoint.key not in PAGES)
        kwargs.setdefault("reason_keys", reason_keys(endpoint))
    found = problems(outcomes, **kwargs)
    assert not found, "\n\n".join(found)


def assert_refused(outcomes: list[Outcome], statuses: Iterable[int] = range(400, 500)) -> None:
    wanted = set(statuses)
    accepted = [o.describe() for o in outcomes if o.status not in wanted]
    assert not accepted, f"expected {sorted(wanted)[:6]}…, got:\n" + "\n".join(accepted)


async def test_route_knowledge_names_existing_routes() -> None:
    """The tables above follow the route table: a renamed route must be re-classified."""
    keys = {endpoint.key for endpoint in ENDPOINTS}
    tables = {
        "JSON_BODY": JSON_BODY,
        "OPTIONAL_BODY": OPTIONAL_BODY,
        "READS": READS,
        "PUBLIC": PUBLIC,
        "PAGES": PAGES,
        "BODY_LIMITS": set(BODY_LIMITS),
        "LOOKUP_FIRST": LOOKUP_FIRST,
        "PLAUSIBLE": set(PLAUSIBLE),
        "KNOWN_BUGS": {key for family, key, _ in KNOWN_BUGS if family != "stale"},
    }
    stale = {name: sorted(table - keys) for name, table in tables.items() if table - keys}
    assert not stale, f"entries naming no route of route_table(): {stale}"


# == 1. credentials ==============================================================================

AUTH_VARIANTS: Final[dict[str, Callable[[Site], dict[str, str | bytes]]]] = {
    "anonymous": lambda s: {},
    "garbage-session-cookie": lambda s: {"cookie": f"{COOKIE_NAME}=garbage"},
    "other-instance-session": lambda s: {"cookie": f"{COOKIE_NAME}={s.seeds['other_session']}"},
    "basic-not-base64": lambda s: {"authorization": "Basic !!!not*base64!!!"},
    "basic-no-colon": lambda s: {"authorization": "Basic dXNlcg=="},
    "basic-empty-password": lambda s: {"authorization": basic("user", "")},
    "basic-garbage-password": lambda s: {"authorization": basic("user", "garbage")},
    "basic-not-utf8": lambda s: {"authorization": basic(b"\xff\xfe", b"\xff")},
    "basic-forged-app-password": lambda s: {"authorization": basic("u", "roost-ap-nope-garbage")},
    "bearer-empty": lambda s: {"authorization": "Bearer"},
    "bearer-garbage": lambda s: {"authorization": "Bearer not.a.jwt"},
    "bearer-huge": lambda s: {"authorization": "Bearer " + "a" * 20_000},
    "bearer-latin1": lambda s: {"authorization": b"Bearer \xe9\xff"},
    "bearer-unsigned-jwt": lambda s: {
        "authorization": "Bearer "
        + unsigned_jwt(
            {"iss": s.instance.domain, "sub": "x", "aud": "cli", "scope": "io.cozy.files"}
        )
    },
    "bearer-other-instance": lambda s: {"authorization": f"Bearer {s.tokens['other_instance']}"},
    "bearer-revoked": lambda s: {"authorization": f"Bearer {s.tokens['revoked']}"},
    "unknown-scheme": lambda s: {"authorization": "Digest username=x"},
}
# Requests that carry no credentials at all (a cookie naming no session of this instance).
NO_CREDENTIALS: Final = ("anonymous", "garbage-session-cookie", "other-instance-session")


@pytest.mark.parametrize(("endpoint", "variant"), cases("auth", ENDPOINTS))
async def test_bad_credentials_are_refused(
    site: Site, endpoint: Endpoint, variant: str | None
) -> None:
    params, body = plausible(endpoint)
    before = await site.snapshot(affected(endpoint))
    outcomes, wrong = [], []
    for label in variants_for("auth", endpoint, variant, AUTH_VARIANTS):
        outcome = await site.send(
            endpoint.method,
            site.fill(endpoint),
            principal="anonymous",
            params=params.items(),
            content=body,
            headers={**json_header(body), **AUTH_VARIANTS[label](site)},
        )
        outcome.label = label
        outcomes.append(outcome)
        if endpoint.key in PUBLIC:
            expected = range(100, 500)  # anything but a 5xx
        elif endpoint.key in PAGES:
            expected = range(300, 500)  # a redirect to the login page, or a refusal
        else:
            expected = range(401, 402)
        if outcome.status not in expected:
            wrong.append(f"expected {expected}: {outcome.describe()}")
    assert_sane(outcomes, endpoint)
    assert not wrong, "\n".join(wrong)
    await assert_unchanged(site, before, outcomes)


# == 2. a narrow token may not write ===========================================================

NARROW_PRINCIPALS: Final = ("narrow", "files_reader_password")


@pytest.mark.parametrize(
    ("endpoint", "variant"),
    cases("forbidden", [e for e in ENDPOINTS if is_write(e) and e.key not in PUBLIC]),
)
async def test_narrow_tokens_cannot_write(
    site: Site, endpoint: Endpoint, variant: str | None
) -> None:
    params, body = plausible(endpoint)
    before = await site.snapshot(affected(endpoint))
    outcomes = []
    for label in variants_for("forbidden", endpoint, variant, NARROW_PRINCIPALS):
        outcomes.append(
            await site.send(
                endpoint.method,
                site.fill(endpoint),
                principal=label,
                params=params.items(),
                content=body,
                headers=json_header(body),
                label=label,
            )
        )
    assert_sane(outcomes, endpoint)
    assert_refused(outcomes)
    await assert_unchanged(site, before, outcomes)


# == 3. malformed JSON bodies ===================================================================

# Routes that take any content type (they parse the body themselves, leniently).
LENIENT_CONTENT_TYPE: Final = frozenset(
    {
        "POST /data/{doctype}/_changes",
        "POST /jobs/queue/{worker}",
        "POST /jobs/webhooks/{trigger_id}",
    }
)
BODIES: Final = {body.label: body for body in MALFORMED_BODIES}


def body_expectation(endpoint: Endpoint, label: str) -> range:
    body = BODIES[label]
    if label in ("empty", "whitespace") and endpoint.key in OPTIONAL_BODY:
        return range(100, 500)
    if body.content_type != "application/json":
        if endpoint.key in LENIENT_CONTENT_TYPE:
            return range(100, 500)
        if endpoint.key not in LOOKUP_FIRST and endpoint.key != "POST /auth/login":
            return range(415, 416)
    return range(400, 500)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("endpoint", "variant"),
    cases("body", [e for e in ENDPOINTS if e.key in JSON_BODY]),
)
async def test_malformed_json_is_refused(
    site: Site, endpoint: Endpoint, variant: str | None
) -> None:
    params, _ = plausible(endpoint)
    before = await site.snapshot(affected(endpoint))
    outcomes, wrong = [], []
    for label in variants_for("body", endpoint, variant, BODIES):
        body = BODIES[label]
        outcome = await site.send(
            endpoint.method,
            site.fill(endpoint),
            params=params.items(),
            content=body.content,
            headers=json_header(body.content, body.content_type),
        )
        outcome.label = label
        outcomes.append(outcome)
        expected = body_expectation(endpoint, label)
        if outcome.status not in expected:
            wrong.append(f"expected {expected}: {outcome.describe()}")
    assert_sane(outcomes, endpoint)
    assert not wrong, "\n".join(wrong)
    await assert_unchanged(site, before, outcomes)


# == 4. oversize bodies ========================================================================


def oversize_cases() -> list[Any]:
    out = []
    for endpoint in ENDPOINTS:
        if endpoint.key not in JSON_BODY:
            continue
        for mode in ("content-length", "chunked"):
            bug = KNOWN_BUGS.get(("oversize", endpoint.key, mode))
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            if BODY_LIMITS.get(endpoint.key, 0) >= BULK_LIMIT:
                marks.append(pytest.mark.slow)
            out.append(pytest.param(endpoint, mode, id=f"{endpoint.key}|{mode}", marks=marks))
    return out


async def _chunks(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    yield b'{"a": "'
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece
    yield b'"}'


@pytest.mark.parametrize(("endpoint", "mode"), oversize_cases())
async def test_oversize_bodies_are_refused(site: Site, endpoint: Endpoint, mode: str) -> None:
    limit = BODY_LIMITS.get(endpoint.key, site.services.config.max_body_bytes)
    params, _ = plausible(endpoint)
    before = await site.snapshot(affected(endpoint))
    content: bytes | AsyncIterator[bytes]
    if mode == "content-length":
        content = b'{"a": "' + b"x" * limit + b'"}'
    else:
        content = _chunks(limit)
    outcome = await site.send(
        endpoint.method,
        site.fill(endpoint),
        params=params.items(),
        content=content,
        headers={"content-type": "application/json"},
    )
    assert_sane([outcome], endpoint)
    expected = {413, 404} if endpoint.key in LOOKUP_FIRST else {413}
    assert outcome.status in expected, outcome.describe()
    await assert_unchanged(site, before, [outcome])


async def test_oversize_forms_are_refused(site: Site) -> None:
    """The HTML forms (login, logout, app passwords) read at most 16 KiB."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    big = b"csrf_token=" + b"x" * (16 * 1024)
    before = await site.snapshot()
    outcomes = [
        await site.send("POST", "/auth/login", principal="anonymous", content=big, headers=form),
        await site.send("POST", "/auth/logout", content=big, headers=form),
        await site.send("POST", "/settings/app-passwords", content=big, headers=form),
        await site.send(
            "POST",
            f"/settings/app-passwords/{site.seeds['password_id']}/revoke",
            content=big,
            headers=form,
        ),
    ]
    assert_sane(outcomes)
    assert_refused(outcomes, [413])
    await assert_unchanged(site, before, outcomes)


# == 5. absurd ids and doctypes =================================================================


def _segments_for(endpoint: Endpoint, param: str) -> tuple[Segment, ...]:
    if param == "doctype":
        return INVALID_DOCTYPES
    if param == "localid" or endpoint.method == "OPTIONS":
        # Any string is a valid `_local` id; OPTIONS answers without looking at the path.
        return tuple(dataclasses.replace(s, never_valid=False) for s in ABSURD_IDS)
    return ABSURD_IDS


# A never-valid id may also be answered by Starlette's trailing-slash redirect (307): `%2F`
# turns `/data/io%2Fcozy/` into `/data/io/cozy/`, which redirects to `/data/io/cozy`.
REFUSALS: Final = (*range(400, 500), 307, 308)


@pytest.mark.slow
@pytest.mark.parametrize(("endpoint", "variant"), cases("ids", [e for e in ENDPOINTS if e.params]))
async def test_absurd_ids_are_refused(site: Site, endpoint: Endpoint, variant: str | None) -> None:
    params, body = plausible(endpoint)
    labels = [
        f"{param}={segment.label}"
        for param in endpoint.params
        for segment in _segments_for(endpoint, param)
    ]
    chosen = set(variants_for("ids", endpoint, variant, labels))
    refused: list[Outcome] = []
    tolerated: list[Outcome] = []
    before = await site.snapshot(affected(endpoint))
    for never_valid in (True, False):
        for param in endpoint.params:
            for segment in _segments_for(endpoint, param):
                if segment.never_valid != never_valid or f"{param}={segment.label}" not in chosen:
                    continue
                outcome = await site.send(
                    endpoint.method,
                    site.fill(endpoint, **{param: segment.wire}),
                    params=params.items(),
                    content=body,
                    headers=json_header(body),
                    label=f"{param}={segment.label}",
                )
                (refused if never_valid else tolerated).append(outcome)
        if never_valid:
            # Only ids that can never be valid are sure to write nothing.
            assert_sane(refused, endpoint)
            assert_refused(refused, REFUSALS)
            await assert_unchanged(site, before, refused)
    assert_sane(tolerated, endpoint)


# == 6. bad query parameters ===================================================================

# Writes whose probes are all refused (the seeded document exists, no probe has its rev).
QUERY_WRITES: Final = frozenset({"DELETE /data/{doctype}/{docid}", "PUT /data/{doctype}/{docid}"})
# Writes probed for 5xx only: some probes are valid uploads (Content-Length beats Size).
QUERY_UPLOADS: Final = frozenset({"POST /files/", "POST /files/{dir_id}"})
QUERIES: Final = {probe.label: probe for probe in BAD_QUERIES}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("endpoint", "variant"),
    cases(
        "query",
        [
            e
            for e in ENDPOINTS
            # HEAD runs GET's handler: probing GET is enough.
            if not e.is_dav and (e.method == "GET" or e.key in READS | QUERY_WRITES | QUERY_UPLOADS)
        ],
    ),
)
async def test_bad_query_parameters(site: Site, endpoint: Endpoint, variant: str | None) -> None:
    _, body = plausible(endpoint)
    before = await site.snapshot(affected(endpoint))
    outcomes = []
    for label in variants_for("query", endpoint, variant, QUERIES):
        outcomes.append(
            await site.send(
                endpoint.method,
                site.fill(endpoint),
                params=QUERIES[label].params,
                content=body,
                headers=json_header(body),
                label=label,
            )
        )
    assert_sane(outcomes, endpoint)
    if endpoint.key in QUERY_WRITES:
        assert_refused(outcomes)
        await assert_unchanged(site, before, outcomes)


# == 7. methods no route allows ===============================================================

EXTRA_METHODS: Final = (
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "PROPFIND",
    "BREW",
)
TEMPLATES: Final = sorted({(e.template, e.params) for e in ENDPOINTS})


@pytest.mark.parametrize(("template", "names"), TEMPLATES, ids=[t for t, _ in TEMPLATES])
async def test_wrong_methods_get_405(site: Site, template: str, names: tuple[str, ...]) -> None:
    endpoint = Endpoint(template, "GET", names)
    url = site.fill(endpoint)
    allowed = allowed_methods(unquote(url))
    before = await site.snapshot(affected(endpoint))
    outcomes = []
    for method in EXTRA_METHODS:
        if method in allowed:
            continue
        outcomes.append(await site.send(method, url))
    assert_sane(outcomes)
    assert_refused(outcomes, [405])
    await assert_unchanged(site, before, outcomes)


# == 8. unknown hosts and app origins ============================================================


async def test_unknown_hosts_and_app_origins(site: Site) -> None:
    domain = site.instance.domain
    hosts = [
        "nobody.example",
        "",
        "x" * 3000 + ".roost.test",
        f"{domain}:notaport",
        f"..{domain}",
        f"nosuchapp.{domain}",
        f"a%00b.{domain}",
        f"UPPER.{domain.upper()}",
        "[::1]",
    ]
    outcomes = []
    for host in hosts:
        for path in ("/", "/data/_all_doctypes", "/index.html", "/../../etc/passwd"):
            outcomes.append(await site.send("GET", path, principal="anonymous", host=host))
    outcomes.append(
        await site.send("GET", "/", principal="anonymous", host="h\xe9llo".encode("latin-1"))
    )
    assert_sane(outcomes)
    assert_refused([o for o in outcomes if "nosuchapp" in o.url or "nobody" in o.url])


# == 9. stale revisions, garbage revs and If-Match ================================================

STALE_REV: Final = "1-00000000000000000000000000000000"


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _stale_cases(
    site: Site,
) -> list[
    tuple[
        str,
        str,
        str,
        dict[str, str],
        bytes | AsyncIterator[bytes] | None,
        list[tuple[str, str]],
        set[int],
    ]
]:
    item = f"/data/{ITEMS}/{site.seeds['item_id']}"
    rev = site.seeds["item_rev"]
    file_id = site.seeds["file_id"]
    version = site.seeds["version_id"]
    j = {"content-type": "application/json"}

    def body(value: Any) -> bytes:
        return json.dumps(value).encode()

    conflict, precondition, bad = {409}, {412}, {400}
    return [
        ("put-stale-rev", "PUT", item, j, body({"_rev": STALE_REV, "a": 1}), [], conflict),
        ("put-garbage-rev", "PUT", item, j, body({"_rev": "garbage", "a": 1}), [], conflict | bad),
        ("put-empty-rev", "PUT", item, j, body({"_rev": "", "a": 1}), [], conflict | bad),
        ("put-numeric-rev", "PUT", item, j, body({"_rev": 12, "a": 1}), [], conflict | bad),
        ("put-null-rev", "PUT", item, j, body({"_rev": None, "a": 1}), [], conflict | bad),
        ("put-object-rev", "PUT", item, j, body({"_rev": {"$gt": ""}, "a": 1}), [], conflict | bad),
        ("put-other-id", "PUT", item, j, body({"_rev": rev, "_id": "other"}), [], bad),
        ("put-deleted-flag", "PUT", item, j, body({"_rev": rev, "_deleted": True}), [], bad),
        (
            "put-attachments",
            "PUT",
            item,
            j,
            body({"_rev": rev, "_attachments": {"a": {}}}),
            [],
            bad,
        ),
        ("put-revisions", "PUT", item, j, body({"_rev": rev, "_revisions": {"start": 9}}), [], bad),
        ("create-existing", "PUT", item, j, body({"a": 1}), [], conflict),
        ("post-with-id", "POST", f"/data/{ITEMS}/", j, body({"_id": "x", "a": 1}), [], bad),
        ("post-with-rev", "POST", f"/data/{ITEMS}/", j, body({"_rev": rev, "a": 1}), [], bad),
        ("delete-stale-rev", "DELETE", item, {}, None, [("rev", STALE_REV)], conflict),
        ("delete-garbage-rev", "DELETE", item, {}, None, [("rev", "garbage")], conflict | bad),
        ("delete-no-rev", "DELETE", item, {}, None, [], bad),
        (
            "delete-if-match-stale",
            "DELETE",
            item,
            {"if-match": f'"{STALE_REV}"'},
            None,
            [],
            conflict,
        ),
        ("delete-if-match-garbage", "DELETE", item, {"if-match": '"'}, None, [], conflict | bad),
        (
            "delete-rev-and-if-match-differ",
            "DELETE",
            item,
            {"if-match": f'"{rev}"'},
            None,
            [("rev", STALE_REV)],
            bad,
        ),
        (
            "file-put-if-match-stale",
            "PUT",
            f"/files/{file_id}",
            {"if-match": f'"{STALE_REV}"'},
            b"new",
            [],
            precondition,
        ),
        (
            "file-put-if-match-garbage",
            "PUT",
            f"/files/{file_id}",
            {"if-match": 'W/"nope", ,'},
            b"new",
            [],
            precondition,
        ),
        (
            "file-put-if-match-empty",
            "PUT",
            f"/files/{file_id}",
            {"if-match": '""'},
            b"new",
            [],
            precondition,
        ),
        (
            "file-patch-if-match-stale",
            "PATCH",
            f"/files/{file_id}",
            {**j, "if-match": STALE_REV},
            body({"data": {"attributes": {"name": "renamed.txt"}}}),
            [],
            precondition,
        ),
        (
            "file-trash-if-match-stale",
            "PATCH",
            f"/files/{file_id}",
            {**j, "if-match": STALE_REV},
            body({"data": {"attributes": {"move_to_trash": True}}}),
            [],
            precondition,
        ),
        (
            "file-delete-if-match-stale",
            "DELETE",
            f"/files/{file_id}",
            {"if-match": STALE_REV},
            None,
            [],
            precondition,
        ),
        (
            "file-revert-if-match-stale",
            "POST",
            f"/files/revert/{file_id}/{version}",
            {"if-match": STALE_REV},
            None,
            [],
            precondition,
        ),
        (
            "file-put-md5-mismatch",
            "PUT",
            f"/files/{file_id}",
            {"content-md5": "AAAAAAAAAAAAAAAAAAAAAA=="},
            b"new",
            [],
            {412, 422, 400},
        ),
        (
            "file-put-md5-garbage",
            "PUT",
            f"/files/{file_id}",
            {"content-md5": "%%%"},
            b"new",
            [],
            bad,
        ),
        (
            "file-put-size-mismatch",
            "PUT",
            f"/files/{file_id}",
            {},
            _stream(b"new"),  # no Content-Length: the Size parameter declares the size
            [("Size", "999")],
            {400, 412, 422},
        ),
        (
            "file-put-date-garbage",
            "PUT",
            f"/files/{file_id}",
            {"date": "yesterday-ish"},
            b"new",
            [],
            bad,
        ),
        (
            "file-put-updated-at-garbage",
            "PUT",
            f"/files/{file_id}",
            {},
            b"new",
            [("UpdatedAt", "13/13/13")],
            bad,
        ),
        (
            "local-put-stale-rev",
            "PUT",
            f"/data/{ITEMS}/_local/robust-stale",
            j,
            body({"_rev": "0-999", "seq": 1}),
            [],
            conflict | {404},
        ),
        (
            "local-delete-stale-rev",
            "DELETE",
            f"/data/{ITEMS}/_local/robust-stale",
            {},
            None,
            [("rev", "0-999")],
            conflict | {404},
        ),
    ]


STALE_LABELS: Final = [
    "put-stale-rev",
    "put-garbage-rev",
    "put-empty-rev",
    "put-numeric-rev",
    "put-null-rev",
    "put-object-rev",
    "put-other-id",
    "put-deleted-flag",
    "put-attachments",
    "put-revisions",
    "create-existing",
    "post-with-id",
    "post-with-rev",
    "delete-stale-rev",
    "delete-garbage-rev",
    "delete-no-rev",
    "delete-if-match-stale",
    "delete-if-match-garbage",
    "delete-rev-and-if-match-differ",
    "file-put-if-match-stale",
    "file-put-if-match-garbage",
    "file-put-if-match-empty",
    "file-patch-if-match-stale",
    "file-trash-if-match-stale",
    "file-delete-if-match-stale",
    "file-revert-if-match-stale",
    "file-put-md5-mismatch",
    "file-put-md5-garbage",
    "file-put-size-mismatch",
    "file-put-date-garbage",
    "file-put-updated-at-garbage",
    "local-put-stale-rev",
    "local-delete-stale-rev",
]


@pytest.mark.parametrize(
    "label",
    [
        pytest.param(
            label,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[("stale", label, "")])]
            if ("stale", label, "") in KNOWN_BUGS
            else [],
        )
        for label in STALE_LABELS
    ],
)
async def test_stale_and_garbage_revisions(site: Site, label: str) -> None:
    case = next(c for c in _stale_cases(site) if c[0] == label)
    _, method, url, headers, body, params, expected = case
    before = await site.snapshot()
    outcome = await site.send(method, url, headers=headers, content=body, params=params)
    assert_sane([outcome])
    assert outcome.status in expected, outcome.describe()
    await assert_unchanged(site, before, [outcome])


async def test_stale_cases_cover_the_labels(site: Site) -> None:
    assert [c[0] for c in _stale_cases(site)] == STALE_LABELS


async def test_bulk_get_of_nothing_answers_at_once(site: Site) -> None:
    site_timeout, site.timeout = site.timeout, 5.0
    try:
        outcome = await site.send(
            "POST",
            f"/data/{ITEMS}/_bulk_get",
            content=b'{"docs": []}',
            headers={"content-type": "application/json"},
        )
    finally:
        site.timeout = site_timeout
    assert outcome.status == 200, outcome.describe()
    assert outcome.json() == {"results": []}


async def test_overlong_doctypes_never_reach_the_store(site: Site) -> None:
    """A 400-character doctype is a valid name, but no store can hold its database: CouchDB
    refuses the name and PouchDB Server cuts it at 255 characters, so two long doctypes
    shared one database (a grant on one read the other's documents)."""
    doctype = "a." + "b" * 400
    before = await site.snapshot()
    outcomes = [
        await site.send(
            "POST",
            f"/data/{doctype}/",
            content=DEFAULT_BODY,
            headers={"content-type": "application/json"},
        ),
        await site.send("GET", f"/data/{doctype}/_all_docs"),
        await site.send("GET", f"/data/{doctype}/x"),
        await site.send(
            "POST",
            f"/data/{doctype}/_find",
            content=b'{"selector": {}}',
            headers={"content-type": "application/json"},
        ),
    ]
    assert_sane(outcomes)
    assert_refused(outcomes, [400])
    await assert_unchanged(site, before, outcomes)  # no database made under a cut name
    # The store is still up and answering.
    assert (await site.send("GET", f"/data/{ITEMS}/{site.seeds['item_id']}")).status == 200


async def test_huge_but_legal_json_never_breaks(site: Site) -> None:
    """Just under the body limit: 40 000 keys, a 120 000-element array; 100 levels of
    nesting are accepted, 101 refused (roost.web.context.MAX_JSON_DEPTH)."""
    bodies = [
        json.dumps({f"k{i}": i for i in range(40_000)}).encode(),
        json.dumps({"a": list(range(120_000))}).encode(),
        b'{"a":' * 100 + b"1" + b"}" * 100,
        b'{"a":' * 101 + b"1" + b"}" * 101,
    ]
    assert all(len(body) < site.services.config.max_body_bytes for body in bodies)
    outcomes = [
        await site.send(
            "POST", f"/data/{ITEMS}/", content=body, headers={"content-type": "application/json"}
        )
        for body in bodies
    ]
    assert_sane(outcomes)
    assert [o.status for o in outcomes] == [201, 201, 201, 400], [o.describe() for o in outcomes]


OAUTH_FORM_BODIES: Final = {
    "empty": (b"", "application/x-www-form-urlencoded"),
    "garbage-form": (b"%%%&&&===;;", "application/x-www-form-urlencoded"),
    "invalid-utf8": (b"grant_type=\xff\xfe&code=\xff", "application/x-www-form-urlencoded"),
    "unknown-grant": (b"grant_type=telepathy", "application/x-www-form-urlencoded"),
    "garbage-code": (
        b"grant_type=authorization_code&code=nope&client_id=nope&client_secret=nope",
        "application/x-www-form-urlencoded",
    ),
    "garbage-refresh": (
        b"grant_type=refresh_token&refresh_token=a.b.c&client_id=x&client_secret=y",
        "application/x-www-form-urlencoded",
    ),
    "repeated-fields": (b"grant_type=a&grant_type=b", "application/x-www-form-urlencoded"),
    "json-body": (b'{"grant_type": "authorization_code"}', "application/json"),
    "huge": (b"code=" + b"x" * (70 * 1024), "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("path", ["/auth/access_token", "/auth/revoke", "/auth/authorize"])
async def test_oauth_forms_refuse_garbage(site: Site, path: str) -> None:
    """The OAuth 2 endpoints read forms (RFC 6749), not JSON: garbage forms are 4xx."""
    before = await site.snapshot(affected(Endpoint(path, "POST", ())))
    outcomes = []
    for label, (body, content_type) in OAUTH_FORM_BODIES.items():
        for principal in ("anonymous", "owner"):
            outcomes.append(
                await site.send(
                    "POST",
                    path,
                    principal=principal,
                    content=body,
                    headers={"content-type": content_type},
                    label=f"{label} as {principal}",
                )
            )
    assert_sane(outcomes, reason_keys=("reason", "error_description"))
    assert_refused(outcomes)
    await assert_unchanged(site, before, outcomes)


# == 10. uploads over the quota ====================================================================


async def test_uploads_over_quota_write_nothing(
    app: object, services: Services, new_instance: Callable[..., Awaitable[Instance]]
) -> None:
    instance = await new_instance("robustquota", quota_bytes=1000)
    site = Site(app, services, instance, instance, session_cookie="")
    async with site.client() as http:
        login = await http.post("/auth/login", json={"passphrase": PASSPHRASE})
        site.session_cookie = login.cookies[COOKIE_NAME]
    # The VFS creates the root and trash directories on first use: not part of the test.
    assert (await site.send("GET", f"/files/{ROOT_DIR_ID}")).status == 200
    before = await site.snapshot()

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    query = [("Type", "file"), ("Name", "big.bin")]
    outcomes = [
        await site.send("POST", f"/files/{ROOT_DIR_ID}", params=query, content=b"x" * 5000),
        await site.send("POST", f"/files/{ROOT_DIR_ID}", params=query, content=stream()),
        await site.send(
            "POST",
            f"/files/{ROOT_DIR_ID}",
            params=[*query, ("Size", "99999999999999999999")],
            content=_stream(b"x"),
        ),
    ]
    # 507 Insufficient Storage is the documented answer to a full quota.
    assert_sane(outcomes, allowed_5xx=(507,))
    assert_refused(outcomes, [400, 413, 507])
    await assert_unchanged(site, before, outcomes)


# == 11. WebDAV ===================================================================================

XXE: Final = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&x;</D:displayname></D:prop></D:propfind>'
)
LAUGHS: Final = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b']><D:propfind xmlns:D="DAV:"><D:prop><D:i>&i;</D:i></D:prop></D:propfind>'
)
DEEP_XML: Final = (
    b'<D:propfind xmlns:D="DAV:">' + b"<D:a>" * 20000 + b"</D:a>" * 20000 + b"</D:propfind>"
)
PROPPATCH_OK: Final = (
    b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:x>1</Z:x></D:prop>'
    b"</D:set></D:propertyupdate>"
)

# label → (method, path under /dav/files, headers, body, expected statuses)
DAV_CASES: Final[dict[str, tuple[str, str, dict[str, str], bytes | None, set[int]]]] = {
    "propfind-truncated": ("PROPFIND", "/", {"depth": "0"}, b"<D:propfind xmlns:D=", {400}),
    "propfind-not-xml": ("PROPFIND", "/", {"depth": "0"}, b"{json: true}", {400}),
    "propfind-wrong-root": ("PROPFIND", "/", {"depth": "0"}, b"<x/>", {400, 207}),
    "propfind-xxe": ("PROPFIND", "/", {"depth": "0"}, XXE, {400, 207}),
    "propfind-billion-laughs": ("PROPFIND", "/", {"depth": "0"}, LAUGHS, {400, 413}),
    "propfind-deep": ("PROPFIND", "/", {"depth": "0"}, DEEP_XML, {400, 207}),
    "propfind-huge": (
        "PROPFIND",
        "/",
        {"depth": "0"},
        b"<a>" + b" " * (1024 * 1024 + 10) + b"</a>",
        {413},
    ),
    "propfind-invalid-utf8": (
        "PROPFIND",
        "/",
        {"depth": "0"},
        b"<D:propfind xmlns:D='DAV:'>\xff\xfe",
        {400},
    ),
    "propfind-depth-garbage": ("PROPFIND", "/", {"depth": "banana"}, None, {400}),
    "propfind-depth-negative": ("PROPFIND", "/", {"depth": "-1"}, None, {400}),
    "propfind-depth-infinity": ("PROPFIND", "/", {"depth": "infinity"}, None, {207, 403}),
    "proppatch-garbage": ("PROPPATCH", "/robust-dir/a.txt", {}, b"<<<", {400}),
    "proppatch-empty": ("PROPPATCH", "/robust-dir/a.txt", {}, b"", {400}),
    "proppatch-missing": ("PROPPATCH", "/nope/none.txt", {}, PROPPATCH_OK, {404}),
    "put-content-length-garbage": (
        "PUT",
        "/robust-dir/new.txt",
        {"content-length": "abc"},
        None,
        {400},
    ),
    "put-content-range": (
        "PUT",
        "/robust-dir/a.txt",
        {"content-range": "bytes 0-1/2"},
        b"ab",
        {400, 501},
    ),
    "put-oc-mtime-garbage": ("PUT", "/robust-dir/new.txt", {"x-oc-mtime": "soon"}, b"x", {400}),
    "put-oc-mtime-huge": ("PUT", "/robust-dir/new.txt", {"x-oc-mtime": "1e300"}, b"x", {400}),
    "put-oc-mtime-nan": ("PUT", "/robust-dir/new.txt", {"x-oc-mtime": "nan"}, b"x", {400}),
    "put-missing-parent": ("PUT", "/no-such-dir/new.txt", {}, b"x", {409}),
    "put-on-collection": ("PUT", "/robust-dir", {}, b"x", {405, 409}),
    "put-trailing-slash": ("PUT", "/robust-dir/new.txt/", {}, b"x", {201, 204, 400, 405, 409}),
    "put-if-match-stale": ("PUT", "/robust-dir/a.txt", {"if-match": '"stale"'}, b"x", {412}),
    "put-if-none-match-star": ("PUT", "/robust-dir/a.txt", {"if-none-match": "*"}, b"x", {412}),
    "put-if-garbage": ("PUT", "/robust-dir/a.txt", {"if": "((((garbage"}, b"x", {400, 412}),
    "put-if-unknown-token": (
        "PUT",
        "/robust-dir/a.txt",
        {"if": "(<opaquelocktoken:nope>)"},
        b"x",
        {412},
    ),
    "put-into-trash": ("PUT", "/.cozy_trash/x.txt", {}, b"x", {403, 404, 409}),
    "mkcol-with-body": ("MKCOL", "/robust-new-col", {"content-type": "text/xml"}, b"<x/>", {415}),
    "mkcol-existing": ("MKCOL", "/robust-dir", {}, None, {405}),
    "mkcol-missing-parent": ("MKCOL", "/no-such/dir", {}, None, {409}),
    "delete-root": ("DELETE", "/", {}, None, {403, 405}),
    # RFC 4918 §9.6.1: a client MUST NOT send another Depth than infinity; mod_dav answers
    # 400, acting as infinity is tolerated. A throwaway collection either way.
    "delete-depth-zero-collection": ("DELETE", "/robust-victim", {"depth": "0"}, None, {204, 400}),
    "delete-missing": ("DELETE", "/no-such-file", {}, None, {404}),
    "copy-no-destination": ("COPY", "/robust-dir/a.txt", {}, None, {400}),
    "copy-destination-garbage": (
        "COPY",
        "/robust-dir/a.txt",
        {"destination": ":::::"},
        None,
        {400, 502},
    ),
    "copy-destination-other-host": (
        "COPY",
        "/robust-dir/a.txt",
        {"destination": "http://evil.example/dav/files/x"},
        None,
        {502},
    ),
    "copy-destination-outside-tree": (
        "COPY",
        "/robust-dir/a.txt",
        {"destination": "/etc/passwd"},
        None,
        {400, 502},
    ),
    "copy-destination-dotdot": (
        "COPY",
        "/robust-dir/a.txt",
        {"destination": "/dav/files/robust-dir/../../x"},
        None,
        {400},
    ),
    "copy-onto-itself": (
        "COPY",
        "/robust-dir/a.txt",
        {"destination": "/dav/files/robust-dir/a.txt"},
        None,
        {403},
    ),
    "copy-overwrite-garbage": (
        "COPY",
        "/robust-dir/a.txt",
        {"destination": "/dav/files/robust-dir/b.txt", "overwrite": "maybe"},
        None,
        {400},
    ),
    "copy-depth-garbage": (
        "COPY",
        "/robust-dir",
        {"destination": "/dav/files/robust-copy", "depth": "7"},
        None,
        {400},
    ),
    "move-into-itself": (
        "MOVE",
        "/robust-dir",
        {"destination": "/dav/files/robust-dir/inner"},
        None,
        {403, 409},
    ),
    "move-missing-source": ("MOVE", "/no-such", {"destination": "/dav/files/x"}, None, {404}),
    "move-root": ("MOVE", "/", {"destination": "/dav/files/x"}, None, {403}),
    "move-overwrite-false": (
        "MOVE",
        "/robust-dir/a.txt",
        {"destination": "/dav/files/robust-dir/scratch.txt", "overwrite": "F"},
        None,
        {412},
    ),
    "lock-garbage-body": ("LOCK", "/robust-dir/a.txt", {}, b"<lockinfo", {400}),
    "lock-wrong-xml": ("LOCK", "/robust-dir/a.txt", {}, b"<x/>", {400}),
    "lock-refresh-without-if": ("LOCK", "/robust-dir/a.txt", {}, None, {400, 412}),
    "lock-timeout-garbage": (
        "LOCK",
        "/robust-dir/a.txt",
        {"timeout": "Second-" + "9" * 50, "if": "(<opaquelocktoken:nope>)"},
        None,
        {400, 412},
    ),
    "lock-depth-garbage": (
        "LOCK",
        "/robust-dir",
        {"depth": "1"},
        b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        b"<D:locktype><D:write/></D:locktype></D:lockinfo>",
        {400},
    ),
    "unlock-no-token": ("UNLOCK", "/robust-dir/a.txt", {}, None, {400}),
    "unlock-garbage-token": (
        "UNLOCK",
        "/robust-dir/a.txt",
        {"lock-token": "garbage"},
        None,
        {400, 409},
    ),
    "unlock-unknown-token": (
        "UNLOCK",
        "/robust-dir/a.txt",
        {"lock-token": "<opaquelocktoken:nope>"},
        None,
        {409},
    ),
    # RFC 9110 §14.2 lets a server ignore an invalid Range (200); Starlette answers 400.
    "get-range-garbage": ("GET", "/robust-dir/a.txt", {"range": "bytes=zz-yy"}, None, {200, 400}),
    "get-range-unsatisfiable": ("GET", "/robust-dir/a.txt", {"range": "bytes=999-"}, None, {416}),
    "get-if-modified-since-garbage": (
        "GET",
        "/robust-dir/a.txt",
        {"if-modified-since": "soon"},
        None,
        {200},
    ),
    "get-if-match-garbage": ("GET", "/robust-dir/a.txt", {"if-match": "\x01"}, None, {412}),
    "get-trash": ("GET", "/.cozy_trash", {}, None, {404}),
    "patch-method": ("PATCH", "/robust-dir/a.txt", {}, b"x", {405}),
}
DAV_SEGMENTS: Final = tuple(s for s in ABSURD_IDS if s.never_valid)


def _dav_cases() -> list[Any]:
    return [
        pytest.param(
            label,
            id=label,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[("dav", label, "")])]
            if ("dav", label, "") in KNOWN_BUGS
            else [],
        )
        for label in DAV_CASES
    ]


def _dav_auth(site: Site) -> dict[str, str]:
    return {"authorization": basic("robust", site.tokens["dav_password"])}


@pytest.mark.parametrize("label", _dav_cases())
async def test_webdav_malformed_requests(site: Site, label: str) -> None:
    method, path, headers, body, expected = DAV_CASES[label]
    before = await site.snapshot(FILE_DOCTYPES)
    outcome = await site.send(
        method,
        "/dav/files" + quote(path),
        principal="anonymous",
        headers={**_dav_auth(site), **headers},
        content=body,
    )
    assert_sane([outcome], json_errors=False, allowed_5xx=(502,))
    assert outcome.status in expected, outcome.describe()
    if outcome.status >= 400:
        await assert_unchanged(site, before, [outcome])


@pytest.mark.parametrize(
    "method", ["GET", "PROPFIND", "PUT", "DELETE", "MKCOL", "LOCK", "PROPPATCH", "MOVE"]
)
async def test_webdav_absurd_paths(site: Site, method: str) -> None:
    before = await site.snapshot(FILE_DOCTYPES)
    outcomes = []
    for segment in DAV_SEGMENTS:
        for path in (f"/dav/files/{segment.wire}", f"/dav/files/robust-dir/{segment.wire}/x"):
            outcomes.append(
                await site.send(
                    method,
                    path,
                    principal="anonymous",
                    headers={**_dav_auth(site), "destination": "/dav/files/robust-moved"},
                    content=b"x" if method == "PUT" else None,
                    label=segment.label,
                )
            )
    assert_sane(outcomes, json_errors=False)
    assert_refused(outcomes)
    await assert_unchanged(site, before, outcomes)


async def test_webdav_narrow_principals_cannot_write(site: Site) -> None:
    before = await site.snapshot(FILE_DOCTYPES)
    reader = {"authorization": basic("robust", site.tokens["files_reader_password"])}
    outcomes = []
    for method, path, extra in (
        ("PUT", "/dav/files/robust-dir/a.txt", {}),
        ("PUT", "/dav/files/new.txt", {}),
        ("DELETE", "/dav/files/robust-dir/a.txt", {}),
        ("MKCOL", "/dav/files/robust-dir/sub", {}),
        ("MOVE", "/dav/files/robust-dir/a.txt", {"destination": "/dav/files/moved.txt"}),
        ("COPY", "/dav/files/robust-dir/a.txt", {"destination": "/dav/files/copied.txt"}),
        ("PROPPATCH", "/dav/files/robust-dir/a.txt", {}),
        ("LOCK", "/dav/files/robust-dir/a.txt", {}),
    ):
        outcomes.append(
            await site.send(
                method,
                path,
                principal="anonymous",
                headers={**reader, **extra},
                content=PROPPATCH_OK
                if method == "PROPPATCH"
                else b"x"
                if method == "PUT"
                else None,
            )
        )
    assert_sane(outcomes, json_errors=False)
    assert_refused(outcomes)
    await assert_unchanged(site, before, outcomes)


# == 12. hypothesis: random bodies and paths on /data and /files ==================================

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
PATH_TEXT = st.text(min_size=1, max_size=40)


def _run_on_loop(loop: asyncio.AbstractEventLoop, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)


HYPOTHESIS_SETTINGS: Final = settings(
    max_examples=75,
    deadline=None,
    # Same examples on every run (CI must not flake), and no example database on disk.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def test_random_data_requests(site: Site) -> None:
    loop = asyncio.get_running_loop()

    @HYPOTHESIS_SETTINGS
    @given(
        body=JSON_VALUES,
        doc_id=PATH_TEXT,
        doctype=st.sampled_from([ITEMS, "io.cozy.contacts", "io.cozy.files", "io.cozy.sessions"])
        | PATH_TEXT,
        route=st.sampled_from(["create", "put", "find", "index", "all_docs", "bulk_docs", "get"]),
    )
    def check(body: Any, doc_id: str, doctype: str, route: str) -> None:
        encoded = json.dumps(body).encode()
        typ, key = quote(doctype, safe=""), quote(doc_id, safe="")
        method, url = {
            "create": ("POST", f"/data/{typ}/"),
            "put": ("PUT", f"/data/{typ}/{key}"),
            "find": ("POST", f"/data/{typ}/_find"),
            "index": ("POST", f"/data/{typ}/_index"),
            "all_docs": ("POST", f"/data/{typ}/_all_docs"),
            "bulk_docs": ("POST", f"/data/{typ}/_bulk_docs"),
            "get": ("GET", f"/data/{typ}/{key}"),
        }[route]
        watched = doctype in (ITEMS, "io.cozy.contacts") and method != "GET"
        before = _run_on_loop(loop, site.snapshot([doctype])) if watched else None
        outcome = _run_on_loop(
            loop,
            site.send(
                method,
                url,
                content=None if method == "GET" else encoded,
                headers={"content-type": "application/json"},
            ),
        )
        found = problems([outcome])
        assert not found, found[0]
        if before is not None and outcome.status >= 400:
            _run_on_loop(loop, assert_unchanged(site, before, [outcome]))

    await asyncio.to_thread(check)


async def test_random_files_requests(site: Site) -> None:
    loop = asyncio.get_running_loop()
    scratch = site.seeds["scratch_id"]

    @HYPOTHESIS_SETTINGS
    @given(
        name=PATH_TEXT,
        path=PATH_TEXT,
        attributes=st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "dir_id",
                    "tags",
                    "updated_at",
                    "executable",
                    "move_to_trash",
                    "cozyMetadata",
                    "x",
                ]
            ),
            JSON_VALUES,
            max_size=3,
        ),
        route=st.sampled_from(
            ["mkdir", "upload", "get", "metadata", "patch", "download", "versions"]
        ),
    )
    def check(name: str, path: str, attributes: dict[str, Any], route: str) -> None:
        if attributes.get("move_to_trash") is True:
            attributes["move_to_trash"] = "yes"  # keep the scratch file out of the trash
        segment = quote(path, safe="")
        method, url, params, body = {
            "mkdir": (
                "POST",
                f"/files/{site.seeds['dir_id']}",
                [("Type", "directory"), ("Name", name)],
                None,
            ),
            "upload": ("POST", f"/files/{segment}", [("Type", "file"), ("Name", name)], b"data"),
            "get": ("GET", f"/files/{segment}", [], None),
            "metadata": ("GET", "/files/metadata", [("Path", "/" + path)], None),
            "patch": (
                "PATCH",
                f"/files/{scratch}",
                [],
                json.dumps({"data": {"attributes": attributes}}).encode(),
            ),
            "download": ("GET", "/files/download", [("Path", "/" + path)], None),
            "versions": ("GET", f"/files/{segment}/versions", [], None),
        }[route]
        before = _run_on_loop(loop, site.snapshot(FILE_DOCTYPES)) if method != "GET" else None
        outcome = _run_on_loop(
            loop,
            site.send(
                method,
                url,
                params=params,
                content=body,
                headers={"content-type": "application/json"},
            ),
        )
        found = problems([outcome])
        assert not found, found[0]
        if before is not None and outcome.status >= 400:
            _run_on_loop(loop, assert_unchanged(site, before, [outcome]))

    await asyncio.to_thread(check)


# == websocket handshakes ========================================================================


async def test_websocket_handshakes_never_answer_500(live_server: Any, site: Site) -> None:
    """A websocket upgrade on every path of the route table, on the instance and on hosts
    that name none, is refused cleanly (403/404) or, on /realtime/, accepted — never a 500."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    paths = {"/", "/realtime", "/realtime/", "/nothing/here", "/dav/files", "/data/x/y"}
    paths |= {
        "/".join("x" if "{" in part else part for part in e.template.split("/")) for e in ENDPOINTS
    }
    statuses: dict[str, int] = {}
    for host in (site.instance.domain, "nobody.example", f"nosuchapp.{site.instance.domain}"):
        for path in sorted(paths):
            url = f"ws://{host}:{live_server.port}/{path.lstrip('/')}"
            try:
                async with connect(url, host="127.0.0.1", port=live_server.port, open_timeout=30):
                    statuses[f"{host} {path}"] = 101
            except InvalidStatus as refused:
                statuses[f"{host} {path}"] = refused.response.status_code
    broken = {key: status for key, status in statuses.items() if status >= 500}
    assert not broken, broken
    assert statuses[f"{site.instance.domain} /realtime/"] == 101
    assert statuses["nobody.example /realtime/"] == 404
