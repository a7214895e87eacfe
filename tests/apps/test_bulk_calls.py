"""World 0.3.0's bulk calls (`data.get-many`, `data.create-many`, `data.update-many`) on the
real stack: each
document goes through the one permission decision and the doctype's schema on its own, the
others are written; a refused document is absent afterwards and leaves an access entry; a
call over the caps is refused whole with a clear error and writes nothing."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.apps.host.data import MAX_BULK_DOCS
from roost.instances import Instance
from roost.services import Services

from .conftest import build
from .stack_helpers import install

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

GUEST = Path(__file__).resolve().parent / "guests" / "bulk"
OPERATIONS = "io.cozy.bank.operations"


@pytest.fixture(scope="session")
def bulk_package() -> bytes:
    build(GUEST)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name in ("manifest.json", "app.wasm"):
            tar.add(GUEST / name, arcname=f"bulk-probe/{name}")
    return buf.getvalue()


def operation(doc_id: str | None, account: str, amount: Any = -4.5) -> dict[str, Any]:
    doc: dict[str, Any] = {"label": "CB BOULANGERIE", "amount": amount, "date": "2026-03-02"}
    doc["account"] = account
    if doc_id is not None:
        doc["_id"] = doc_id
    return doc


async def seed(owner: httpx.AsyncClient, doc: dict[str, Any]) -> None:
    body = {k: v for k, v in doc.items() if k != "_id"}
    made = await owner.put(f"/data/{OPERATIONS}/{doc['_id']}", json=body)
    assert made.status_code in (200, 201), made.text


async def call(owner: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    ran = await owner.post("/apps/bulk-probe/run", json={"doctype": OPERATIONS, **body})
    assert ran.status_code == 200, ran.text
    output: dict[str, Any] = ran.json()["output"]
    return output


async def stored(services: Services, instance: Instance) -> dict[str, dict[str, Any]]:
    answer = await services.couch.all_docs(instance.db(OPERATIONS), params={"include_docs": True})
    return {row["id"]: row["doc"] for row in answer.get("rows", []) if "doc" in row}


async def test_create_many_decides_and_validates_each_document_on_its_own(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
    bulk_package: bytes,
) -> None:
    await install(owner, bulk_package)
    await seed(owner, operation("taken", "acc-mine"))
    docs = [
        operation("op-1", "acc-mine"),
        operation(None, "acc-mine", amount=12),
        operation("theirs", "acc-other"),
        operation("bad", "acc-mine", amount="a lot"),
        operation("taken", "acc-mine"),
        operation("op-1", "acc-mine"),
    ]
    rows = (await call(owner, {"call": "create-many", "docs": docs}))["ok"]
    assert len(rows) == len(docs)
    assert rows[0]["ok"] is True and rows[0]["id"] == "op-1" and rows[0]["rev"].startswith("1-")
    assert rows[1]["ok"] is True and rows[1]["id"]
    # Outside the grant: what a single `create` answers, the row of a missing document.
    assert rows[2] == {"id": "theirs", "error": "not_found", "message": "missing"}
    assert rows[3]["id"] == "bad" and rows[3]["error"] == "invalid"
    assert rows[4]["id"] == "taken" and rows[4]["error"] == "conflict"
    assert rows[5]["id"] == "op-1" and rows[5]["error"] == "invalid"
    after = await stored(services, instance)
    assert set(after) == {"taken", "op-1", rows[1]["id"]}
    assert after["op-1"]["cozyMetadata"]["createdByApp"] == "bulk-probe"
    await services.access_log.flush()
    entries = await services.access_log.query(instance, app="bulk-probe")
    refused = [e for e in entries if e.get("status") == 403 and e.get("doctype") == OPERATIONS]
    assert refused and "theirs" in refused[0]["ids"]


async def test_get_many_and_update_many_answer_hidden_documents_as_missing_ones(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
    bulk_package: bytes,
) -> None:
    await install(owner, bulk_package)
    for doc in ("mine", "acc-mine"), ("stale", "acc-mine"), ("theirs", "acc-other"):
        await seed(owner, operation(*doc))
    before = await stored(services, instance)
    read = (await call(owner, {"call": "get-many", "docs": ["mine", "theirs", "nowhere"]}))["ok"]
    assert read[0] == before["mine"]
    # Outside the grant, exactly as absent.
    assert read[1] == {"id": "theirs", "error": "not_found", "message": "missing"}
    assert read[2] == {"id": "nowhere", "error": "not_found", "message": "missing"}
    updates = [
        {**before["mine"], "label": "CB BOULANGERIE DU COIN"},
        {**before["stale"], "_rev": "1-0000", "label": "changed"},
        {**before["theirs"], "label": "changed"},
        {**operation("nowhere", "acc-mine"), "_rev": "1-0000"},
        {**before["mine"], "account": "acc-other"},
    ]
    rows = (await call(owner, {"call": "update-many", "docs": updates}))["ok"]
    assert rows[0]["ok"] is True and rows[0]["rev"].startswith("2-")
    assert rows[1]["id"] == "stale" and rows[1]["error"] == "conflict"
    # Outside the grant: exactly the row of a document that does not exist.
    assert rows[2] == {"id": "theirs", "error": "not_found", "message": "missing"}
    assert rows[3] == {"id": "nowhere", "error": "not_found", "message": "missing"}
    assert rows[4]["id"] == "mine" and rows[4]["error"] == "invalid"  # twice in one call
    after = await stored(services, instance)
    assert after["mine"]["label"] == "CB BOULANGERIE DU COIN"
    assert after["stale"] == before["stale"] and after["theirs"] == before["theirs"]


async def test_a_call_over_the_caps_is_refused_whole_and_writes_nothing(
    owner: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    stack_apps_ready: Path,
    bulk_package: bytes,
) -> None:
    await install(owner, bulk_package)
    docs = [operation(f"op-{i}", "acc-mine") for i in range(MAX_BULK_DOCS + 1)]
    over = await call(owner, {"call": "create-many", "docs": docs})
    assert over["err"]["error"] == "too_large"
    assert f"over the {MAX_BULK_DOCS}" in over["err"]["message"]
    big = [operation(f"big-{i}", "acc-mine") for i in range(8)]
    heavy = await call(owner, {"call": "create-many", "docs": big, "pad": 600_000})
    assert heavy["err"]["error"] == "too_large" and "bytes" in heavy["err"]["message"]
    wrong = await call(owner, {"call": "create-many", "raw": json.dumps({"docs": []})})
    assert wrong["err"] == {"error": "invalid", "message": "the documents must be a JSON array"}
    assert await stored(services, instance) == {}
