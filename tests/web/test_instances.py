"""Which instance a request is for (the Host header), and several stack processes agreeing.

"Two processes" are two app objects, each with its own services (its own CouchDB client and
caches) over the same CouchDB, as two `roost serve` behind a load balancer would be.
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
from roost.couch import CouchClient
from roost.instances import Instance
from roost.services import Services
from tests.conftest import PASSPHRASE

CONTACTS = "io.cozy.contacts"
NewInstance = Callable[..., Awaitable[Instance]]
IssueToken = Callable[..., Awaitable[str]]


@pytest.fixture(scope="module")
async def instance(new_instance: NewInstance) -> Instance:
    """One instance for the module (creating one hashes a passphrase: slow on purpose)."""
    return await new_instance("hosts")


def _client(app: Starlette, base_url: str = "http://roost.test") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def _listing(http: httpx.AsyncClient, host: str, token: str) -> httpx.Response:
    return await http.get(
        f"/data/{CONTACTS}/_all_docs",
        headers={"Host": host, "Authorization": f"Bearer {token}"},
    )


# -- Host → instance ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda domain: domain, id="exact"),
        pytest.param(lambda domain: f"{domain}:8443", id="with-port"),
        pytest.param(lambda domain: domain.upper(), id="upper-case"),
        pytest.param(lambda domain: f"{domain.title()}:80", id="mixed-case-with-port"),
        pytest.param(lambda domain: f"{domain}.", id="trailing-dot"),
    ],
)
async def test_the_host_header_finds_the_instance(
    app: Starlette, instance: Instance, issue_token: IssueToken, spell: Callable[[str], str]
) -> None:
    token = await issue_token(instance, CONTACTS)
    async with _client(app) as http:
        response = await _listing(http, spell(instance.domain), token)
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == []


@pytest.mark.parametrize("host", ["nobody.roost.test", "nobody.roost.test:8080", "127.0.0.1"])
async def test_an_unknown_host_is_404_json(app: Starlette, host: str) -> None:
    async with _client(app) as http:
        response = await http.get("/data/io.cozy.contacts/x", headers={"Host": host})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    expected_domain = host.split(":")[0]
    assert response.json() == {
        "error": "not_found",
        "reason": f"no instance is served at {expected_domain}",
    }


async def test_status_answers_on_any_host(app: Starlette) -> None:
    async with _client(app) as http:
        response = await http.get("/status", headers={"Host": "nobody.roost.test"})
    assert response.status_code == 200


async def test_an_app_sub_domain_belongs_to_its_instance(
    app: Starlette, instance: Instance, issue_token: IssueToken
) -> None:
    token = await issue_token(instance, CONTACTS)
    async with _client(app) as http:
        response = await _listing(http, f"drive.{instance.domain}", token)
    assert response.status_code == 200


async def test_a_token_is_only_valid_on_its_own_instance(
    app: Starlette, new_instance: NewInstance, issue_token: IssueToken
) -> None:
    alice, bob = await new_instance("alice"), await new_instance("bob")
    token = await issue_token(alice, CONTACTS)
    async with _client(app) as http:
        response = await _listing(http, bob.domain, token)
    assert response.status_code == 401


@pytest.fixture(scope="module")
async def default_app(
    config: Config, new_instance: NewInstance
) -> AsyncIterator[tuple[Starlette, Instance]]:
    """An app whose `default_instance` catches hosts that name no instance."""
    fallback = await new_instance("fallback")
    with_default = dataclasses.replace(config, default_instance=fallback.domain)
    services = Services.build(with_default, with_default.couchdb_url or "")
    try:
        yield create_app(with_default, services=services), fallback
    finally:
        await services.aclose()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8080", "localhost", "nobody.example"])
async def test_default_instance_serves_hosts_that_name_no_instance(
    default_app: tuple[Starlette, Instance], issue_token: IssueToken, host: str
) -> None:
    app, fallback = default_app
    token = await issue_token(fallback, CONTACTS)
    async with _client(app) as http:
        response = await _listing(http, host, token)
    assert response.status_code == 200, response.text


async def test_default_instance_does_not_capture_other_instances(
    default_app: tuple[Starlette, Instance], instance: Instance, issue_token: IssueToken
) -> None:
    app, fallback = default_app
    own_token = await issue_token(instance, CONTACTS)
    fallback_token = await issue_token(fallback, CONTACTS)
    async with _client(app) as http:
        own = await _listing(http, instance.domain, own_token)
        crossed = await _listing(http, instance.domain, fallback_token)
    assert own.status_code == 200
    assert crossed.status_code == 401


# -- two processes over one CouchDB --------------------------------------------------------


@pytest.fixture(scope="module")
async def second_process(config: Config) -> AsyncIterator[Any]:
    """Another app with its own services (own client, own caches) over the same CouchDB."""
    services = Services.build(config, config.couchdb_url or "")
    try:
        yield create_app(config, services=services), services
    finally:
        await services.aclose()


async def _poll(
    send: Callable[[], Awaitable[httpx.Response]], until: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """Ask again until `until` holds or 5 s have passed; returns the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while True:
        response = await send()
        if until(response) or loop.time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_an_instance_created_by_one_process_is_served_by_the_other(
    app: Starlette, second_process: Any, issue_token: IssueToken
) -> None:
    _, other_services = second_process
    domain = f"elsewhere{secrets.token_hex(3)}.roost.test"
    created = await other_services.instances.create(domain, PASSPHRASE)
    token = await issue_token(created, CONTACTS)
    async with _client(app) as http:
        response = await _listing(http, created.domain, token)
    assert response.status_code == 200, response.text


async def test_sessions_and_tokens_work_on_both_processes(
    app: Starlette, second_process: Any, instance: Instance, issue_token: IssueToken
) -> None:
    other_app, _ = second_process
    token = await issue_token(instance, CONTACTS)
    async with (
        _client(app, f"http://{instance.domain}") as first,
        _client(other_app, f"http://{instance.domain}") as second,
    ):
        login = await first.post("/auth/login", json={"passphrase": PASSPHRASE})
        assert login.status_code == 200
        second.cookies.set("roost_session", first.cookies["roost_session"])
        assert (await second.get("/data/_all_doctypes")).status_code == 200
        assert (await _listing(second, instance.domain, token)).status_code == 200

        # A document written through one process is read through the other.
        headers = {"Authorization": f"Bearer {token}"}
        created = await first.post(f"/data/{CONTACTS}/", json={"fullname": "Both"}, headers=headers)
        doc_id = created.json()["id"]
        fetched = await second.get(f"/data/{CONTACTS}/{doc_id}", headers=headers)
        assert fetched.json()["fullname"] == "Both"


async def test_a_token_revoked_on_one_process_stops_working_on_the_other(
    app: Starlette,
    second_process: Any,
    services: Services,
    new_instance: NewInstance,
    issue_token: IssueToken,
) -> None:
    other_app, _ = second_process
    instance = await new_instance("revoke2p")
    token = await issue_token(instance, CONTACTS)
    async with _client(app) as first, _client(other_app) as second:
        assert (await _listing(second, instance.domain, token)).status_code == 200
        # Revoke through the first process: delete the token's permission document.
        [permission] = await services.permission_docs.list(instance)
        pid = permission["_id"]
        await services.permission_docs.delete(instance, pid)
        assert (await _listing(first, instance.domain, token)).status_code == 401

        response = await _poll(
            lambda: _listing(second, instance.domain, token), lambda r: r.status_code != 200
        )
    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized",
        "reason": "invalid token: it has been revoked",
    }


async def test_revoke_all_on_one_process_stops_tokens_on_the_other(
    app: Starlette,
    second_process: Any,
    services: Services,
    new_instance: NewInstance,
    issue_token: IssueToken,
) -> None:
    other_app, _ = second_process
    instance = await new_instance("stamp2p")
    token = await issue_token(instance, CONTACTS)
    async with _client(other_app) as second:
        assert (await _listing(second, instance.domain, token)).status_code == 200
        await services.instances.revoke_all_tokens(instance)
        response = await _poll(
            lambda: _listing(second, instance.domain, token), lambda r: r.status_code != 200
        )
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "reason": "invalid token: revoked"}


async def test_an_instance_removed_on_one_process_disappears_from_the_other(
    second_process: Any,
    services: Services,
    config: Config,
    new_instance: NewInstance,
    issue_token: IssueToken,
) -> None:
    other_app, _ = second_process
    instance = await new_instance("removed2p")
    token = await issue_token(instance, CONTACTS)
    async with _client(other_app) as second:
        assert (await _listing(second, instance.domain, token)).status_code == 200
        await services.instances.remove(instance.domain)
        response = await _poll(
            lambda: _listing(second, instance.domain, token), lambda r: r.status_code != 200
        )
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "reason": f"no instance is served at {instance.domain}",
    }


async def test_the_global_database_lists_every_instance(
    config: Config, new_instance: NewInstance
) -> None:
    """An independent client sees instances where DESIGN §4 says they live."""
    instance = await new_instance("listed")
    store = CouchClient(config.couchdb_url or "")
    try:
        doc = await store.get_doc(f"{config.db_prefix}roost-global", instance.domain)
    finally:
        await store.aclose()
    assert doc["prefix"] == instance.prefix
    assert doc["passphrase_hash"].startswith("$argon2id$")
    assert PASSPHRASE not in str(doc)
