"""The `roost` command line, run through click's CliRunner against the suite's store.

Each command is a separate "process" (its own services); what it does is then checked
through the app, as an operator would see it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette

from roost.cli import main
from roost.embedded_store import free_port
from roost.processes import process_is_running
from roost.store_runtime import DataDirectoryLock
from tests.conftest import PASSPHRASE, Store
from tests.roost_process import ROOST, RoostServer, roost_env, run_cli

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
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
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


# -- every command beside a running `roost serve` on the same data directory ---------------
#
# Real processes: `roost serve` with its embedded store, and each command a `roost`
# subprocess on the same data directory, as a person would type it in a second terminal.
# The command must reach the server's store (never open its files a second time), and what
# it prints must work against that server.


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    server = RoostServer(tmp_path_factory.mktemp("serving") / "data")
    try:
        yield server.start()
        assert server.stop() == 0
        assert server.left_behind() == set()
    finally:
        server.kill_all()


def _cli(server: RoostServer, *args: str, input: str | None = None) -> CompletedProcess[str]:
    result = run_cli(server.data_dir, *args, input=input)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _served_store_is_unchanged(server: RoostServer, store_pid: int | None) -> None:
    """The server still owns the same store: no command started (or stopped) one."""
    runtime = server.runtime()
    assert runtime is not None and runtime.store_pid == store_pid
    assert runtime.owner_pid == server.pid


def _poll_http(send: Callable[[], httpx.Response], until: Callable[[httpx.Response], bool]) -> Any:
    deadline = time.monotonic() + 10.0
    while not until(response := send()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return response


def test_instances_commands_beside_a_server(serving: RoostServer) -> None:
    store_pid = serving.running().store_pid
    domain = f"served{secrets.token_hex(3)}.localhost"

    added = _cli(serving, "instances", "add", domain, "--quota", "5GB", input=f"{PASSPHRASE}\n" * 2)
    assert added.returncode == 0, added.stderr
    assert added.stdout.endswith(f"created {domain}\n")
    login = httpx.post(
        f"{serving.url}/auth/login", json={"passphrase": PASSPHRASE}, headers={"Host": domain}
    )
    assert login.status_code == 200, login.text

    listed = _cli(serving, "instances", "ls", "--json")
    assert {e["domain"]: e["quota_bytes"] for e in json.loads(listed.stdout)}[domain] == 5 * 10**9
    plain = _cli(serving, "instances", "ls")
    assert any(line.startswith(f"{domain}\t5000000000 B") for line in plain.stdout.splitlines())
    quota = _cli(serving, "instances", "quota", domain, "none")
    assert (quota.returncode, quota.stdout) == (0, f"quota of {domain}: none\n")

    removed = _cli(serving, "instances", "rm", domain, "--yes")
    assert (removed.returncode, removed.stdout) == (0, f"removed {domain}\n")
    gone = _poll_http(
        lambda: httpx.get(f"{serving.url}/status", headers={"Host": domain}),
        lambda r: r.status_code == 200,
    )
    assert gone.status_code == 200
    after = _poll_http(
        lambda: httpx.post(
            f"{serving.url}/auth/login", json={"passphrase": PASSPHRASE}, headers={"Host": domain}
        ),
        lambda r: r.status_code == 404,
    )
    assert after.status_code == 404
    _served_store_is_unchanged(serving, store_pid)


def test_token_and_apppasswords_beside_a_server_work_against_it(serving: RoostServer) -> None:
    store_pid = serving.running().store_pid
    domain = f"tokens{secrets.token_hex(3)}.localhost"
    assert _cli(serving, "instances", "add", domain, "--passphrase", PASSPHRASE).returncode == 0

    issued = _cli(serving, "token", domain, "--scope", CONTACTS, "--ttl", "1h")
    assert issued.returncode == 0, issued.stderr
    bearer = {"Host": domain, "Authorization": f"Bearer {issued.stdout.strip()}"}
    created = httpx.post(f"{serving.url}/data/{CONTACTS}/", json={"fullname": "A"}, headers=bearer)
    assert created.status_code == 201, created.text

    added = _cli(
        serving, "apppasswords", "add", domain, "--label", "rclone", "--scope", f"{CONTACTS}:GET"
    )
    assert added.returncode == 0, added.stderr
    assert added.stderr == "This password is shown once; store it now.\n"
    secret = added.stdout.strip()
    basic = base64.b64encode(f"me:{secret}".encode()).decode()
    with_password = {"Host": domain, "Authorization": f"Basic {basic}"}
    read = httpx.get(f"{serving.url}/data/{CONTACTS}/{created.json()['id']}", headers=with_password)
    assert (read.status_code, read.json()["fullname"]) == (200, "A")

    [line] = _cli(serving, "apppasswords", "ls", domain).stdout.splitlines()
    password_id = line.split("\t")[0]
    revoked = _cli(serving, "apppasswords", "revoke", domain, password_id)
    assert (revoked.returncode, revoked.stdout) == (0, f"revoked {password_id}\n")
    refused = _poll_http(
        lambda: httpx.get(f"{serving.url}/data/{CONTACTS}/_all_docs", headers=with_password),
        lambda r: r.status_code == 401,
    )
    assert refused.status_code == 401
    _served_store_is_unchanged(serving, store_pid)


def test_apps_commands_beside_a_server(serving: RoostServer) -> None:
    from tests.apps.conftest import EXAMPLES, build

    build(EXAMPLES / "doc-stats")
    store_pid = serving.running().store_pid
    domain = f"apps{secrets.token_hex(3)}.localhost"
    assert _cli(serving, "instances", "add", domain, "--passphrase", PASSPHRASE).returncode == 0

    installed = _cli(serving, "apps", "install", domain, str(EXAMPLES / "doc-stats"), "--yes")
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.endswith("installed doc-stats 0.1.0 (webapp)\n")
    [row] = json.loads(_cli(serving, "apps", "ls", domain, "--json").stdout)
    assert (row["slug"], row["version"]) == ("doc-stats", "0.1.0")

    ran = _cli(serving, "apps", "run", domain, "doc-stats")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["ok"] is True

    removed = _cli(serving, "apps", "rm", domain, "doc-stats")
    assert (removed.returncode, removed.stdout) == (0, "removed doc-stats\n")
    assert json.loads(_cli(serving, "apps", "ls", domain, "--json").stdout) == []
    _served_store_is_unchanged(serving, store_pid)


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        pytest.param(
            ["token", "{domain}", "--scope", CONTACTS],
            1,
            "error: no instance is served at {domain}\n",
            id="unknown-instance",
        ),
        pytest.param(
            ["apps", "ls", "{domain}"],
            1,
            "error: no instance is served at {domain}\n",
            id="apps-unknown-instance",
        ),
        pytest.param(
            ["token", "{domain}", "--scope", "io.cozy.*"],
            2,
            "error: Invalid value for '--scope': invalid rule 'io.cozy.*'",
            id="bad-scope",
        ),
        pytest.param(
            ["apppasswords", "add", "{domain}"],
            2,
            "error: Missing option '--label'.",
            id="missing-option",
        ),
        pytest.param(["instances", "frobnicate"], 2, "error: No such command", id="bad-command"),
        pytest.param(
            ["apps", "run", "{domain}", "doc-stats", "{{not json"],
            2,
            "error: Invalid value: INPUT_JSON is not valid JSON",
            id="bad-json",
        ),
    ],
)
def test_cli_failures_beside_a_server_are_one_line(
    serving: RoostServer, args: list[str], exit_code: int, message: str
) -> None:
    domain = f"nobody{secrets.token_hex(3)}.localhost"

    result = _cli(serving, *(arg.format(domain=domain) for arg in args))

    assert result.returncode == exit_code
    assert result.stderr.startswith(message.format(domain=domain)), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
    listed = _cli(serving, "instances", "ls", "--json")
    assert domain not in {entry["domain"] for entry in json.loads(listed.stdout)}


def test_a_store_that_is_down_is_one_line(tmp_path: Path) -> None:
    env = roost_env(tmp_path / "data")
    env["ROOST_COUCHDB_URL"] = f"http://127.0.0.1:{free_port()}"

    result = run_cli(tmp_path / "data", "instances", "ls", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("error: CouchDB is unreachable")
    assert result.stderr.count("\n") == 1, result.stderr


def test_commands_without_a_server_start_and_stop_their_own_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    domain = f"alone{secrets.token_hex(3)}.localhost"

    added = run_cli(data, "instances", "add", domain, "--passphrase", PASSPHRASE)
    listed = run_cli(data, "instances", "ls")

    assert added.returncode == 0, added.stderr
    assert listed.stdout.startswith(f"{domain}\t")
    # The command's own store is stopped and unrecorded; a server then serves that data.
    assert not (data / "store-runtime.json").exists()
    server = RoostServer(data)
    try:
        server.start()
        login = httpx.post(
            f"{server.url}/auth/login", json={"passphrase": PASSPHRASE}, headers={"Host": domain}
        )
        assert login.status_code == 200
        assert server.stop() == 0
        assert server.left_behind() == set()
    finally:
        server.kill_all()


def test_a_server_started_while_a_command_owns_the_store_is_refused(tmp_path: Path) -> None:
    from tests.apps.conftest import EXAMPLES, build

    build(EXAMPLES / "doc-stats")
    data = tmp_path / "data"
    domain = f"busy{secrets.token_hex(3)}.localhost"
    assert run_cli(data, "instances", "add", domain, "--passphrase", PASSPHRASE).returncode == 0
    # Without --yes the install waits for consent with its store running and the lock held.
    install = subprocess.Popen(
        [str(ROOST), "apps", "install", domain, str(EXAMPLES / "doc-stats")],
        env=roost_env(data),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = DataDirectoryLock(data)
        deadline = time.monotonic() + 120
        while (runtime := lock.read()) is None or runtime.store_pid is None:
            assert install.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert (runtime.role, runtime.owner_pid) == ("command", install.pid)

        refused = run_cli(data, "serve", "--port", str(free_port()))

        assert refused.returncode == 1
        assert refused.stderr == (
            f"error: the data directory {data} is in use by a roost command (pid {install.pid})\n"
        )
        out, err = install.communicate("n\n", timeout=60)
        assert "It will be able to:" in out
        assert install.returncode == 1
        assert err.endswith("Not installed.\n") and "Traceback" not in err
        # The command stopped its store and removed its record; nothing was installed.
        assert not process_is_running(runtime.store_pid)
        assert lock.read() is None
        assert json.loads(run_cli(data, "apps", "ls", domain, "--json").stdout) == []
    finally:
        if install.poll() is None:
            install.kill()
            install.wait()
