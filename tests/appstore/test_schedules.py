"""Schedules in plain words, from the triggers a connector has."""

from __future__ import annotations

import pytest

from roost.appstore.schedules import describe_schedule, describe_trigger


@pytest.mark.parametrize(
    ("kind", "arguments", "words"),
    [
        ("@cron", "0 5 * * *", "Every day around 05:00 (UTC)"),
        ("@cron", "0 30 3 * * *", "Every day around 03:30 (UTC)"),
        ("@cron", "@daily", "Every day around 00:00 (UTC)"),
        ("@cron", "15 * * * *", "Every hour"),
        ("@cron", "0 */6 * * *", "Every 6 hours"),
        ("@cron", "0 8 * * mon", "Every Monday around 08:00 (UTC)"),
        ("@cron", "0 8 * * 7", "Every Sunday around 08:00 (UTC)"),
        ("@cron", "0 2 15 * *", "Every month on day 15 around 02:00 (UTC)"),
        ("@cron", "0 2 1 6 *", "On a regular schedule"),
        ("@cron", "1,2 2 * * *", "On a regular schedule"),
        ("@every", "24h", "Every day"),
        ("@every", "1h", "Every hour"),
        ("@every", "12h", "Every 12 hours"),
        ("@every", "2w", "Every 2 weeks"),
        ("@every", "30m", "Every 30 minutes"),
        ("@every", "45s", "On a regular schedule"),
        ("@webhook", "", "When another service calls its web address"),
        ("@event", "io.cozy.bank.operations:CREATED", "When your bank operations are added"),
        ("@event", "io.cozy.files:CREATED", "Runs when you add a file to your Drive"),
    ],
)
def test_trigger_words(kind: str, arguments: str, words: str) -> None:
    assert describe_trigger(kind, arguments).english() == words


def test_files_arriving_in_a_folder_name_the_folder() -> None:
    phrase = describe_trigger(
        "@event", "io.cozy.files:CREATED:dir123:dir_id", {"dir123": "/Bank statements"}
    )
    assert phrase.english() == "Runs when you add a file to /Bank statements"


def test_no_trigger_means_by_hand_and_duplicates_are_said_once() -> None:
    assert [p.english() for p in describe_schedule([])] == ["Only when you run it"]
    twice = describe_schedule([("@every", "24h"), ("@every", "1d"), ("@cron", "0 5 * * *")])
    assert [p.english() for p in twice] == ["Every day", "Every day around 05:00 (UTC)"]


def test_an_importer_names_the_folder_it_keeps_to_not_a_schedule() -> None:
    """Its trigger watches every file; the folder comes from its account or manifest."""
    phrase = describe_trigger(
        "@event", "io.cozy.files:CREATED,UPDATED", watched=["/Imports/Bank statements"]
    )
    assert phrase.english() == "Runs when you add a file to /Imports/Bank statements"
    # A trigger already kept to one folder names that folder, whatever is watched.
    kept = describe_trigger(
        "@event", "io.cozy.files:CREATED:dir1:dir_id", {"dir1": "/Scans"}, ["/Imports"]
    )
    assert kept.english() == "Runs when you add a file to /Scans"
