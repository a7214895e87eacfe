"""The owner's actions are permission rules: a token granted one may act, one without may not.

Managing app passwords (`io.roost.app_passwords`), OAuth clients (`io.cozy.oauth.clients`),
exports (`io.cozy.exports`) and apps (`io.cozy.apps`) is decided by the one decision
function; the owner's session holds every such rule, a token only the ones it was given.
Every refusal also shows that nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from roost.instances import Instance
from tests.conftest import PASSPHRASE

IssueToken = Callable[..., Awaitable[str]]


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    return client


@pytest.fixture
async def stranger(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client without the owner's cookie, for requests made with a token."""
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with other:
        yield other


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _register(anyone: httpx.AsyncClient, name: str) -> str:
    """Register an OAuth client (open to anyone); its id."""
    registered = await anyone.post(
        "/auth/register",
        json={
            "redirect_uris": ["http://localhost:9999/cb"],
            "client_name": name,
            "software_id": f"github.com/example/{name.lower()}",
        },
    )
    assert registered.status_code == 201, registered.text
    client_id: str = registered.json()["client_id"]
    return client_id


async def _labels(owner: httpx.AsyncClient) -> list[str]:
    listed = await owner.get("/settings/app-passwords")
    assert listed.status_code == 200
    return sorted(p["label"] for p in listed.json())


async def test_a_token_granted_app_passwords_manages_them_within_its_own_scope(
    owner: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
) -> None:
    token = await issue_token(instance, "io.roost.app_passwords io.cozy.contacts:GET")
    made = await stranger.post(
        "/settings/app-passwords",
        json={"label": "phone", "scope": "io.cozy.contacts:GET"},
        headers=_bearer(token),
    )
    assert made.status_code == 201, made.text
    listed = await stranger.get("/settings/app-passwords", headers=_bearer(token))
    assert [p["label"] for p in listed.json()] == ["phone"]

    # Never a password stronger than the token that mints it.
    wider = await stranger.post(
        "/settings/app-passwords",
        json={"label": "all files", "scope": "io.cozy.files"},
        headers=_bearer(token),
    )
    assert (wider.status_code, wider.json()) == (
        403,
        {
            "error": "forbidden",
            "reason": "an app password cannot grant more than its creator holds",
        },
    )
    assert await _labels(owner) == ["phone"]

    revoked = await stranger.delete(
        f"/settings/app-passwords/{made.json()['id']}", headers=_bearer(token)
    )
    assert revoked.status_code == 200
    assert await _labels(owner) == []


async def test_a_token_without_the_rule_is_refused_and_nothing_changes(
    owner: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
) -> None:
    kept = await owner.post(
        "/settings/app-passwords", json={"label": "kept", "scope": "io.cozy.files"}
    )
    assert kept.status_code == 201
    # Reading app passwords is not managing them.
    token = await issue_token(instance, "io.roost.app_passwords:GET io.cozy.files")
    refused = {"error": "forbidden", "reason": "only the owner, signed in, manages app passwords"}
    create = await stranger.post(
        "/settings/app-passwords",
        json={"label": "x", "scope": "io.cozy.files"},
        headers=_bearer(token),
    )
    assert (create.status_code, create.json()) == (403, refused)
    revoke = await stranger.delete(
        f"/settings/app-passwords/{kept.json()['id']}", headers=_bearer(token)
    )
    assert (revoke.status_code, revoke.json()) == (403, refused)
    assert await _labels(owner) == ["kept"]

    exports = await stranger.post("/settings/exports", json={}, headers=_bearer(token))
    assert (exports.status_code, exports.json()) == (
        403,
        {"error": "forbidden", "reason": "only the owner, signed in, exports the instance"},
    )
    assert (await owner.get("/settings/exports")).json() == []


async def test_a_token_granted_exports_and_oauth_clients_may_read_them(
    owner: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
) -> None:
    client_id = await _register(stranger, "Desktop")
    granted = await issue_token(instance, "io.cozy.exports:GET io.cozy.oauth.clients:GET")
    exports = await stranger.get("/settings/exports", headers=_bearer(granted))
    assert (exports.status_code, exports.json()) == (200, [])
    clients = await stranger.get("/auth/clients", headers=_bearer(granted))
    assert clients.status_code == 200
    assert [c["client_id"] for c in clients.json()] == [client_id]

    # GET is not DELETE: the device stays.
    revoke = await stranger.delete(f"/auth/clients/{client_id}", headers=_bearer(granted))
    assert (revoke.status_code, revoke.json()) == (
        403,
        {"error": "forbidden", "reason": "only the owner, signed in, revokes OAuth clients"},
    )
    plain = await issue_token(instance, "io.cozy.files")
    listed = await stranger.get("/auth/clients", headers=_bearer(plain))
    assert (listed.status_code, listed.json()) == (
        403,
        {"error": "forbidden", "reason": "only the owner, signed in, lists OAuth clients"},
    )
    still = await owner.get("/auth/clients")
    assert [c["client_id"] for c in still.json()] == [client_id]


async def test_app_actions_are_rules_on_io_cozy_apps(
    owner: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
) -> None:
    without = await issue_token(instance, "io.cozy.files")
    refused = await stranger.delete("/apps/nothing-here", headers=_bearer(without))
    assert (refused.status_code, refused.json()) == (
        403,
        {"error": "forbidden", "reason": "only the owner, signed in, installs and removes apps"},
    )
    install = await stranger.post(
        "/apps/install?consent=true", content=b"not a package", headers=_bearer(without)
    )
    assert install.status_code == 403
    # A token that may uninstall reaches the lookup: there is no such app.
    granted = await issue_token(instance, "io.cozy.apps:DELETE")
    missing = await stranger.delete("/apps/nothing-here", headers=_bearer(granted))
    assert missing.status_code == 404
    listed = await stranger.get("/apps/", headers=_bearer(granted))
    assert (listed.status_code, listed.json()) == (200, [])
    assert (await owner.get("/apps/")).json() == []


# -- forms: CSRF ---------------------------------------------------------------------------


async def _page_token(owner: httpx.AsyncClient, path: str) -> str:
    page = await owner.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize("csrf", [None, "forged", "é" * 10])
async def test_settings_forms_without_the_right_csrf_token_change_nothing(
    owner: httpx.AsyncClient, csrf: str | None
) -> None:
    made = await owner.post(
        "/settings/app-passwords", json={"label": "kept", "scope": "io.cozy.files"}
    )
    assert made.status_code == 201
    # An empty `data` would send no form at all (a JSON request): always post some field.
    token = {"unrelated": "1"} if csrf is None else {"csrf_token": csrf}
    refused = {
        "error": "forbidden",
        "reason": "CSRF check failed: reload the page and try again",
    }
    create = await owner.post("/settings/app-passwords", data={"label": "new", **token})
    assert (create.status_code, create.json()) == (403, refused)
    revoke = await owner.post(f"/settings/app-passwords/{made.json()['id']}/revoke", data=token)
    assert (revoke.status_code, revoke.json()) == (403, refused)
    export = await owner.post("/settings/exports", data=token)
    assert (export.status_code, export.json()) == (403, refused)
    assert await _labels(owner) == ["kept"]
    assert (await owner.get("/settings/exports")).json() == []


async def test_a_token_cannot_post_the_owners_forms(
    owner: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
) -> None:
    """The form's CSRF token belongs to the owner's session; a token has none to match."""
    csrf = await _page_token(owner, "/settings")
    token = await issue_token(instance, "io.roost.app_passwords io.cozy.files")
    posted = await stranger.post(
        "/settings/app-passwords",
        data={"label": "via form", "scope": "io.cozy.files", "csrf_token": csrf},
        headers=_bearer(token),
    )
    assert posted.status_code == 403
    assert await _labels(owner) == []


async def test_the_owners_form_with_the_right_token_works_and_bad_bytes_are_400(
    owner: httpx.AsyncClient,
) -> None:
    csrf = await _page_token(owner, "/settings")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    not_utf8 = await owner.post(
        "/settings/app-passwords",
        content=b"label=caf%E9&csrf_token=" + csrf.encode(),
        headers=form,
    )
    assert (not_utf8.status_code, not_utf8.json()["reason"]) == (400, "the form is not UTF-8")
    twice = await owner.post(
        "/settings/app-passwords",
        content=b"label=a&label=b&csrf_token=" + csrf.encode(),
        headers=form,
    )
    assert (twice.status_code, twice.json()["reason"]) == (400, "label is given more than once")
    assert await _labels(owner) == []
    made = await owner.post(
        "/settings/app-passwords", data={"label": "tablet", "scope": "", "csrf_token": csrf}
    )
    assert made.status_code == 200 and "roost-ap-" in made.text
    assert await _labels(owner) == ["tablet"]


async def test_oauth_and_apps_forms_need_the_csrf_token(
    owner: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    client_id = await _register(stranger, "Phone")
    forged = await owner.post(f"/auth/clients/{client_id}/revoke", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert [c["client_id"] for c in (await owner.get("/auth/clients")).json()] == [client_id]
    csrf = await _page_token(owner, "/auth/clients")
    done = await owner.post(f"/auth/clients/{client_id}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert (await owner.get("/auth/clients")).json() == []

    uninstall = await owner.post("/apps/some-app/uninstall", data={"csrf_token": "x"})
    assert uninstall.status_code == 403
    accept = await owner.post("/apps/install/abc123/accept", data={"unrelated": "1"})
    assert accept.status_code == 403
