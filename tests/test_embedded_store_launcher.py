"""What Roost's store launcher changes for speed keeps the CouchDB API exactly as it was.

The launcher keeps the design documents' `validate_doc_update` functions between writes,
reuses a database's measured size for two seconds and starts PouchDB Server with its request
log off (`roost.embedded_store`, `pouchdb_server/`). Against the session's store (the
embedded one, or Apache CouchDB with `ROOST_COUCHDB_URL`, which must answer the same):
validation follows every change of the design documents at once, through each way of
writing them, and `GET /{db}` still reports a size.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.config import Config
from roost.embedded_store import STORE_LOG_LEVEL, seed_store_config, store_environment

REFUSE_BAD = """function (newDoc, oldDoc, userCtx) {
  if (newDoc.bad) { throw({forbidden: 'bad documents are refused'}); }
}"""
REFUSE_UGLY = """function (newDoc, oldDoc, userCtx) {
  if (newDoc.ugly) { throw({forbidden: 'ugly documents are refused'}); }
}"""


@pytest.fixture
def db(config: Config) -> Iterator[tuple[httpx.Client, str]]:
    name = f"{config.db_prefix}launcher-{secrets.token_hex(3)}"
    with httpx.Client(base_url=config.couchdb_url or "", timeout=30) as client:
        assert client.put(f"/{name}").status_code in (201, 202)
        yield client, name
        client.delete(f"/{name}")


def _write(client: httpx.Client, db: str, doc: dict[str, object]) -> int:
    return client.post(f"/{db}", json=doc).status_code


def _bulk(client: httpx.Client, db: str, docs: list[dict[str, object]]) -> dict[str, str]:
    """Each document's outcome by id (PouchDB Server answers `_bulk_docs` out of order)."""
    rows = client.post(f"/{db}/_bulk_docs", json={"docs": docs}).json()
    return {str(row["id"]): str(row.get("error", "ok")) for row in rows}


def _ids(client: httpx.Client, db: str) -> set[str]:
    rows = client.get(f"/{db}/_all_docs").json()["rows"]
    return {row["id"] for row in rows if not row["id"].startswith("_design/")}


def test_validation_follows_every_change_of_the_design_documents(
    db: tuple[httpx.Client, str],
) -> None:
    client, name = db
    assert _write(client, name, {"_id": "plain-0", "bad": True}) in (201, 202)
    # A design document created by PUT applies to the very next write, single or bulk.
    design = {"_id": "_design/rules", "validate_doc_update": REFUSE_BAD}
    created = client.put(f"/{name}/_design/rules", json=design)
    assert created.status_code in (201, 202)
    assert _write(client, name, {"_id": "bad-1", "bad": True}) == 403
    assert _bulk(client, name, [{"_id": "ok-1"}, {"_id": "bad-2", "bad": True}]) == {
        "ok-1": "ok",
        "bad-2": "forbidden",
    }
    # Changed through _bulk_docs: the new rule, not the old one.
    changed = dict(design, _rev=created.json()["rev"], validate_doc_update=REFUSE_UGLY)
    assert _bulk(client, name, [changed]) == {"_design/rules": "ok"}
    assert _write(client, name, {"_id": "bad-3", "bad": True}) in (201, 202)
    assert _write(client, name, {"_id": "ugly-1", "ugly": True}) == 403
    # A second design document adds its rule to the first one's.
    second = {"_id": "_design/more", "validate_doc_update": REFUSE_BAD}
    assert client.put(f"/{name}/_design/more", json=second).status_code in (201, 202)
    assert _write(client, name, {"_id": "bad-4", "bad": True}) == 403
    assert _write(client, name, {"_id": "ugly-2", "ugly": True}) == 403
    # Deleted: its rule goes with it.
    current = client.get(f"/{name}/_design/more").json()
    deleted = client.delete(f"/{name}/_design/more", params={"rev": current["_rev"]})
    assert deleted.status_code in (200, 202)
    assert _write(client, name, {"_id": "bad-5", "bad": True}) in (201, 202)
    # Written by replication (new_edits false): it applies as well.
    replicated = {
        "_id": "_design/replicated",
        "_rev": "1-" + secrets.token_hex(16),
        "validate_doc_update": REFUSE_BAD,
    }
    written = client.post(f"/{name}/_bulk_docs", json={"docs": [replicated], "new_edits": False})
    assert written.status_code in (201, 202)
    assert _write(client, name, {"_id": "bad-6", "bad": True}) == 403
    # What was refused was never stored; what was accepted was.
    assert _ids(client, name) == {"plain-0", "ok-1", "bad-3", "bad-5"}


def test_a_database_deleted_and_created_again_forgets_its_rules(
    db: tuple[httpx.Client, str],
) -> None:
    client, name = db
    design = {"_id": "_design/rules", "validate_doc_update": REFUSE_BAD}
    assert client.put(f"/{name}/_design/rules", json=design).status_code in (201, 202)
    assert _write(client, name, {"bad": True}) == 403
    assert client.delete(f"/{name}").status_code in (200, 202)
    assert client.put(f"/{name}").status_code in (201, 202)
    assert _write(client, name, {"_id": "bad-again", "bad": True}) in (201, 202)
    assert _ids(client, name) == {"bad-again"}


def test_design_documents_listed_by_a_client_stay_current(
    db: tuple[httpx.Client, str],
) -> None:
    client, name = db
    query = {"startkey": '"_design/"', "endkey": '"_design0"', "include_docs": "true"}
    assert client.get(f"/{name}/_all_docs", params=query).json()["rows"] == []
    design = {"_id": "_design/rules", "validate_doc_update": REFUSE_BAD}
    assert client.put(f"/{name}/_design/rules", json=design).status_code in (201, 202)
    for n in range(3):
        _write(client, name, {"_id": f"d-{n}"})
    listed = client.get(f"/{name}/_all_docs", params=query).json()
    assert [row["id"] for row in listed["rows"]] == ["_design/rules"]
    assert listed["total_rows"] == 4


def test_database_information_still_reports_a_size(db: tuple[httpx.Client, str]) -> None:
    client, name = db
    for n in range(5):
        _write(client, name, {"_id": f"s-{n}", "text": "x" * 2000})
    info = client.get(f"/{name}").json()
    assert info["doc_count"] == 5
    sizes = info.get("sizes", {}).get("file", info.get("disk_size"))
    assert isinstance(sizes, int) and sizes > 0


def test_the_store_config_gets_a_quiet_request_log_and_keeps_what_an_operator_set(
    tmp_path: Path,
) -> None:
    fresh = tmp_path / "fresh.json"
    seed_store_config(fresh)
    assert json.loads(fresh.read_text()) == {"log": {"level": STORE_LOG_LEVEL}}

    existing = tmp_path / "existing.json"
    existing.write_text(json.dumps({"couchdb": {"uuid": "u-1"}, "log": {"file": "x.txt"}}))
    seed_store_config(existing)
    assert json.loads(existing.read_text()) == {
        "couchdb": {"uuid": "u-1"},
        "log": {"file": "x.txt", "level": STORE_LOG_LEVEL},
    }

    chosen = tmp_path / "chosen.json"
    chosen.write_text(json.dumps({"log": {"level": "debug"}}))
    seed_store_config(chosen)
    assert json.loads(chosen.read_text()) == {"log": {"level": "debug"}}

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    seed_store_config(broken)
    assert broken.read_text() == "{not json"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "broken.json",
        "chosen.json",
        "existing.json",
        "fresh.json",
    ]


def test_the_store_runs_with_two_malloc_arenas_unless_the_operator_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert store_environment()["MALLOC_ARENA_MAX"] == "2"
    assert store_environment()["PATH"] == os.environ["PATH"]  # Roost's own, otherwise
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert store_environment()["MALLOC_ARENA_MAX"] == "8"
