"""A token verified once is remembered (`roost.tokens.VerifiedTokens`): every way it stops
working still stops it on the very next request.

Each test first uses the token successfully, so the refusal that follows is answered with
the token already remembered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from roost.instances import Instance
from roost.permissions import InvalidToken, PermissionSet
from roost.services import Services
from roost.tokens import EXPIRY_LEEWAY_SECONDS, VerifiedTokens

CONTACTS = "io.cozy.contacts"
AUDIENCES = frozenset({"cli"})
NewInstance = Callable[..., Awaitable[Instance]]
IssueToken = Callable[..., Awaitable[str]]


def _client(app: Starlette, instance: Instance, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{instance.domain}",
        headers={"Authorization": f"Bearer {token}"},
    )


async def _read_back(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get(f"/data/{CONTACTS}/_all_docs")


async def test_a_new_security_stamp_refuses_a_remembered_token(
    app: Starlette, services: Services, new_instance: NewInstance, issue_token: IssueToken
) -> None:
    instance = await new_instance("vt-stamp")
    token = await issue_token(instance, CONTACTS)
    async with _client(app, instance, token) as http:
        assert (await _read_back(http)).status_code == 200
        await services.instances.revoke_all_tokens(instance)
        response = await _read_back(http)
    assert (response.status_code, response.json()) == (
        401,
        {"error": "unauthorized", "reason": "invalid token: revoked"},
    )


async def test_deleting_the_permission_document_refuses_a_remembered_token(
    app: Starlette, services: Services, new_instance: NewInstance
) -> None:
    instance = await new_instance("vt-revoke")
    doc = await services.permission_docs.create(
        instance, "cli", PermissionSet.from_inline(CONTACTS)
    )
    token = services.tokens.sign(
        instance,
        audience="cli",
        subject="test",
        permission_id=doc["_id"],
        ttl=timedelta(minutes=10),
    )
    async with _client(app, instance, token) as http:
        assert (await _read_back(http)).status_code == 200
        await services.permission_docs.delete(instance, doc["_id"])
        response = await _read_back(http)
    assert (response.status_code, response.json()) == (
        401,
        {"error": "unauthorized", "reason": "invalid token: it has been revoked"},
    )


async def test_a_remembered_token_is_refused_by_another_instance(
    app: Starlette, new_instance: NewInstance, issue_token: IssueToken
) -> None:
    alice, bob = await new_instance("vt-alice"), await new_instance("vt-bob")
    token = await issue_token(alice, CONTACTS)
    async with _client(app, alice, token) as http:
        assert (await _read_back(http)).status_code == 200
    async with _client(app, bob, token) as http:
        response = await _read_back(http)
    assert response.status_code == 401
    assert response.json()["reason"].startswith("invalid token: ")


async def test_an_altered_copy_of_a_remembered_token_is_refused(
    app: Starlette, new_instance: NewInstance, issue_token: IssueToken
) -> None:
    instance = await new_instance("vt-tamper")
    token = await issue_token(instance, CONTACTS)
    header, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    altered = f"{header}.{payload}.{flipped}{signature[1:]}"
    async with _client(app, instance, token) as http:
        assert (await _read_back(http)).status_code == 200
    async with _client(app, instance, altered) as http:
        response = await _read_back(http)
    assert response.status_code == 401


async def test_a_remembered_token_expires_on_time(
    services: Services, new_instance: NewInstance
) -> None:
    instance = await new_instance("vt-expiry")
    token = services.tokens.sign(
        instance, audience="cli", subject="test", permission_id="p", ttl=timedelta(minutes=1)
    )
    now = [time.time()]
    tokens = VerifiedTokens(clock=lambda: now[0])
    claims = tokens.verify(instance, token, AUDIENCES)
    assert claims.expires_at is not None
    expiry = claims.expires_at.timestamp()
    now[0] = expiry + EXPIRY_LEEWAY_SECONDS
    assert tokens.verify(instance, token, AUDIENCES) == claims  # the leeway, as before
    now[0] = expiry + EXPIRY_LEEWAY_SECONDS + 1
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(instance, token, AUDIENCES)
    assert refused.value.reason == "expired"


async def test_a_remembered_token_keeps_its_audience_check(
    services: Services, new_instance: NewInstance
) -> None:
    instance = await new_instance("vt-audience")
    token = services.tokens.sign(
        instance, audience="cli", subject="test", permission_id="p", ttl=timedelta(minutes=1)
    )
    tokens = VerifiedTokens()
    tokens.verify(instance, token, AUDIENCES)
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(instance, token, frozenset({"app"}))
    assert refused.value.reason == "wrong audience"


async def test_past_its_size_the_oldest_are_forgotten_and_verified_again(
    services: Services, new_instance: NewInstance
) -> None:
    instance = await new_instance("vt-size")
    issued = [
        services.tokens.sign(instance, audience="cli", subject=f"s{n}", permission_id="p", ttl=None)
        for n in range(3)
    ]
    tokens = VerifiedTokens(max_entries=2)
    first = [tokens.verify(instance, token, AUDIENCES).subject for token in issued]
    again = [tokens.verify(instance, token, AUDIENCES).subject for token in issued]
    assert first == again == ["s0", "s1", "s2"]
