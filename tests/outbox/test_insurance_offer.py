"""Insurance offer through the outbox: computed inside, proposed, sent once after approval.

Real store, the real insurance-offer component (world roost:app@0.2.0), a real loopback HTTP
server as the insurer, the stack's egress fetcher. Nothing reaches the insurer until the
person approves; then exactly one request with exactly the shown body.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from roost.instances import Instance
from roost.outbox import OUTBOX_DOCTYPE
from roost.services import Services
from tests.conftest import LiveServer

from .helpers import (
    form_of,
    offer,
    offer_package,
    offers_computed,
    outbox_docs,
    propose,
    run,
)
from .insurer import Insurer, insurer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the guest once


@pytest.fixture
def the_insurer() -> Iterator[Insurer]:
    with insurer() as server:
        yield server


class Scene(NamedTuple):
    owner: httpx.AsyncClient
    instance: Instance
    services: Services
    insurer: Insurer


@pytest.fixture
async def scene(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
    the_insurer: Insurer,
) -> Scene:
    """The person's driving, the example installed to propose to `the_insurer`, and the
    offers it computed."""
    await offers_computed(owner, [the_insurer.origin])
    return Scene(owner, instance, services, the_insurer)


async def test_the_acceptance_leaves_once_and_only_after_approval(
    scene: Scene, live_server: LiveServer
) -> None:
    owner, instance, services, the_insurer = scene
    assert (await offer(owner, "offer-car1"))["status"] == "offered"

    proposal_id, page = await propose(owner, "offer-car1", the_insurer.acceptances)
    assert (await offer(owner, "offer-car1"))["status"] == "awaiting approval"
    # Proposed, not sent: the insurer has heard nothing.
    assert the_insurer.received == []

    # The person is told, with a link to the proposal.
    notes = await services.couch.all_docs(
        instance.db("io.cozy.notifications"), params={"include_docs": "true"}
    )
    [note] = [r["doc"] for r in notes["rows"] if r["doc"].get("category") == "outbox"]
    assert note["link"] == f"/outbox/{proposal_id}" and note["source"] == "insurance-offer"

    # The page shows what would leave, to whom, as readable fields - never raw braces.
    text = html.unescape(page)
    main = text[text.index("<main") :]
    assert the_insurer.origin in main and "POST" in main
    shown = await offer(owner, "offer-car1")
    assert "Monthly premium" in main and str(shown["monthly_premium"]) in main
    assert "{" not in main.split("<script", 1)[0]
    # The exact bytes are downloadable: only the acceptance, nothing about the driving.
    download = await owner.get(f"/outbox/{proposal_id}/body")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    sent_body = download.content
    assert json.loads(sent_body) == {
        "type": "acceptance",
        "offer": "offer-car1",
        "monthly_premium": shown["monthly_premium"],
        "annual_premium": shown["annual_premium"],
        "currency": "EUR",
        "quoted_on": "2026-11-22",
    }
    assert the_insurer.received == []

    # Approve twice at once, from two stack processes (own services, own store client):
    # one request leaves, the other click learns it was already sent.
    form = form_of(page, f"/outbox/{proposal_id}/approve")
    cookie = "; ".join(f"{name}={value}" for name, value in owner.cookies.items())
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"host": instance.domain, "cookie": cookie},
    ) as other_process:
        answers = await asyncio.gather(
            owner.post(f"/outbox/{proposal_id}/approve", data=form),
            other_process.post(f"/outbox/{proposal_id}/approve", data=form),
        )
    assert sorted(a.status_code for a in answers) == [303, 409], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 303)
    assert winner.headers["location"] == f"/outbox/{proposal_id}"
    assert "already" in html.unescape(next(a.text for a in answers if a.status_code == 409))
    again = await owner.post(f"/outbox/{proposal_id}/approve", data=form)
    assert again.status_code == 409

    [request] = the_insurer.received
    assert request.method == "POST" and request.path == "/v1/acceptances"
    assert request.body == sent_body
    assert request.headers["content-type"] == "application/json"

    [stored] = [d for d in await outbox_docs(services, instance) if d["_id"] == proposal_id]
    assert stored["state"] == "sent" and stored["answer"]["status"] == 201

    # Every sent message is in the access log, with where it went.
    await services.access_log.flush()
    entries = await services.access_log.query(instance, app="insurance-offer")
    [sent] = [
        e for e in entries if e.get("doctype") == OUTBOX_DOCTYPE and e.get("principal") == "owner"
    ]
    assert sent["ids"] == [proposal_id] and sent["verb"] == "POST"
    assert sent["egress_host"] == "127.0.0.1" and sent["status"] == 201
    assert sent["bytes_out"] == len(sent_body)
    # The proposal itself is logged as the app's host call, with no byte sent out.
    assert any(
        e.get("principal") == "app:insurance-offer" and e.get("doctype") == OUTBOX_DOCTYPE
        for e in entries
    )

    # Roost queued a run of the app to tell it; that run reads the answer.
    jobs = await services.jobs.list_jobs(instance, worker="app")
    [told] = [
        j for j in jobs if j.message.get("input", {}).get("outbox", {}).get("id") == proposal_id
    ]
    assert told.message == {
        "slug": "insurance-offer",
        "input": {"outbox": {"id": proposal_id, "state": "sent"}},
    }
    assert (await services.app_runs.run_job(instance, told))["output"]["answered"]
    accepted_offer = await offer(owner, "offer-car1")
    assert accepted_offer["status"] == "accepted"
    assert str(accepted_offer["policy"]).startswith("POL-")
    assert len(the_insurer.received) == 1


async def test_refused_and_expired_proposals_send_nothing(scene: Scene) -> None:
    owner, instance, services, the_insurer = scene

    # Refused: nothing leaves, and the app learns it on its next run.
    refused_id, page = await propose(owner, "offer-car2", the_insurer.acceptances)
    refused = await owner.post(
        f"/outbox/{refused_id}/refuse", data=form_of(page, f"/outbox/{refused_id}/refuse")
    )
    assert refused.status_code == 303
    approve_after = await owner.post(
        f"/outbox/{refused_id}/approve", data=form_of(page, f"/outbox/{refused_id}/approve")
    )
    assert approve_after.status_code == 409 and "refused" in approve_after.text
    assert the_insurer.received == []
    assert (await run(owner, {"answers_only": True}))["ok"]
    back = await offer(owner, "offer-car2")
    assert back["status"] == "offered" and back["last_acceptance"] == "refused"

    # Expired: time passes (the stored deadline moves into the past); approving sends nothing.
    expired_id, page = await propose(owner, "offer-car2", the_insurer.acceptances)
    form = form_of(page, f"/outbox/{expired_id}/approve")
    db = instance.db(OUTBOX_DOCTYPE)
    doc = await services.couch.get_doc(db, expired_id)
    doc["expires_at"] = "2026-01-01T00:00:00+00:00"
    await services.couch.put_doc(db, doc)
    form["rev"] = doc["_rev"]  # the person looks again: it is the same message, now expired
    late = await owner.post(f"/outbox/{expired_id}/approve", data=form)
    assert late.status_code == 409 and "expired" in late.text
    assert the_insurer.received == []
    assert (await services.couch.get_doc(db, expired_id))["state"] == "expired"
    listing = await owner.get("/outbox")
    assert listing.status_code == 200 and "Expired: not sent" in listing.text


async def test_a_changed_proposal_is_not_approved_unseen(scene: Scene) -> None:
    owner, instance, services, the_insurer = scene
    proposal_id, page = await propose(owner, "offer-car1", the_insurer.acceptances)
    form = form_of(page, f"/outbox/{proposal_id}/approve")
    db = instance.db(OUTBOX_DOCTYPE)
    doc = await services.couch.get_doc(db, proposal_id)
    doc["body"] = doc["body"].replace("acceptance", "something else")
    await services.couch.put_doc(db, doc)
    stale = await owner.post(f"/outbox/{proposal_id}/approve", data=form)
    assert stale.status_code == 409 and "changed since you saw it" in html.unescape(stale.text)
    assert the_insurer.received == []
    # No CSRF token, or another's: refused, nothing sent.
    forged = await owner.post(
        f"/outbox/{proposal_id}/approve", data={"csrf_token": "x", "rev": doc["_rev"]}
    )
    assert forged.status_code == 403
    assert the_insurer.received == []
    assert (await services.couch.get_doc(db, proposal_id))["state"] == "proposed"


async def test_an_app_without_the_outbox_grant_cannot_propose(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
    the_insurer: Insurer,
) -> None:
    await offers_computed(owner, None)
    url = the_insurer.acceptances
    refused = await run(owner, {"accept": "offer-car1", "insurer_url": url})
    assert refused["ok"] is False and refused["error"]["error"] == "forbidden"
    assert await outbox_docs(services, instance) == []
    assert (await offer(owner, "offer-car1"))["status"] == "offered"

    # With the grant, but to a destination it does not name: refused too, nothing stored.
    upgraded = await owner.post(
        "/apps/install?consent=true",
        content=offer_package(["https://quotes.insurer.example"]),
        headers={"content-type": "application/gzip"},
    )
    assert upgraded.status_code == 201, upgraded.text
    elsewhere = await run(owner, {"accept": "offer-car1", "insurer_url": url})
    assert elsewhere["ok"] is False and elsewhere["error"]["error"] == "forbidden"
    assert await outbox_docs(services, instance) == []
    # Nor may an app write proposals through the data API: the doctype is the stack's.
    assert (await owner.post(f"/data/{OUTBOX_DOCTYPE}/", json={"state": "sent"})).status_code == 403
    assert await outbox_docs(services, instance) == []
    assert the_insurer.received == []


async def test_a_proposal_of_an_uninstalled_app_is_never_sent(scene: Scene) -> None:
    owner, instance, services, the_insurer = scene
    proposal_id, page = await propose(owner, "offer-car1", the_insurer.acceptances)
    assert (await owner.delete("/apps/insurance-offer")).status_code == 200
    late = await owner.post(
        f"/outbox/{proposal_id}/approve", data=form_of(page, f"/outbox/{proposal_id}/approve")
    )
    assert late.status_code == 409 and "was removed" in html.unescape(late.text)
    assert the_insurer.received == []
    stored = await services.couch.get_doc(instance.db(OUTBOX_DOCTYPE), proposal_id)
    assert stored["state"] == "proposed" and stored["sent_at"] is None
