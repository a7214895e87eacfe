"""The owner manages app passwords from /settings (JSON and HTML form); nobody else can."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest

from roost.instances import Instance
from roost.services import Services
from tests.conftest import PASSPHRASE
from tests.web.files_support import FilesApi


async def test_owner_creates_lists_and_revokes_an_app_password(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    created = await client.post(
        "/settings/app-passwords",
        json={"label": "laptop", "scope": "io.cozy.contacts:GET", "ttl": "1d"},
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    listed = (await client.get("/settings/app-passwords")).json()
    assert [(p["label"], p["scope"]) for p in listed] == [("laptop", "io.cozy.contacts:GET")]
    assert listed[0]["expires_at"] is not None
    assert "secret" not in listed[0]

    as_password = httpx.BasicAuth("anyone", secret)
    fresh = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with fresh:
        ok = await fresh.get("/data/io.cozy.contacts/_all_docs", auth=as_password)
        assert ok.status_code == 200
        write = await fresh.post("/data/io.cozy.contacts/", json={}, auth=as_password)
        assert write.status_code == 403
        assert (await fresh.get("/settings/app-passwords", auth=as_password)).status_code == 403

        revoked = await client.delete(f"/settings/app-passwords/{listed[0]['id']}")
        assert revoked.status_code == 200
        after = await fresh.get("/data/io.cozy.contacts/_all_docs", auth=as_password)
        assert after.status_code == 401


async def test_settings_page_form_needs_csrf_and_shows_the_secret_once(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    assert (await client.get("/settings")).status_code == 303
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    page = await client.get("/settings")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = await client.post(
        "/settings/app-passwords", data={"label": "x", "csrf_token": "forged"}
    )
    assert refused.status_code == 403
    made = await client.post(
        "/settings/app-passwords",
        data={"label": "phone", "scope": "io.cozy.files:GET", "csrf_token": token.group(1)},
    )
    assert made.status_code == 200
    assert "roost-ap-" in made.text
    again = await client.get("/settings")
    assert "phone" in again.text and "roost-ap-" not in again.text


async def test_bad_scope_is_a_clear_400(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    bad = await client.post("/settings/app-passwords", json={"label": "x", "scope": "io.cozy.*"})
    assert bad.status_code == 400
    assert "scope" in bad.json()["reason"]


# -- the page for a person ------------------------------------------------------------------


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _password_id(page: str, label: str) -> str:
    found = re.search(
        r'action="/settings/app-passwords/([^/"]+)/revoke">[^<]*<input[^>]*>\s*'
        rf'<button[^>]*aria-label="Revoke {re.escape(label)}"',
        page,
    )
    assert found is not None, page
    return found.group(1)


async def _login(app_client: httpx.AsyncClient, passphrase: str = PASSPHRASE) -> httpx.Response:
    return await app_client.post("/auth/login", json={"passphrase": passphrase})


def _other_client(client: httpx.AsyncClient, user_agent: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=client._transport,
        base_url=str(client.base_url),
        headers={"User-Agent": user_agent},
    )


@pytest.mark.parametrize(
    ("access", "verbs"),
    [("read", {"GET"}), ("write", {"GET", "POST", "PUT", "PATCH", "DELETE"}), ("upload", {"POST"})],
)
async def test_plain_choices_make_the_permission_set_and_it_works_over_webdav(
    client: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    issue_token: Callable[..., Awaitable[str]],
    access: str,
    verbs: set[str],
) -> None:
    files = FilesApi(client, await issue_token(instance, "io.cozy.files"))
    shared = await files.mkdir_ok("Shared")
    await files.upload_ok("inside.txt", b"inside", dir_id=shared)
    await files.upload_ok("outside.txt", b"outside")
    await _login(client)
    page = await client.get("/settings")
    assert '<option value="' + shared + '">/Shared</option>' in page.text
    made = await client.post(
        "/settings/app-passwords",
        data={
            "label": "rclone on laptop",
            "folder": shared,
            "access": access,
            "expiry": "30d",
            "csrf_token": _csrf(page),
        },
    )
    assert made.status_code == 200, made.text
    secret = re.search(r'id="new-secret" value="([^"]+)"', made.text)
    assert secret is not None
    password_id = _password_id(made.text, "rclone on laptop")
    assert "io.cozy" not in made.text.split("<main", 1)[1]
    visible = re.sub(r"<[^>]+>", " ", made.text.split("<main", 1)[1])
    assert password_id not in visible.replace(secret.group(1), "")

    stored = next(p for p in await services.app_passwords.list(instance) if p.id == password_id)
    permissions = await services.permission_docs.load_set(instance, stored.permission_id)
    assert permissions is not None
    assert [(r.type, set(r.verbs), r.values) for r in permissions.rules] == [
        ("io.cozy.files", verbs, (shared,))
    ]
    assert stored.expires_at is not None

    auth = httpx.BasicAuth("me", secret.group(1))
    async with _other_client(client, "rclone") as dav:
        read_inside = await dav.get("/dav/files/Shared/inside.txt", auth=auth)
        read_outside = await dav.get("/dav/files/outside.txt", auth=auth)
        upload = await dav.put("/dav/files/Shared/new.txt", content=b"new", auth=auth)
        upload_outside = await dav.put("/dav/files/elsewhere.txt", content=b"x", auth=auth)
    assert read_outside.status_code == 404 and upload_outside.status_code in (403, 404)
    if access == "upload":
        assert read_inside.status_code in (403, 404)
    else:
        assert read_inside.status_code == 200 and read_inside.content == b"inside"
    if access == "read":
        assert upload.status_code == 403
    else:
        assert upload.status_code == 201, upload.text
    listing = (await files.get(shared, params={"page[limit]": "50"})).json()
    names = {item["attributes"]["name"] for item in listing.get("included", [])}
    assert ("new.txt" in names) == (access != "read")


async def test_the_page_says_what_a_password_may_do_in_plain_words(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    files = FilesApi(client, await issue_token(instance, "io.cozy.files"))
    photos = await files.mkdir_ok("Photos")
    await _login(client)
    page = await client.get("/settings")
    for label, folder, access in (("phone", photos, "upload"), ("backup", "", "read")):
        await client.post(
            "/settings/app-passwords",
            data={
                "label": label,
                "folder": folder,
                "access": access,
                "expiry": "never",
                "csrf_token": _csrf(page),
            },
        )
    listed = (await client.get("/settings")).text
    assert "Can only add files to /Photos, without seeing what is there" in listed
    assert "Can read all your files" in listed
    assert "Never expires" in listed
    french = await client.get("/settings", headers={"Accept-Language": "fr"})
    assert "Peut seulement ajouter des fichiers dans /Photos" in french.text

    bad = await client.post(
        "/settings/app-passwords",
        data={
            "label": "x",
            "folder": "no-such-folder",
            "access": "read",
            "csrf_token": _csrf(page),
        },
    )
    assert bad.status_code == 400 and "that folder does not exist" in bad.text
    bad_access = await client.post(
        "/settings/app-passwords",
        data={"label": "x", "folder": "", "access": "everything", "csrf_token": _csrf(page)},
    )
    assert bad_access.status_code == 400
    assert {p["label"] for p in (await client.get("/settings/app-passwords")).json()} == {
        "phone",
        "backup",
    }


async def test_wrong_current_passphrase_changes_nothing(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await _login(client)
    async with _other_client(client, "Phone browser") as phone:
        await _login(phone)
        page = await client.get("/settings")
        refused = await client.post(
            "/settings/passphrase",
            data={
                "current_passphrase": "not the passphrase",
                "new_passphrase": "a brand new passphrase",
                "confirm_passphrase": "a brand new passphrase",
                "csrf_token": _csrf(page),
            },
        )
        assert refused.status_code == 403
        assert "the current passphrase is wrong" in refused.text
        mismatch = await client.post(
            "/settings/passphrase",
            data={
                "current_passphrase": PASSPHRASE,
                "new_passphrase": "a brand new passphrase",
                "confirm_passphrase": "another new passphrase",
                "csrf_token": _csrf(page),
            },
        )
        assert mismatch.status_code == 400
        # Nothing changed: both sessions still open, the old passphrase still signs in.
        assert (await phone.get("/settings")).status_code == 200
        assert (await client.get("/settings")).status_code == 200
        async with _other_client(client, "Laptop") as laptop:
            assert (await _login(laptop, "a brand new passphrase")).status_code == 401
            assert (await _login(laptop)).status_code == 200


async def test_changing_the_passphrase_signs_out_every_other_session(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    await _login(client)
    async with _other_client(client, "Phone browser") as phone:
        await _login(phone)
        page = await client.get("/settings")
        assert "Phone browser" in page.text and "This browser" in page.text
        changed = await client.post(
            "/settings/passphrase",
            data={
                "current_passphrase": PASSPHRASE,
                "new_passphrase": "a brand new passphrase",
                "confirm_passphrase": "a brand new passphrase",
                "csrf_token": _csrf(page),
            },
        )
        assert changed.status_code == 200, changed.text
        assert "1 other session was signed out" in changed.text
        assert (await phone.get("/settings")).status_code == 303
        # This browser stays signed in; the new passphrase is the one that works.
        assert (await client.get("/settings")).status_code == 200
        assert "Phone browser" not in (await client.get("/settings")).text
        assert (await _login(phone)).status_code == 401
        assert (await _login(phone, "a brand new passphrase")).status_code == 200


async def test_sign_out_everywhere_else_keeps_this_session(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await _login(client)
    async with _other_client(client, "Tablet") as tablet:
        await _login(tablet)
        page = await client.get("/settings")
        forged = await client.post(
            "/settings/sessions/sign-out-others", data={"csrf_token": "forged"}
        )
        assert forged.status_code == 403
        assert (await tablet.get("/settings")).status_code == 200
        done = await client.post(
            "/settings/sessions/sign-out-others", data={"csrf_token": _csrf(page)}
        )
        assert done.status_code == 200 and "1 other session was signed out" in done.text
        assert (await tablet.get("/settings")).status_code == 303
        assert (await client.get("/settings")).status_code == 200


async def test_access_log_reads_as_sentences_grouped_by_who_and_what(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    files = FilesApi(client, await issue_token(instance, "io.cozy.files"))
    await _login(client)
    page = await client.get("/settings")
    made = await client.post(
        "/settings/app-passwords",
        data={
            "label": "rclone on laptop",
            "folder": "",
            "access": "write",
            "expiry": "1d",
            "csrf_token": _csrf(page),
        },
    )
    secret = re.search(r'id="new-secret" value="([^"]+)"', made.text)
    assert secret is not None
    auth = httpx.BasicAuth("me", secret.group(1))
    async with _other_client(client, "rclone") as dav:
        for n in range(3):
            put = await dav.put(f"/dav/files/f{n}.txt", content=b"x", auth=auth)
            assert put.status_code == 201
        assert (await dav.get("/dav/files/f0.txt", auth=auth)).status_code == 200
    assert (await files.get("io.cozy.files.root-dir")).status_code == 200
    listed = (await client.get("/settings")).text
    assert "rclone on laptop uploaded 3 files" in listed
    assert "rclone on laptop read 1 file" in listed and "read 1 files" not in listed
    # The JSON endpoint is still there for scripts.
    assert (await client.get("/settings/access-log")).status_code == 200
