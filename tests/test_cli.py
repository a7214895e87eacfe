"""The `roost` command line, run through click's CliRunner against the suite's store.

Each command is a separate "process" (its own services); what it does is then checked
through the app, as an operator would see it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from roost.cli import main
from tests.conftest import PASSPHRASE, Store

CONTACTS = "io.cozy.contacts"

Run = Callable[..., Any]


@pytest.fixture
def roost(store: Store, db_prefix: str, tmp_path: Path) -> Run:
    """`await roost("instances", "ls")` → click Result; env points at this run's store."""
    env = {
        "ROOST_COUCHDB_URL": store.url,
        "ROOST_DB_PREFIX": db_prefix,
        "ROOST_DATA": str(tmp_path / "data"),
        "ROOST_CONFIG": None,
    }

    async def run(*args: str, input: str | None = None) -> Result:
        # In a thread: the command runs its own event loop (asyncio.run).
        return await asyncio.to_thread(
            CliRunner().invoke, main, list(args), input=input, env=env, catch_exceptions=False
        )

    return run


@pytest.fixture
async def http(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as client:
        yield client


def _domain(name: str = "cli") -> str:
    return f"{name}{secrets.token_hex(3)}.roost.test"


async def _ls(roost: Run) -> dict[str, dict[str, Any]]:
    result = await roost("instances", "ls", "--json")
    assert result.exit_code == 0, result.output
    return {entry["domain"]: entry for entry in json.loads(result.stdout)}


async def _poll(send: Callable[[], Any], until: Callable[[httpx.Response], bool]) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while True:
        response = await send()
        if until(response) or loop.time() > deadline:
            return response
        await asyncio.sleep(0.1)


# -- instances ----------------------------------------------------------------------------


async def test_instances_add_ls_quota_rm(roost: Run, http: httpx.AsyncClient) -> None:
    domain = _domain()

    added = await roost("instances", "add", domain, "--passphrase", PASSPHRASE, "--quota", "5GB")
    assert (added.exit_code, added.stdout) == (0, f"created {domain}\n")

    listed = await _ls(roost)
    assert listed[domain]["quota_bytes"] == 5_000_000_000
    plain = await roost("instances", "ls")
    [line] = [row for row in plain.stdout.splitlines() if row.startswith(domain)]
    assert line.split("\t")[:2] == [domain, "5000000000 B"]

    login = await http.post(
        "/auth/login", json={"passphrase": PASSPHRASE}, headers={"Host": domain}
    )
    assert login.status_code == 200

    for size, expected in (("2GiB", 2**31), ("none", None)):
        quota = await roost("instances", "quota", domain, size)
        assert (quota.exit_code, quota.stdout) == (0, f"quota of {domain}: {size}\n")
        assert (await _ls(roost))[domain]["quota_bytes"] == expected

    removed = await roost("instances", "rm", domain, "--yes")
    assert (removed.exit_code, removed.stdout) == (0, f"removed {domain}\n")
    assert domain not in await _ls(roost)
    gone = await _poll(
        lambda: http.get("/data/_all_doctypes", headers={"Host": domain}),
        lambda r: r.status_code == 404,
    )
    assert gone.json() == {"error": "not_found", "reason": f"no instance is served at {domain}"}


async def test_instances_add_prompts_for_the_passphrase(
    roost: Run, http: httpx.AsyncClient
) -> None:
    domain = _domain("prompt")
    added = await roost("instances", "add", domain, input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert added.exit_code == 0, added.output
    assert PASSPHRASE not in added.output
    login = await http.post(
        "/auth/login", json={"passphrase": PASSPHRASE}, headers={"Host": domain}
    )
    assert login.status_code == 200


async def test_instances_rm_asks_first(roost: Run) -> None:
    domain = _domain("keep")
    await roost("instances", "add", domain, "--passphrase", PASSPHRASE)
    refused = await roost("instances", "rm", domain, input="n\n")
    assert refused.exit_code == 1
    assert "Aborted" in refused.output
    assert domain in await _ls(roost)


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        pytest.param(
            ["instances", "add", "Not A Domain!", "--passphrase", PASSPHRASE],
            1,
            "error: invalid instance domain 'not a domain!': use a host name like "
            "alice.example.org\n",
            id="bad-domain",
        ),
        pytest.param(
            ["instances", "add", "{domain}", "--passphrase", "short"],
            1,
            "error: the passphrase needs at least 8 characters\n",
            id="short-passphrase",
        ),
        pytest.param(
            ["instances", "add", "{domain}", "--passphrase", PASSPHRASE, "--quota", "5 parsecs"],
            2,
            "invalid size '5 parsecs': use e.g. 500MB or 2GiB",
            id="bad-quota",
        ),
        pytest.param(
            ["instances", "rm", "{domain}", "--yes"],
            1,
            "error: no instance is served at {domain}\n",
            id="rm-unknown",
        ),
        pytest.param(
            ["instances", "quota", "{domain}", "1GB"],
            1,
            "error: no instance is served at {domain}\n",
            id="quota-unknown",
        ),
        pytest.param(
            ["token", "{domain}", "--scope", CONTACTS],
            1,
            "error: no instance is served at {domain}\n",
            id="token-unknown",
        ),
    ],
)
async def test_instance_commands_fail_cleanly(
    roost: Run, args: list[str], exit_code: int, message: str
) -> None:
    domain = _domain("missing")
    result = await roost(*(arg.format(domain=domain) for arg in args))
    assert result.exit_code == exit_code
    expected = message.format(domain=domain)
    if exit_code == 1:
        assert result.stderr == expected
    else:
        assert expected in result.stderr
    assert domain not in await _ls(roost)


async def test_adding_an_existing_instance_fails(roost: Run) -> None:
    domain = _domain("twice")
    assert (await roost("instances", "add", domain, "--passphrase", PASSPHRASE)).exit_code == 0
    again = await roost("instances", "add", domain, "--passphrase", PASSPHRASE)
    assert (again.exit_code, again.stderr) == (1, f"error: instance {domain} already exists\n")


async def test_a_removed_instance_leaves_no_data_behind(
    roost: Run, http: httpx.AsyncClient
) -> None:
    domain = _domain("reborn")
    await roost("instances", "add", domain, "--passphrase", PASSPHRASE)
    token = (await roost("token", domain, "--scope", CONTACTS)).stdout.strip()
    headers = {"Host": domain, "Authorization": f"Bearer {token}"}
    created = await http.post(f"/data/{CONTACTS}/", json={"fullname": "Old"}, headers=headers)
    assert created.status_code == 201
    await roost("instances", "rm", domain, "--yes")
    await roost("instances", "add", domain, "--passphrase", PASSPHRASE)
    token = (await roost("token", domain, "--scope", CONTACTS)).stdout.strip()
    headers = {"Host": domain, "Authorization": f"Bearer {token}"}

    listing = await _poll(
        lambda: http.get(f"/data/{CONTACTS}/_all_docs", headers=headers),
        lambda r: r.status_code == 200,
    )

    assert listing.status_code == 200
    assert listing.json()["rows"] == []


# -- tokens -------------------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


async def test_token_prints_a_jwt_that_works_against_the_app(
    roost: Run, http: httpx.AsyncClient
) -> None:
    domain = _domain("tok")
    await roost("instances", "add", domain, "--passphrase", PASSPHRASE)

    result = await roost("token", domain, "--scope", f"{CONTACTS}:GET", "--ttl", "1h")

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    claims = _claims(token)
    assert (claims["aud"], claims["iss"], claims["sub"]) == ("cli", domain, "cli")
    assert claims["exp"] - claims["iat"] == 3600
    headers = {"Host": domain, "Authorization": f"Bearer {token}"}
    read = await http.get(f"/data/{CONTACTS}/_all_docs", headers=headers)
    assert read.status_code == 200
    write = await http.post(f"/data/{CONTACTS}/", json={"fullname": "x"}, headers=headers)
    assert write.status_code == 403


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--scope", "io.cozy.*", "too broad a wildcard"),
        ("--scope", "Contacts", "is not a valid doctype name"),
        ("--ttl", "forever", "invalid duration 'forever'"),
    ],
)
async def test_token_refuses_bad_options(roost: Run, option: str, value: str, message: str) -> None:
    args = ["token", _domain(), "--scope", CONTACTS, option, value]
    result = await roost(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


# -- app passwords ------------------------------------------------------------------------


async def test_apppasswords_add_ls_revoke(roost: Run, http: httpx.AsyncClient) -> None:
    domain = _domain("ap")
    await roost("instances", "add", domain, "--passphrase", PASSPHRASE)

    added = await roost(
        "apppasswords", "add", domain, "--label", "laptop rclone", "--scope", f"{CONTACTS}:GET"
    )

    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert secret.startswith("roost-ap-")
    assert added.stderr == "This password is shown once; store it now.\n"
    basic = base64.b64encode(f"anyone:{secret}".encode()).decode()
    headers = {"Host": domain, "Authorization": f"Basic {basic}"}
    assert (await http.get(f"/data/{CONTACTS}/_all_docs", headers=headers)).status_code == 200
    write = await http.post(f"/data/{CONTACTS}/", json={"fullname": "x"}, headers=headers)
    assert write.status_code == 403

    listed = await roost("apppasswords", "ls", domain)
    [line] = listed.stdout.splitlines()
    password_id, label, scope, *_ = line.split("\t")
    assert secret.startswith(f"roost-ap-{password_id}-")
    assert (label, scope) == ("laptop rclone", f"{CONTACTS}:GET")
    assert secret not in listed.stdout

    revoked = await roost("apppasswords", "revoke", domain, password_id)
    assert (revoked.exit_code, revoked.stdout) == (0, f"revoked {password_id}\n")
    refused = await _poll(
        lambda: http.get(f"/data/{CONTACTS}/_all_docs", headers=headers),
        lambda r: r.status_code == 401,
    )
    assert refused.json() == {"error": "unauthorized", "reason": "invalid app password"}
    assert (await roost("apppasswords", "ls", domain)).stdout == ""

    again = await roost("apppasswords", "revoke", domain, password_id)
    assert (again.exit_code, again.stderr) == (1, f"error: no app password {password_id}\n")


async def test_the_config_file_option_is_used(
    store: Store, db_prefix: str, tmp_path: Path, roost: Run
) -> None:
    domain = _domain("cfg")
    await roost("instances", "add", domain, "--passphrase", PASSPHRASE)
    config_file = tmp_path / "roost.toml"
    config_file.write_text(
        f'[roost]\ncouchdb_url = "{store.url}"\ndb_prefix = "{db_prefix}"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
    )
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["--config", str(config_file), "instances", "ls"],
        env={"ROOST_COUCHDB_URL": None, "ROOST_DB_PREFIX": None, "ROOST_CONFIG": None},
    )
    assert result.exit_code == 0, result.output
    assert domain in result.stdout
