"""import-consumption end to end: an Enedis export and a water provider's CSV dropped in the
watched folder become `io.roost.consumption.readings` (schema-checked on write); a
re-import duplicates nothing; a malformed export writes nothing and says why."""

from __future__ import annotations

import pytest

from .conftest import Drive
from .consumption_samples import (
    ENEDIS,
    ENEDIS_BAD,
    ENEDIS_CURVE_KWH,
    ENEDIS_DAILY_KWH,
    WATER,
    WATER_LITRES,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the guests once

SLUG = "import-consumption"
FOLDER = "/Imports/Consumption"
READINGS = "io.roost.consumption.readings"


async def test_enedis_and_water_exports_import_once(drive: Drive) -> None:
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    files = {"enedis.csv": ENEDIS, "eau.csv": WATER}
    ids = {name: await drive.drop(folder, name, content) for name, content in files.items()}
    for name, file_id in ids.items():
        runs = await drive.runs(SLUG, file_id)
        assert [r.state for r in runs] == ["done"], (name, runs[-1].error)

    readings = sorted(await drive.docs(READINGS), key=lambda r: (r["kind"], r["start"]))
    daily = [r for r in readings if r["kind"] == "daily" and r["energy"] == "electricity"]
    assert [r["value"] for r in daily] == ENEDIS_DAILY_KWH
    assert {(r["meter"], r["unit"], r["provider"]) for r in daily} == {
        ("09876543210123", "kWh", "enedis")
    }
    assert (daily[0]["date"], daily[0]["start"], daily[0]["end"]) == (
        "2026-10-01",
        "2026-10-01T00:00:00+02:00",
        "2026-10-02T00:00:00+02:00",
    )
    curve = [r for r in readings if r["kind"] == "load-curve"]
    assert [r["value"] for r in curve] == ENEDIS_CURVE_KWH
    assert curve[0]["start"] == "2026-10-03T00:00:00+02:00"  # Enedis stamps a step's end
    assert curve[0]["averagePower"] == 1200 and curve[0]["stepMinutes"] == 30
    water = [r for r in readings if r["energy"] == "water"]
    assert [r["value"] for r in water] == WATER_LITRES
    assert {(r["meter"], r["unit"]) for r in water} == {("W123456", "L")}

    before = {r["_id"]: r["_rev"] for r in readings}
    again = await drive.drop(folder, "enedis-again.csv", ENEDIS)
    runs = await drive.runs(SLUG, again)
    assert [r.state for r in runs] == ["done"]
    assert runs[-1].result["output"]["totals"][READINGS] == {
        "created": 0,
        "updated": 0,
        "unchanged": len(ENEDIS_DAILY_KWH) + len(ENEDIS_CURVE_KWH),
    }
    assert {r["_id"]: r["_rev"] for r in await drive.docs(READINGS)} == before


async def test_a_malformed_export_writes_nothing(drive: Drive) -> None:
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    file_id = await drive.drop(folder, "enedis.csv", ENEDIS_BAD)
    runs = await drive.runs(SLUG, file_id)
    assert runs[-1].state == "errored"
    assert "enedis.csv: line 5: '79x1' is not a number" in (runs[-1].error or "")
    ledger = await drive.ledger(SLUG, file_id)
    assert ledger is not None and ledger["error"] == "line 5: '79x1' is not a number"
    assert await drive.docs(READINGS) == []


async def test_the_folder_is_an_account_setting_and_run_now_catches_up(drive: Drive) -> None:
    # A file already in the chosen folder before the importer exists: no event will come.
    chosen = await drive.folder("/Maison/Relevés d'eau")
    water = await drive.drop(chosen, "eau.csv", WATER)
    await drive.install(SLUG)
    account = await drive.http.post(
        f"/apps/{SLUG}/accounts",
        json={"credentials": {"folder": "/Maison/Relevés d'eau"}, "label": "Eau"},
    )
    assert account.status_code == 201, account.text

    # "Run now" (no event) imports what the folder holds and was not imported yet.
    ran = await drive.http.post(f"/apps/{SLUG}/run", json={})
    assert ran.status_code == 200, ran.text
    assert [f["file"] for f in ran.json()["output"]["files"]] == ["eau.csv"]
    assert sorted(r["value"] for r in await drive.docs(READINGS)) == sorted(WATER_LITRES)
    ledger = await drive.ledger(SLUG, water)
    assert ledger is not None and ledger["state"] == "imported"
    assert ledger["counts"][READINGS]["created"] == len(WATER_LITRES)
    again = await drive.http.post(f"/apps/{SLUG}/run", json={})
    assert again.status_code == 200 and again.json()["output"]["files"] == []

    # The default folder is no longer watched once the account names another.
    default = await drive.folder(FOLDER)
    ignored = await drive.drop(default, "enedis.csv", ENEDIS)
    assert (await drive.runs(SLUG, ignored))[-1].result["output"]["files"] == []
    assert len(await drive.docs(READINGS)) == len(WATER_LITRES)
