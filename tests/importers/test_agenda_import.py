"""import-contacts-calendars end to end: vCard 3 and 4 files and an iCalendar file dropped
in the watched folder become `io.cozy.contacts` and `io.cozy.events`; a re-import
duplicates nothing; a malformed file writes nothing and says why."""

from __future__ import annotations

import pytest

from .agenda_samples import CONTACT_NAMES, ICAL, ICAL_BROKEN, VCARD3, VCARD4, VCARD_BROKEN
from .conftest import Drive

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the guests once

SLUG = "import-contacts-calendars"
FOLDER = "/Imports/Contacts and calendars"
CONTACTS, EVENTS = "io.cozy.contacts", "io.cozy.events"


async def test_contacts_and_events_import_once(drive: Drive) -> None:
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    files = {"apple.vcf": VCARD3, "android.vcf": VCARD4, "agenda.ics": ICAL}
    ids = {name: await drive.drop(folder, name, content) for name, content in files.items()}
    for name, file_id in ids.items():
        runs = await drive.runs(SLUG, file_id)
        assert [r.state for r in runs] == ["done"], (name, runs[-1].error)

    contacts = {c["fullname"]: c for c in await drive.docs(CONTACTS)}
    assert sorted(contacts) == CONTACT_NAMES
    jeanne = contacts["Dr Jeanne Marie Dupont"]
    assert jeanne["name"] == {
        "familyName": "Dupont",
        "givenName": "Jeanne",
        "additionalName": "Marie",
        "namePrefix": "Dr",
    }
    assert jeanne["email"] == [
        {"address": "jeanne.dupont@example.org", "primary": True, "type": "work"}
    ]
    assert [p["number"] for p in jeanne["phone"]] == ["+33 6 12 34 56 78", "+33 2 40 00 00 00"]
    assert jeanne["address"][0]["city"] == "Nantes" and jeanne["birthday"] == "1975-04-12"
    assert jeanne["company"] == "Hôpital Nord" and jeanne["jobTitle"] == "Cardiologue"
    assert jeanne["note"].startswith("Rendez-vous le mardi, de préférence")
    assert "être repliée" in jeanne["note"]  # the folded line is unfolded
    amelie = contacts["Amélie Bernard"]  # vCard 4.0
    assert amelie["phone"] == [{"number": "+33-1-23-45-67-89", "primary": False, "type": "home"}]
    assert amelie["address"][0]["postcode"] == "69002" and "birthday" not in amelie

    events = {e["label"]: e for e in await drive.docs(EVENTS)}
    yoga = events["Yoga"]
    assert yoga["start"] == "2026-10-06T18:30:00+02:00" and yoga["timezone"] == "Europe/Paris"
    assert yoga["rrule"] == "FREQ=WEEKLY;UNTIL=20261231T235959Z;BYDAY=TU"
    assert yoga["exdate"] == ["2026-10-27T18:30:00+01:00"]  # after the change to winter time
    moved = events["Yoga (moved to Wednesday)"]
    assert moved["recurrenceId"] == "2026-11-03T18:30:00+01:00" and moved["uid"] == yoga["uid"]
    assert events["Toussaint"]["allDay"] is True
    assert (events["Toussaint"]["start"], events["Toussaint"]["end"]) == (
        "2026-11-01",
        "2026-11-02",
    )
    call = events["Appel avec New York"]
    assert (call["start"], call["end"]) == ("2026-10-15T14:00:00Z", "2026-10-15T14:45:00Z")
    assert call["description"] == "Ordre du jour :\n1. budget\n2. planning"

    # The same files again, replaced in place: nothing new, nothing changed.
    before = {d["_id"]: d["_rev"] for d in await drive.docs(CONTACTS) + await drive.docs(EVENTS)}
    for name, file_id in ids.items():
        await drive.replace(file_id, files[name] + b"\r\n")
    for name, file_id in ids.items():
        runs = await drive.runs(SLUG, file_id)
        assert [r.state for r in runs] == ["done", "done"], (name, runs[-1].error)
    after = {d["_id"]: d["_rev"] for d in await drive.docs(CONTACTS) + await drive.docs(EVENTS)}
    assert after == before


async def test_malformed_cards_and_calendars_write_nothing(drive: Drive) -> None:
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    for name, content, why in (
        ("cut.vcf", VCARD_BROKEN, "not a valid vCard file"),
        ("broken.ics", ICAL_BROKEN, "event 1 is malformed"),
    ):
        file_id = await drive.drop(folder, name, content)
        runs = await drive.runs(SLUG, file_id)
        assert runs[-1].state == "errored" and f"{name}: {why}" in (runs[-1].error or "")
        ledger = await drive.ledger(SLUG, file_id)
        assert ledger is not None and ledger["state"] == "errored"
        assert ledger["error"].startswith(why)
    assert await drive.docs(CONTACTS) == [] and await drive.docs(EVENTS) == []
