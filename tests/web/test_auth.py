"""The owner's login and logout: JSON and HTML form, cookies, CSRF, rate limit, redirects."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from roost.app import create_app
from roost.config import Config
from roost.instances import Instance
from roost.services import Services
from tests.conftest import PASSPHRASE

NewInstance = Callable[..., Awaitable[Instance]]
Json = dict[str, Any]

CSRF_REFUSED = {
    "error": "forbidden",
    "reason": "CSRF check failed: reload the login page and try again",
}
NOT_AUTHENTICATED = {
    "error": "unauthorized",
    "reason": "authentication required: a session, a Bearer token or an app password",
}
SESSION_TTL = 7 * 24 * 3600


def _client(app: object, instance: Instance, scheme: str = "http") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://{instance.domain}")


def _set_cookies(response: httpx.Response) -> dict[str, Any]:
    """name → (value, attributes) of every Set-Cookie header, attributes lower-cased."""
    found: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            flags = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
            found[name] = (morsel.value, morsel, flags)
    return found


@pytest.fixture(scope="module")
async def shared(new_instance: NewInstance) -> Instance:
    """One instance for the tests that record no failed login (argon2 is slow on purpose)."""
    return await new_instance("auth")


@pytest.fixture
async def http(app: object, shared: Instance) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh client (no cookies) on the shared instance."""
    async with _client(app, shared) as client:
        yield client


async def _login_form(http: httpx.AsyncClient) -> str:
    """Open the login page; returns the CSRF token of its form (its cookie is now set)."""
    page = await http.get("/auth/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    assert http.cookies.get("roost_csrf") == match.group(1)
    return match.group(1)


# -- JSON login ---------------------------------------------------------------------------


async def test_json_login_opens_a_session(http: httpx.AsyncClient) -> None:
    assert (await http.get("/data/_all_doctypes")).status_code == 401

    response = await http.post("/auth/login", json={"passphrase": PASSPHRASE})

    assert response.status_code == 200
    body = response.json()
    assert body == {"ok": True, "expires_at": body["expires_at"]}
    assert (await http.get("/data/_all_doctypes")).status_code == 200


@pytest.fixture(scope="module")
async def https_app(config: Config) -> AsyncIterator[object]:
    secure = dataclasses.replace(config, https=True)
    services = Services.build(secure, secure.couchdb_url or "")
    try:
        yield create_app(secure, services=services)
    finally:
        await services.aclose()


@pytest.mark.parametrize(
    ("which_app", "scheme", "secure"),
    [
        pytest.param("app", "http", False, id="http-config-over-http"),
        pytest.param("https_app", "http", True, id="https-config-behind-a-proxy"),
        pytest.param("app", "https", True, id="http-config-over-https"),
    ],
)
async def test_the_session_cookie_attributes(
    app: object, https_app: object, shared: Instance, which_app: str, scheme: str, secure: bool
) -> None:
    chosen = {"app": app, "https_app": https_app}[which_app]
    async with _client(chosen, shared, scheme) as http:
        response = await http.post("/auth/login", json={"passphrase": PASSPHRASE})

    assert response.status_code == 200
    cookies = _set_cookies(response)
    assert set(cookies) == {"roost_session"}
    value, morsel, flags = cookies["roost_session"]
    assert len(value) >= 32
    assert "httponly" in flags
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert morsel["max-age"] == str(SESSION_TTL)
    # Host-only: never sent to an app served on a sub-domain of the instance.
    assert "domain" not in flags
    assert ("secure" in flags) is secure


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"passphrase": "not the passphrase"},
            (401, {"error": "unauthorized", "reason": "wrong passphrase"}),
            id="wrong",
        ),
        pytest.param(
            {"passphrase": ""},
            (401, {"error": "unauthorized", "reason": "wrong passphrase"}),
            id="empty",
        ),
        pytest.param(
            {"password": PASSPHRASE},
            (400, {"error": "bad_request", "reason": 'expected {"passphrase": "…"}'}),
            id="wrong-key",
        ),
        pytest.param(
            {"passphrase": 12345678},
            (400, {"error": "bad_request", "reason": 'expected {"passphrase": "…"}'}),
            id="not-a-string",
        ),
    ],
)
async def test_a_failed_json_login_sets_no_cookie(
    app: object, instance: Instance, body: Json, expected: tuple[int, Json]
) -> None:
    async with _client(app, instance) as http:
        response = await http.post("/auth/login", json=body)
        assert (response.status_code, response.json()) == expected
        assert response.headers.get_list("set-cookie") == []
        assert (await http.get("/data/_all_doctypes")).status_code == 401


# -- rate limit ---------------------------------------------------------------------------


async def test_repeated_failures_lock_the_instance_out_with_429(
    app: object, config: Config, new_instance: NewInstance
) -> None:
    locked, bystander = await new_instance("locked"), await new_instance("bystander")
    async with _client(app, locked) as http:
        for _ in range(config.login_max_failures):
            wrong = await http.post("/auth/login", json={"passphrase": "wrong wrong"})
            assert wrong.status_code == 401

        # Even the right passphrase is refused now, without being checked.
        refused = await http.post("/auth/login", json={"passphrase": PASSPHRASE})

    assert refused.status_code == 429
    assert refused.json() == {
        "error": "too_many_requests",
        "reason": "too many failed logins; try again later",
    }
    assert 1 <= int(refused.headers["retry-after"]) <= config.login_window_seconds + 1
    assert refused.headers.get_list("set-cookie") == []
    async with _client(app, bystander) as other:
        assert (await other.post("/auth/login", json={"passphrase": PASSPHRASE})).status_code == 200


async def test_a_successful_login_resets_the_failure_count(
    app: object, config: Config, new_instance: NewInstance
) -> None:
    instance = await new_instance("reset")
    async with _client(app, instance) as http:
        # Failures by JSON and by form count together.
        token = await _login_form(http)
        for attempt in range(config.login_max_failures - 1):
            if attempt % 2:
                wrong = await http.post("/auth/login", json={"passphrase": "wrong wrong"})
            else:
                wrong = await http.post(
                    "/auth/login", data={"csrf_token": token, "passphrase": "wrong wrong"}
                )
            assert wrong.status_code == 401
        assert (await http.post("/auth/login", json={"passphrase": PASSPHRASE})).status_code == 200
        # Had the count not been reset, this would be the last failure allowed...
        assert (await http.post("/auth/login", json={"passphrase": "x" * 9})).status_code == 401
        # ...and this one a 429.
        again = await http.post("/auth/login", json={"passphrase": "x" * 9})
    assert again.status_code == 401


# -- HTML form login and CSRF --------------------------------------------------------------


async def test_the_login_form_signs_in_and_redirects(http: httpx.AsyncClient) -> None:
    token = await _login_form(http)
    response = await http.post(
        "/auth/login",
        data={"csrf_token": token, "passphrase": PASSPHRASE, "redirect": "/data/_all_doctypes"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/data/_all_doctypes"
    assert "roost_session" in _set_cookies(response)
    assert (await http.get("/data/_all_doctypes")).status_code == 200


async def test_a_wrong_passphrase_in_the_form_shows_the_form_again(
    app: object, instance: Instance
) -> None:
    async with _client(app, instance) as http:
        token = await _login_form(http)
        response = await http.post("/auth/login", data={"csrf_token": token, "passphrase": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "Wrong passphrase." in response.text
    assert f'value="{token}"' in response.text
    assert "roost_session" not in _set_cookies(response)


@pytest.mark.parametrize(
    ("cookie", "field"),
    [
        pytest.param(None, "from-page", id="no-cookie"),
        pytest.param("from-page", None, id="no-field"),
        pytest.param("from-page", "another-token", id="field-differs"),
        pytest.param("attacker-chosen", "attacker-chosen", id="cookie-never-issued-still-matches"),
        pytest.param("from-page", "tokén-non-ascii", id="non-ascii-field"),
        pytest.param("", "", id="both-empty"),
    ],
)
async def test_the_form_refuses_a_failed_csrf_check(
    app: object, shared: Instance, cookie: str | None, field: str | None
) -> None:
    async with _client(app, shared) as http:
        token = await _login_form(http)
        http.cookies.clear()
        if cookie is not None:
            http.cookies.set("roost_csrf", token if cookie == "from-page" else cookie)
        data = {"passphrase": PASSPHRASE}
        if field is not None:
            data["csrf_token"] = token if field == "from-page" else field
        response = await http.post("/auth/login", data=data)
        still_out = await http.get("/data/_all_doctypes")

    if cookie == field == "attacker-chosen":
        # Double-submit: a cookie the attacker could set and echo passes the check itself;
        # what protects the form is that another site can neither set nor read it.
        assert response.status_code == 303
        return
    assert (response.status_code, response.json()) == (403, CSRF_REFUSED)
    assert "roost_session" not in _set_cookies(response)
    assert still_out.status_code == 401


REDIRECTS = [
    ("/data/x?y=1", "/data/x?y=1"),
    ("/settings", "/settings"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example/", "/"),
    ("\\\\evil.example/", "/"),
    ("/\t/evil.example/", "/"),
    ("/\n/evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    ("evil.example", "/"),
    ("", "/"),
]


@pytest.mark.parametrize(("target", "location"), REDIRECTS)
async def test_the_login_page_only_keeps_same_site_redirects(
    http: httpx.AsyncClient, target: str, location: str
) -> None:
    page = await http.get("/auth/login", params={"redirect": target})
    assert f'name="redirect" value="{location}"' in page.text


@pytest.mark.parametrize(
    ("target", "location"),
    [("/data/x?y=1", "/data/x?y=1"), ("//evil.example/", "/"), ("/\t/evil.example/", "/")],
)
async def test_the_form_never_redirects_to_another_site(
    http: httpx.AsyncClient, target: str, location: str
) -> None:
    token = await _login_form(http)
    response = await http.post(
        "/auth/login", data={"csrf_token": token, "passphrase": PASSPHRASE, "redirect": target}
    )
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_the_home_page_sends_a_stranger_to_the_login_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login"


# -- logout and sessions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/auth/logout"), ("DELETE", "/auth/login")], ids=str
)
async def test_json_logout_ends_the_session(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    await http.post("/auth/login", json={"passphrase": PASSPHRASE})
    session = http.cookies["roost_session"]

    response = await http.request(method, path)

    assert (response.status_code, response.json()) == (200, {"ok": True})
    [cleared] = response.headers.get_list("set-cookie")
    assert cleared.startswith('roost_session="";') or cleared.startswith("roost_session=;")
    assert "max-age=0" in cleared.lower()
    # The old cookie, replayed, opens nothing.
    http.cookies.set("roost_session", session)
    replay = await http.get("/data/_all_doctypes")
    assert (replay.status_code, replay.json()) == (401, NOT_AUTHENTICATED)


async def test_logout_without_a_session_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/logout")
    assert (response.status_code, response.json()) == (
        401,
        {"error": "unauthorized", "reason": "not logged in"},
    )


async def test_form_logout_needs_the_session_csrf_token(http: httpx.AsyncClient) -> None:
    await http.post("/auth/login", json={"passphrase": PASSPHRASE})
    home = await http.get("/")
    assert home.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert match is not None

    refused = await http.post("/auth/logout", data={"csrf_token": "forged"})
    assert (refused.status_code, refused.json()) == (
        403,
        {"error": "forbidden", "reason": "CSRF check failed"},
    )
    assert (await http.get("/data/_all_doctypes")).status_code == 200

    done = await http.post("/auth/logout", data={"csrf_token": match.group(1)})
    assert done.status_code == 303
    assert done.headers["location"] == "/auth/login"
    assert (await http.get("/data/_all_doctypes")).status_code == 401


async def test_a_session_of_another_instance_is_refused(
    app: object, new_instance: NewInstance
) -> None:
    alice, bob = await new_instance("alice"), await new_instance("bob")
    async with _client(app, alice) as http:
        await http.post("/auth/login", json={"passphrase": PASSPHRASE})
        alice_session = http.cookies["roost_session"]
    async with _client(app, bob) as http:
        http.cookies.set("roost_session", alice_session)
        response = await http.get("/data/_all_doctypes")
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)


async def test_revoking_everything_ends_sessions_too(
    app: object, services: Services, new_instance: NewInstance
) -> None:
    instance = await new_instance("stamp")
    async with _client(app, instance) as http:
        await http.post("/auth/login", json={"passphrase": PASSPHRASE})
        assert (await http.get("/data/_all_doctypes")).status_code == 200
        await services.instances.revoke_all_tokens(instance)
        response = await http.get("/data/_all_doctypes")
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
