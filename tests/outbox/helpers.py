"""Driving the insurance-offer example through the stack, as the person would."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from roost.instances import Instance
from roost.outbox import OUTBOX_DOCTYPE
from roost.services import Services
from tests.apps.stack_helpers import install, package

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "apps" / "insurance-offer"
MANIFEST = json.loads((EXAMPLE / "manifest.json").read_text())
AS_OF = {"as_of": "2026-11-22", "months": 12}


def offer_package(destinations: list[str] | None) -> bytes:
    """The example, its outbox grant pointed at `destinations` (None: no outbox grant)."""
    permissions: dict[str, Any] = json.loads(json.dumps(MANIFEST["permissions"]))
    if destinations is None:
        del permissions["outbox"]
    else:
        permissions["outbox"]["values"] = destinations
    return package("insurance-offer", manifest_changes={"permissions": permissions})


async def seed_driving(owner: httpx.AsyncClient) -> None:
    for car, make, value in (("car1", "Renault", 14000), ("car2", "Peugeot", 23000)):
        made = await owner.put(
            f"/data/io.roost.vehicles/{car}",
            json={"make": make, "model": "Zoe", "year": 2021, "energy": "electric", "value": value},
        )
        assert made.status_code in (200, 201), made.text
        for month in range(1, 13):
            trip = {
                "vehicle": car,
                "date": f"2026-{month:02d}-10",
                "distance_km": 600,
                "night_km": 60,
                "harsh_brakes": 1,
                "speeding_km": 0,
            }
            assert (await owner.post("/data/io.roost.driving.trips/", json=trip)).status_code < 300


async def run(owner: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    ran = await owner.post("/apps/insurance-offer/run", json=payload)
    assert ran.status_code in (200, 422), ran.text
    body: dict[str, Any] = ran.json()
    return body


async def offers_computed(owner: httpx.AsyncClient, destinations: list[str] | None) -> None:
    """The person's driving stored, the example installed with its outbox grant pointed at
    `destinations`, and a first run that computed the offers."""
    await seed_driving(owner)
    await install(owner, offer_package(destinations))
    computed = await run(owner, AS_OF)
    assert computed["ok"], computed


async def propose(owner: httpx.AsyncClient, offer_id: str, insurer_url: str) -> tuple[str, str]:
    """The app proposes to accept `offer_id` at `insurer_url`: the proposal's id, and its
    page as the person sees it."""
    proposed = await run(owner, {"accept": offer_id, "insurer_url": insurer_url})
    assert proposed["ok"], proposed
    proposal_id = str(proposed["output"]["proposal"])
    page = await owner.get(f"/outbox/{proposal_id}")
    assert page.status_code == 200, page.text
    return proposal_id, page.text


async def offer(owner: httpx.AsyncClient, offer_id: str) -> dict[str, Any]:
    got = await owner.get(f"/data/io.roost.insurance.offers/{offer_id}")
    assert got.status_code == 200, got.text
    doc: dict[str, Any] = got.json()
    return doc


def form_of(page: str, action: str) -> dict[str, str]:
    match = re.search(
        rf'action="{re.escape(action)}".*?name="csrf_token" value="([^"]+)".*?'
        r'name="rev" value="([^"]+)"',
        page,
        re.S,
    )
    assert match is not None, f"no form posting to {action}"
    return {"csrf_token": match.group(1), "rev": match.group(2)}


async def outbox_docs(services: Services, instance: Instance) -> list[dict[str, Any]]:
    result = await services.couch.all_docs(
        instance.db(OUTBOX_DOCTYPE), params={"include_docs": "true"}
    )
    return [row["doc"] for row in result["rows"]]
