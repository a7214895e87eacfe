"""`decide`: the one permission decision (allow, hide, deny) every path asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roost.permissions import (
    SOME_DOCUMENTS,
    DocumentTarget,
    Hidden,
    Outcome,
    PermissionDenied,
    PermissionSet,
    decide,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
FAMILY = PermissionSet.from_inline("io.cozy.contacts:GET:family:groups")
FAMILY_DOC = DocumentTarget({"_id": "a", "groups": ["family"]})
WORK_DOC = DocumentTarget({"_id": "b", "groups": ["work"]})


def test_a_document_inside_the_selector_is_allowed() -> None:
    assert decide(FAMILY, "GET", "io.cozy.contacts", FAMILY_DOC, now=NOW).allowed


def test_head_needs_get_and_options_is_always_allowed() -> None:
    assert decide(FAMILY, "HEAD", "io.cozy.contacts", FAMILY_DOC, now=NOW).allowed
    assert decide(PermissionSet(), "OPTIONS", "io.cozy.contacts", now=NOW).allowed


def test_a_document_outside_the_selector_is_hidden_not_denied() -> None:
    decision = decide(FAMILY, "GET", "io.cozy.contacts", WORK_DOC, now=NOW)
    assert decision.outcome is Outcome.HIDE
    with pytest.raises(Hidden):
        decision.enforce()


def test_a_write_on_a_readable_document_is_denied_openly() -> None:
    decision = decide(FAMILY, "PUT", "io.cozy.contacts", FAMILY_DOC, now=NOW)
    assert decision.outcome is Outcome.DENY
    with pytest.raises(PermissionDenied):
        decision.enforce()


def test_a_write_on_an_unreadable_document_is_hidden() -> None:
    writer = PermissionSet.from_inline("io.cozy.contacts:PUT:family:groups")
    assert decide(writer, "PUT", "io.cozy.contacts", WORK_DOC, now=NOW).hidden


def test_visible_decides_hide_or_deny_for_a_new_item() -> None:
    reader = PermissionSet.from_inline("io.cozy.contacts:GET:family:groups")
    parent_readable = decide(
        reader, "GET", "io.cozy.contacts", WORK_DOC, now=NOW, visible=FAMILY_DOC
    )
    assert parent_readable.outcome is Outcome.DENY


def test_no_rule_on_the_doctype_is_denied() -> None:
    decision = decide(FAMILY, "GET", "io.cozy.bank.operations", WORK_DOC, now=NOW)
    assert decision.outcome is Outcome.DENY
    assert decision.reason == "no GET permission on io.cozy.bank.operations"


def test_the_whole_doctype_needs_a_whole_doctype_rule() -> None:
    assert decide(FAMILY, "GET", "io.cozy.contacts", now=NOW).outcome is Outcome.DENY
    whole = PermissionSet.from_inline("io.cozy.contacts:GET")
    assert decide(whole, "GET", "io.cozy.contacts", now=NOW).allowed


def test_an_expired_set_is_denied_for_every_verb() -> None:
    expired = PermissionSet(rules=FAMILY.rules, expires_at=NOW - timedelta(seconds=1))
    for verb in ("GET", "POST", "PUT", "DELETE"):
        decision = decide(expired, verb, "io.cozy.contacts", FAMILY_DOC, now=NOW)
        assert decision.outcome is Outcome.DENY
        assert decision.reason == "this permission has expired"


def test_the_reserved_table_applies_on_the_data_surface_only() -> None:
    owner = PermissionSet.maximal_set()
    assert decide(owner, "GET", "io.cozy.permissions", now=NOW).outcome is Outcome.DENY
    assert decide(owner, "POST", "io.cozy.files", now=NOW).outcome is Outcome.DENY
    assert decide(owner, "GET", "io.cozy.files", now=NOW).allowed
    assert decide(owner, "POST", "io.cozy.files", now=NOW, surface="stack").allowed


def test_malformed_verbs_and_doctypes_are_denied() -> None:
    owner = PermissionSet.maximal_set()
    assert decide(owner, "TRACE", "io.cozy.contacts", now=NOW).outcome is Outcome.DENY
    assert decide(owner, "GET", "Not A Doctype", now=NOW).outcome is Outcome.DENY


def test_some_documents_needs_a_rule_for_the_verb_only() -> None:
    """The request-level gate of routes that then decide each document on its own."""
    assert decide(FAMILY, "GET", "io.cozy.contacts", SOME_DOCUMENTS, now=NOW).allowed
    refused = decide(FAMILY, "PUT", "io.cozy.contacts", SOME_DOCUMENTS, now=NOW)
    assert refused.outcome is Outcome.DENY
    assert refused.reason == "no PUT permission on io.cozy.contacts"
    expired = PermissionSet(rules=FAMILY.rules, expires_at=NOW - timedelta(seconds=1))
    gone = decide(expired, "GET", "io.cozy.contacts", SOME_DOCUMENTS, now=NOW)
    assert gone.outcome is Outcome.DENY


def test_a_decision_needs_the_current_time_and_refuses_an_expired_set() -> None:
    expired = PermissionSet(rules=FAMILY.rules, expires_at=NOW - timedelta(seconds=1))
    assert decide(FAMILY, "GET", "io.cozy.contacts", FAMILY_DOC, now=NOW).allowed
    with pytest.raises(PermissionDenied, match="expired"):
        decide(expired, "GET", "io.cozy.contacts", FAMILY_DOC, now=NOW).enforce()
    with pytest.raises(TypeError):
        decide(FAMILY, "GET", "io.cozy.contacts", FAMILY_DOC)  # type: ignore[call-arg]


def test_enforce_openly_refuses_a_hidden_item_with_a_403() -> None:
    writer = PermissionSet.from_inline("io.cozy.contacts:POST:family:groups")
    decision = decide(writer, "POST", "io.cozy.contacts", WORK_DOC, now=NOW)
    assert decision.hidden
    with pytest.raises(PermissionDenied, match=r"no POST permission on this io\.cozy\.contacts"):
        decision.enforce_openly()
    decide(writer, "POST", "io.cozy.contacts", FAMILY_DOC, now=NOW).enforce_openly()
