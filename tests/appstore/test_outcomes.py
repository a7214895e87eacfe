"""The connectors' error vocabulary: what a run's result reads as, for the person."""

from __future__ import annotations

import json

import pytest

from roost.apps.runner import RunResult
from roost.apps.services import AccessEntry
from roost.appstore.outcomes import VOCABULARY, Outcome, code_of, outcome_of_run


def result(ok: bool, *, error: object = None, reason: str | None = None, calls=()) -> RunResult:
    text = json.dumps(error) if isinstance(error, dict) else error
    return RunResult(
        ok=ok,
        output="{}" if ok else None,
        error=text if isinstance(text, str) or text is None else str(text),
        reason=reason if not ok else None,
        fuel_used=1,
        wall_seconds=0.01,
        host_calls=list(calls),
    )


def refused_fetch(host: str) -> AccessEntry:
    return AccessEntry(
        at=0.0,
        app="c",
        interface="http",
        function="fetch",
        verb="GET",
        doctype="",
        allowed=False,
        egress_host=host,
        error="egress_denied",
    )


@pytest.mark.parametrize(
    ("reported", "code", "title"),
    [
        ("LOGIN_FAILED", "LOGIN_FAILED", "Wrong password"),
        ("login_failed", "LOGIN_FAILED", "Wrong password"),
        ("LOGIN_FAILED.TOO_MANY_ATTEMPTS", "LOGIN_FAILED.TOO_MANY_ATTEMPTS", None),
        ("LOGIN_FAILED.NEEDS_SECRET", "LOGIN_FAILED", "Wrong password"),
        ("VENDOR_DOWN.BANK_DOWN", "VENDOR_DOWN", "The site did not answer"),
        ("timeout", "VENDOR_DOWN", "The site did not answer"),
        ("fetch_failed", "VENDOR_DOWN", "The site did not answer"),
        ("SITE_CHANGED", "SITE_CHANGED", "The site changed, the connector needs an update"),
        ("NOT_A_CODE", "UNKNOWN_ERROR", "The site changed, the connector needs an update"),
        (None, "UNKNOWN_ERROR", None),
        (42, "UNKNOWN_ERROR", None),
    ],
)
def test_reported_codes_read_as_plain_words(reported: object, code: str, title: str | None) -> None:
    assert code_of(reported) == code
    outcome = outcome_of_run(
        result(False, error={"error": reported, "message": "x"}, reason="app error")
    )
    assert outcome.code == code and not outcome.ok
    if title is not None:
        assert outcome.english() == title


def test_success_budget_and_crash() -> None:
    assert outcome_of_run(result(True)).ok
    assert outcome_of_run(result(True)).title == "Done"
    assert (
        outcome_of_run(result(False, reason="time limit", error="x")).english()
        == "Time limit reached"
    )
    assert outcome_of_run(result(False, reason="out of fuel", error="x")).code == "TIME_LIMIT"
    assert outcome_of_run(result(False, reason="memory limit", error="x")).code == "LIMIT_REACHED"
    crashed = outcome_of_run(result(False, reason="trap", error="the app crashed: KeyError"))
    assert crashed.english() == "The site changed, the connector needs an update"
    # Not JSON at all: still words, never a traceback.
    assert outcome_of_run(result(False, reason="app error", error="boom")).code == "UNKNOWN_ERROR"


def test_refused_access_names_what_was_refused() -> None:
    outcome = outcome_of_run(
        result(
            False,
            error={"error": "egress_denied", "message": "no"},
            reason="app error",
            calls=[refused_fetch("evil.example")],
        )
    )
    assert outcome.code == "ACCESS_REFUSED"
    assert outcome.english() == "The connector was refused access to evil.example"
    data = AccessEntry(
        at=0.0,
        app="c",
        interface="data",
        function="find",
        verb="GET",
        doctype="io.cozy.contacts",
        allowed=False,
        error="forbidden",
    )
    crashed = outcome_of_run(result(False, reason="trap", error="x", calls=[data]))
    assert crashed.english() == "The connector was refused access to your contacts"


def test_only_a_site_that_did_not_answer_is_worth_retrying() -> None:
    retried = {code for code, words in VOCABULARY.items() if not words.final}
    assert retried == {"OK", "VENDOR_DOWN"}


def test_outcome_round_trips_through_json() -> None:
    outcome = Outcome("ACCESS_REFUSED", {"what": "a.example"})
    assert Outcome.from_json(outcome.to_json()) == outcome
    assert Outcome.from_json("garbage").code == "UNKNOWN_ERROR"
    assert Outcome.from_json({"code": "LOGIN_FAILED", "values": []}).code == "LOGIN_FAILED"


def test_what_only_the_person_can_fix_pauses_scheduled_runs() -> None:
    waiting = {code for code in VOCABULARY if Outcome(code).waits_for_person}
    assert waiting == {
        "LOGIN_FAILED",
        "LOGIN_FAILED.TOO_MANY_ATTEMPTS",
        "USER_ACTION_NEEDED",
        "CHALLENGE_ASKED",
    }
    assert all(Outcome(code).final for code in waiting)
