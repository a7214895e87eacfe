"""`@event` arguments: which document changes fire a trigger."""

from __future__ import annotations

import pytest

from roost.jobs.errors import InvalidTrigger
from roost.jobs.events import EventRule, parse_event_rules


def test_a_doctype_alone_matches_every_change() -> None:
    (rule,) = parse_event_rules("io.cozy.contacts")
    for verb in ("CREATED", "UPDATED", "DELETED"):
        assert rule.matches("io.cozy.contacts", verb, {"_id": "x"})
    assert not rule.matches("io.cozy.files", "CREATED", {"_id": "x"})


def test_verbs_restrict_the_changes() -> None:
    (rule,) = parse_event_rules("io.cozy.contacts:CREATED,deleted")
    assert rule.verbs == frozenset({"CREATED", "DELETED"})
    assert rule.matches("io.cozy.contacts", "CREATED", {})
    assert not rule.matches("io.cozy.contacts", "UPDATED", {})


def test_values_match_ids_or_a_selector_field() -> None:
    (by_id,) = parse_event_rules("io.cozy.contacts::a,b")
    assert by_id.matches("io.cozy.contacts", "UPDATED", {"_id": "a"})
    assert not by_id.matches("io.cozy.contacts", "UPDATED", {"_id": "c"})
    (by_field,) = parse_event_rules("io.cozy.bank.operations:CREATED:acc1:account")
    assert by_field == EventRule(
        "io.cozy.bank.operations", frozenset({"CREATED"}), ("acc1",), "account"
    )
    assert by_field.matches("io.cozy.bank.operations", "CREATED", {"_id": "o", "account": "acc1"})
    assert not by_field.matches("io.cozy.bank.operations", "CREATED", {"account": "acc2"})
    assert not by_field.matches("io.cozy.bank.operations", "CREATED", {})


def test_several_rules_are_space_separated() -> None:
    rules = parse_event_rules("io.cozy.contacts:CREATED  io.cozy.files:DELETED")
    assert [r.doctype for r in rules] == ["io.cozy.contacts", "io.cozy.files"]


@pytest.mark.parametrize(
    "arguments",
    [
        "",
        "contacts",
        "io.cozy.*",
        "io.cozy.contacts:CHANGED",
        "io.cozy.contacts:CREATED::account",
        "io.cozy.contacts:CREATED:a:b:c",
        "IO.COZY.CONTACTS",
    ],
)
def test_invalid_event_arguments(arguments: str) -> None:
    with pytest.raises(InvalidTrigger):
        parse_event_rules(arguments)
