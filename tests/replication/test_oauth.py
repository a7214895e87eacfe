"""OAuth 2 for devices: registration, consent, code + PKCE, tokens, refresh, revocation,
and the whole dance ending in a PouchDB replication."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from roost.oauth.clients import hash_secret
from roost.oauth.codes import CODES_DOCTYPE
from roost.oauth.pkce import challenge_of
from tests.conftest import PASSPHRASE
from tests.replication.helpers import CONTACTS, bearer, contact, push

REDIRECT = "http://127.0.0.1:9/callback"
SCOPE = "io.cozy.contacts:GET,POST:family:groups"


async def _register(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/auth/register",
        json={"redirect_uris": [REDIRECT], "client_name": "Ann's phone", **extra},
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _login(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    assert response.status_code == 200, response.text


def _authorize_params(client_id: str, verifier: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "s-" + secrets.token_hex(4),
        "scope": SCOPE,
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def _code(client: httpx.AsyncClient, client_id: str, verifier: str) -> tuple[str, str]:
    params = _authorize_params(client_id, verifier)
    page = await client.get("/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    answer = await client.post(
        "/auth/authorize", data={**params, "csrf_token": _csrf(page.text), "decision": "allow"}
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = _query(location)
    assert query["state"] == params["state"]
    return query["code"], params["state"]


async def _tokens(client: httpx.AsyncClient, registered: dict[str, Any]) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    code, _ = await _code(client, registered["client_id"], verifier)
    response = await client.post(
        "/auth/access_token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": registered["client_id"],
            "client_secret": registered.get("client_secret", ""),
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def test_registration_answers_rfc_7591(client) -> None:
    answer = await _register(client, software_id="org.example.phone")
    assert answer["client_id"] and answer["client_secret"] and answer["registration_access_token"]
    assert answer["redirect_uris"] == [REDIRECT]
    assert answer["software_id"] == "org.example.phone"
    public = await _register(client, token_endpoint_auth_method="none")
    assert "client_secret" not in public


async def test_registration_refuses_bad_metadata(client) -> None:
    cases = [
        ({"redirect_uris": ["http://evil.example/cb"], "client_name": "x"}, "invalid_redirect_uri"),
        ({"redirect_uris": ["javascript:alert(1)"], "client_name": "x"}, "invalid_redirect_uri"),
        (
            {"redirect_uris": ["https://ok.example/cb#frag"], "client_name": "x"},
            "invalid_redirect_uri",
        ),
        ({"redirect_uris": [REDIRECT]}, "invalid_client_metadata"),
        (
            {"redirect_uris": [REDIRECT], "client_name": "x", "grant_types": ["implicit"]},
            "invalid_client_metadata",
        ),
    ]
    for body, error in cases:
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == error
    native = await client.post(
        "/auth/register",
        json={"redirect_uris": ["org.example.app:/oauth"], "client_name": "Native"},
    )
    assert native.status_code == 201


async def test_the_registration_token_reads_and_deletes_the_client(client) -> None:
    answer = await _register(client)
    url = f"/auth/register/{answer['client_id']}"
    assert (await client.get(url, headers=bearer("wrong"))).status_code == 401
    read = await client.get(url, headers=bearer(answer["registration_access_token"]))
    assert read.status_code == 200
    assert read.json()["client_name"] == "Ann's phone"
    assert "client_secret" not in read.json()
    deleted = await client.delete(url, headers=bearer(answer["registration_access_token"]))
    assert deleted.status_code == 204
    assert (
        await client.get(url, headers=bearer(answer["registration_access_token"]))
    ).status_code == 401


async def test_authorization_needs_the_owner_signed_in(client) -> None:
    registered = await _register(client)
    params = _authorize_params(registered["client_id"], secrets.token_urlsafe(48))
    response = await client.get("/auth/authorize", params=params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/auth/login?redirect=%2Fauth%2Fauthorize%3F")
    refused = await client.post("/auth/authorize", data={**params, "decision": "allow"})
    assert refused.status_code in (401, 403)


async def test_the_consent_page_states_the_scope_in_plain_words(client) -> None:
    registered = await _register(client)
    await _login(client)
    page = await client.get(
        "/auth/authorize", params=_authorize_params(registered["client_id"], "v" * 43)
    )
    assert page.status_code == 200
    assert "Ann&#39;s phone" in page.text or "Ann's phone" in page.text
    assert "your contacts" in page.text
    assert "family" in page.text
    assert page.headers["x-frame-options"] == "DENY"


async def test_bad_authorization_requests(client) -> None:
    registered = await _register(client)
    await _login(client)
    client_id = registered["client_id"]
    verifier = "v" * 43
    unknown = await client.get("/auth/authorize", params=_authorize_params("nobody", verifier))
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    wrong_uri = await client.get(
        "/auth/authorize",
        params=_authorize_params(client_id, verifier, redirect_uri="https://evil.example/cb"),
    )
    assert wrong_uri.status_code == 400 and "location" not in wrong_uri.headers
    for overrides, error in [
        ({"state": ""}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "*"}, "invalid_scope"),
        ({"scope": "io.cozy.*"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
    ]:
        response = await client.get(
            "/auth/authorize", params=_authorize_params(client_id, verifier, **overrides)
        )
        # Shown to the person, with a link back to the app carrying the error: never an
        # automatic redirect (open registration would make Roost an open redirector).
        assert response.status_code == 400, overrides
        assert "location" not in response.headers
        back = response.text.split('rel="noreferrer"')[0].rsplit('href="', 1)[1].split('"')[0]
        back = back.replace("&amp;", "&")
        assert back.startswith(REDIRECT + "?")
        assert _query(back)["error"] == error, overrides


async def test_consent_form_needs_the_csrf_token_and_can_be_denied(client) -> None:
    registered = await _register(client)
    await _login(client)
    params = _authorize_params(registered["client_id"], "v" * 43)
    forged = await client.post(
        "/auth/authorize", data={**params, "csrf_token": "forged", "decision": "allow"}
    )
    assert forged.status_code == 403
    page = await client.get("/auth/authorize", params=params)
    denied = await client.post(
        "/auth/authorize", data={**params, "csrf_token": _csrf(page.text), "decision": "deny"}
    )
    assert denied.status_code == 303
    query = _query(denied.headers["location"])
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]


async def test_a_code_is_single_use_and_bound_to_its_verifier(client) -> None:
    registered = await _register(client)
    await _login(client)
    verifier = secrets.token_urlsafe(48)
    code, _ = await _code(client, registered["client_id"], verifier)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": registered["client_id"],
        "client_secret": registered["client_secret"],
    }
    wrong = await client.post(
        "/auth/access_token", data={**form, "code_verifier": secrets.token_urlsafe(48)}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The failed attempt used the code up: single use means single attempt.
    again = await client.post("/auth/access_token", data={**form, "code_verifier": verifier})
    assert again.json()["error"] == "invalid_grant"


async def test_code_exchange_checks_client_redirect_and_expiry(client, services, instance) -> None:
    registered = await _register(client)
    await _login(client)
    verifier = secrets.token_urlsafe(48)

    async def exchange(**changes: str) -> httpx.Response:
        code, _ = await _code(client, registered["client_id"], verifier)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
            "code_verifier": verifier,
            **changes,
        }
        if form.get("expire"):
            db = instance.db(CODES_DOCTYPE)
            doc = await services.couch.get_doc(db, hash_secret(code))
            doc["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
            await services.couch.put_doc(db, doc)
            del form["expire"]
        response: httpx.Response = await client.post("/auth/access_token", data=form)
        return response

    assert (await exchange(client_secret="wrong")).status_code == 401
    assert (await exchange(redirect_uri="http://127.0.0.1:9/other")).json()[
        "error"
    ] == "invalid_grant"
    assert (await exchange(expire="yes")).json()["error"] == "invalid_grant"
    assert (await exchange(grant_type="password")).json()["error"] == "unsupported_grant_type"
    good = await exchange()
    assert good.status_code == 200, good.text
    assert good.headers["cache-control"] == "no-store"


async def test_client_secret_basic_and_public_clients(client) -> None:
    await _login(client)
    public = await _register(client, token_endpoint_auth_method="none")
    tokens = await _tokens(client, public)
    assert tokens["token_type"] == "bearer"
    confidential = await _register(client)
    verifier = secrets.token_urlsafe(48)
    code, _ = await _code(client, confidential["client_id"], verifier)
    response = await client.post(
        "/auth/access_token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(confidential["client_id"], confidential["client_secret"]),
    )
    assert response.status_code == 200, response.text


async def test_access_tokens_are_short_lived_and_scoped(client, instance) -> None:
    await _login(client)
    tokens = await _tokens(client, await _register(client))
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == SCOPE
    client.cookies.clear()
    access = bearer(tokens["access_token"])
    created = await client.post(
        f"/data/{CONTACTS}/", json={"fullname": "Dan", "groups": ["family"]}, headers=access
    )
    assert created.status_code == 201, created.text
    outside = await client.post(
        f"/data/{CONTACTS}/", json={"fullname": "Eve", "groups": ["work"]}, headers=access
    )
    assert outside.status_code == 403
    # A refresh token is not an access token.
    assert (
        await client.get(f"/data/{CONTACTS}/", headers=bearer(tokens["refresh_token"]))
    ).status_code == 401


async def test_revoking_a_token_ends_the_grant(client) -> None:
    await _login(client)
    registered = await _register(client)
    tokens = await _tokens(client, registered)
    credentials = {
        "client_id": registered["client_id"],
        "client_secret": registered["client_secret"],
    }
    revoked = await client.post(
        "/auth/revoke", data={"token": tokens["refresh_token"], **credentials}
    )
    assert revoked.status_code == 200
    refresh = await client.post(
        "/auth/access_token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            **credentials,
        },
    )
    assert refresh.json()["error"] == "invalid_grant"
    client.cookies.clear()
    assert (
        await client.get(f"/data/{CONTACTS}/", headers=bearer(tokens["access_token"]))
    ).status_code == 401


async def test_the_owner_lists_and_revokes_clients(client) -> None:
    await _login(client)
    registered = await _register(client)
    await _tokens(client, registered)
    listing = await client.get("/auth/clients", headers={"Accept": "application/json"})
    assert [c["client_id"] for c in listing.json()] == [registered["client_id"]]
    page = await client.get("/auth/clients", headers={"Accept": "text/html"})
    assert "Ann&#39;s phone" in page.text or "Ann's phone" in page.text
    forged = await client.post(
        f"/auth/clients/{registered['client_id']}/revoke", data={"csrf_token": "no"}
    )
    assert forged.status_code == 403
    revoked = await client.post(
        f"/auth/clients/{registered['client_id']}/revoke", data={"csrf_token": _csrf(page.text)}
    )
    assert revoked.status_code == 303
    assert (await client.get("/auth/clients", headers={"Accept": "application/json"})).json() == []


async def test_the_whole_dance_ends_in_a_replication(client, instance, issue_token, device) -> None:
    owner = await issue_token(instance, "io.cozy.contacts")
    await push(client, owner, [contact("ann", "family"), contact("bob", "work")])
    # 1. The phone registers itself (public client: it cannot keep a secret).
    registered = await _register(client, token_endpoint_auth_method="none")
    client_id = registered["client_id"]
    # 2. The owner, signed in, allows it; 3. the phone trades the code for tokens.
    await _login(client)
    tokens = await _tokens(client, registered)
    client.cookies.clear()
    # 4. It replicates what the scope allows, both ways.
    [pulled, docs, _, pushed] = await device(
        "phone",
        tokens["access_token"],
        [
            {"op": "pull"},
            {"op": "all_docs"},
            {"op": "put", "doc": contact("cy", "family")},
            {"op": "push"},
        ],
    )
    assert pulled["ok"] is True
    assert [d["_id"] for d in docs] == ["ann"]
    assert pushed["docs_written"] == 1
    # 5. An hour later it refreshes; the new access token works, checkpoints included.
    refreshed = await client.post(
        "/auth/access_token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    new_access = refreshed.json()["access_token"]
    assert new_access != tokens["access_token"]
    await push(client, owner, [contact("dan", "family")])
    [again] = await device("phone", new_access, [{"op": "pull"}])
    assert again["docs_read"] == 1
    # 6. The owner revokes the phone: access and refresh tokens both die.
    await _login(client)
    revoked = await client.delete(f"/auth/clients/{client_id}")
    assert revoked.status_code == 204
    client.cookies.clear()
    for token in (tokens["access_token"], new_access):
        response = await client.get(f"/data/{CONTACTS}/_changes", headers=bearer(token))
        assert response.status_code == 401
    dead = await client.post(
        "/auth/access_token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert dead.status_code == 401
    assert dead.json()["error"] == "invalid_client"
