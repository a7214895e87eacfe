"""Matching documents (cozy-stack §2.4) and the decision built on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import (
    ALL_VERBS,
    DocumentTarget,
    Outcome,
    PermissionSet,
    Rule,
    decide,
)

GET = frozenset({"GET"})
POST = frozenset({"POST"})

# ----- DocumentTarget.fetch ---------------------------------------------------------------

NOW = datetime(2026, 12, 6, tzinfo=UTC)  # before any expiry these tests set


@pytest.mark.parametrize(
    ("value", "fetched"),
    [
        ("x", ["x"]),
        (True, ["true"]),
        (False, ["false"]),
        (3, ["3"]),
        (2.5, ["2.5"]),
        (None, []),
        (["a", 1, True, None, {"k": "v"}], ["a", "1", "true"]),
        ({"nested": "x"}, []),
    ],
)
def test_fetch_stringifies_top_level_values(value: Any, fetched: list[str]) -> None:
    assert DocumentTarget({"_id": "d", "field": value}).fetch("field") == fetched


def test_fetch_is_top_level_only() -> None:
    doc = DocumentTarget({"_id": "d", "a": {"b": "x"}, "a.b": "y"})
    assert doc.fetch("a.b") == ["y"]
    assert doc.fetch("missing") == []


def test_id() -> None:
    assert DocumentTarget({"_id": "abc"}).id == "abc"
    assert DocumentTarget({}).id == ""
    assert DocumentTarget({"_id": 3}).id == ""


def test_referenced_by() -> None:
    doc = DocumentTarget(
        {
            "_id": "f",
            "referenced_by": [
                {"type": "io.cozy.photos.albums", "id": "album1"},
                {"type": "io.cozy.bills", "id": "b"},
                {"id": "no-type"},
                "garbage",
            ],
        }
    )
    assert doc.fetch("referenced_by") == ["io.cozy.photos.albums/album1", "io.cozy.bills/b"]
    jsonapi = DocumentTarget(
        {"relationships": {"referenced_by": {"data": [{"type": "io.cozy.x", "id": "1"}]}}}
    )
    assert jsonapi.fetch("referenced_by") == ["io.cozy.x/1"]


# ----- table: cozy Allow ------------------------------------------------------------------

CONTACT = {"_id": "c1", "groups": ["family", "work"], "favorite": True, "age": 42}

CASES: list[tuple[str, list[Rule], str, str, dict[str, Any] | None, bool]] = [
    # (label, rules, verb, doctype, doc or None for whole-type, expected)
    ("whole type", [Rule("io.cozy.contacts")], "GET", "io.cozy.contacts", CONTACT, True),
    ("whole type, no doc", [Rule("io.cozy.contacts")], "DELETE", "io.cozy.contacts", None, True),
    ("other type", [Rule("io.cozy.contacts")], "GET", "io.cozy.files", CONTACT, False),
    ("verb missing", [Rule("io.cozy.contacts", GET)], "POST", "io.cozy.contacts", CONTACT, False),
    ("HEAD is GET", [Rule("io.cozy.contacts", GET)], "HEAD", "io.cozy.contacts", CONTACT, True),
    ("HEAD needs GET", [Rule("io.cozy.contacts", POST)], "HEAD", "io.cozy.contacts", None, False),
    ("OPTIONS always", [], "OPTIONS", "io.cozy.contacts", None, True),
    ("unknown verb", [Rule("io.cozy.contacts")], "TRACE", "io.cozy.contacts", None, False),
    ("lower-case verb", [Rule("io.cozy.contacts", GET)], "get", "io.cozy.contacts", None, True),
    (
        "id listed",
        [Rule("io.cozy.contacts", values=("c1",))],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        True,
    ),
    (
        "id not listed",
        [Rule("io.cozy.contacts", values=("c2",))],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        False,
    ),
    (
        "ids never whole",
        [Rule("io.cozy.contacts", values=("c1",))],
        "GET",
        "io.cozy.contacts",
        None,
        False,
    ),
    (
        "selector list hit",
        [Rule("io.cozy.contacts", values=("family",), selector="groups")],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        True,
    ),
    (
        "selector list miss",
        [Rule("io.cozy.contacts", values=("friends",), selector="groups")],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        False,
    ),
    (
        "selector bool",
        [Rule("io.cozy.contacts", values=("true",), selector="favorite")],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        True,
    ),
    (
        "selector number",
        [Rule("io.cozy.contacts", values=("42",), selector="age")],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        True,
    ),
    (
        "selector is not the id",
        [Rule("io.cozy.contacts", values=("c1",), selector="groups")],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        False,
    ),
    (
        "selector missing field",
        [Rule("io.cozy.contacts", values=("x",), selector="nope")],
        "GET",
        "io.cozy.contacts",
        CONTACT,
        False,
    ),
    (
        "wildcard",
        [Rule("io.cozy.bank.*", GET)],
        "GET",
        "io.cozy.bank.operations",
        {"_id": "o"},
        True,
    ),
    ("wildcard base", [Rule("io.cozy.bank.*", GET)], "GET", "io.cozy.bank", None, True),
    ("wildcard prefix only", [Rule("io.cozy.bank.*", GET)], "GET", "io.cozy.banks", None, False),
    (
        "second rule wins",
        [Rule("io.cozy.contacts", GET), Rule("io.cozy.contacts", POST, ("c1",))],
        "POST",
        "io.cozy.contacts",
        CONTACT,
        True,
    ),
    ("invalid doctype", [Rule("io.cozy.contacts")], "GET", "io.cozy.Contacts", None, False),
    ("wildcard as doctype", [Rule("io.cozy.bank.*")], "GET", "io.cozy.bank.*", None, False),
    ("empty set", [], "GET", "io.cozy.contacts", CONTACT, False),
]


@pytest.mark.parametrize(
    ("rules", "verb", "doctype", "doc", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_allows(
    rules: list[Rule], verb: str, doctype: str, doc: dict[str, Any] | None, expected: bool
) -> None:
    s = PermissionSet(rules=tuple(rules))
    target = None if doc is None else DocumentTarget(doc)
    assert s.allows(verb, doctype, target) is expected
    decision = decide(s, verb, doctype, target, now=NOW, surface="stack")
    assert decision.allowed is expected
    if not expected:  # a document it may not see is hidden; anything else says why
        assert decision.hidden or (decision.outcome is Outcome.DENY and decision.reason)
        assert decision.doctype == doctype


@pytest.mark.parametrize(
    ("rules", "whole", "by_id"),
    [
        ([Rule("io.cozy.contacts")], True, True),
        ([Rule("io.cozy.contacts", values=("c1",))], False, True),
        ([Rule("io.cozy.contacts", values=("c2",))], False, False),
        ([Rule("io.cozy.contacts", values=("c1",), selector="groups")], False, False),
        ([Rule("io.cozy.contacts", selector="groups")], True, True),
        ([Rule("io.cozy.contacts", POST)], False, False),
    ],
)
def test_whole_type_and_id(rules: list[Rule], whole: bool, by_id: bool) -> None:
    s = PermissionSet(rules=tuple(rules))
    assert s.allows_whole_type("GET", "io.cozy.contacts") is whole
    assert s.allows("GET", "io.cozy.contacts") is whole
    assert s.allows_id("GET", "io.cozy.contacts", "c1") is by_id


def test_allows_on_fields() -> None:
    trigger = DocumentTarget({"_id": "t", "worker": "konnector"})
    listed = PermissionSet(rules=(Rule("io.cozy.triggers", GET, ("konnector",), "worker"),))
    assert listed.allows_on_fields("GET", "io.cozy.triggers", trigger, "worker")
    assert not listed.allows_on_fields("GET", "io.cozy.triggers", trigger, "type")
    whole = PermissionSet(rules=(Rule("io.cozy.triggers", GET),))
    assert not whole.allows_on_fields("GET", "io.cozy.triggers", trigger, "worker")


def test_decision_reasons() -> None:
    s = PermissionSet(rules=(Rule("io.cozy.contacts", GET, ("c1",)),))

    def refusal(verb: str, doctype: str, target: DocumentTarget | None = None) -> str:
        decision = decide(s, verb, doctype, target, now=NOW, surface="stack")
        assert decision.outcome is Outcome.DENY
        return decision.reason

    assert refusal("GET", "io.cozy.files") == "no GET permission on io.cozy.files"
    assert refusal("DELETE", "io.cozy.contacts") == "no DELETE permission on io.cozy.contacts"
    assert "whole doctype" in refusal("GET", "io.cozy.contacts")
    assert "not a method" in refusal("TRACE", "io.cozy.contacts")
    assert "not a valid doctype" in refusal("GET", "io..contacts")
    other = DocumentTarget({"_id": "c2"})
    assert decide(s, "GET", "io.cozy.contacts", other, now=NOW).hidden
    assert decide(s, "OPTIONS", "io.cozy.files", now=NOW, surface="stack").allowed
    mine = DocumentTarget({"_id": "c1"})
    assert decide(s, "HEAD", "io.cozy.contacts", mine, now=NOW).allowed


def test_a_decision_at_or_after_the_expiry_refuses() -> None:
    s = PermissionSet(
        rules=(Rule("io.cozy.contacts"),), expires_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert decide(s, "GET", "io.cozy.contacts", now=datetime(2029, 1, 1, tzinfo=UTC)).allowed
    expired = decide(s, "GET", "io.cozy.contacts", now=datetime(2030, 1, 1, tzinfo=UTC))
    assert expired.outcome is Outcome.DENY
    assert "expired" in expired.reason


def test_maximal_allows_everything_valid() -> None:
    owner = PermissionSet.maximal_set()
    for verb in [*ALL_VERBS, "HEAD", "OPTIONS"]:
        assert owner.allows(verb, "io.cozy.contacts", DocumentTarget({"_id": "x"}))
        assert owner.allows_whole_type(verb, "io.cozy.contacts")
        assert owner.allows_id(verb, "io.cozy.contacts", "x")
    assert not owner.allows("TRACE", "io.cozy.contacts")
    assert not owner.allows("GET", "not valid")


# ----- property: allows agrees with a naive reading of the rules --------------------------

DOCTYPES = [
    "io.cozy.contacts",
    "io.cozy.contacts.groups",
    "io.cozy.bank",
    "io.cozy.bank.operations",
]
RULE_TYPES = [*DOCTYPES, "io.cozy.bank.*", "io.cozy.contacts.*"]
VERB_WORDS = ["GET", "POST", "PUT", "PATCH", "DELETE", "ALL"]
REQUEST_VERBS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
POOL = ["a", "b", "c", "1", "true"]
FIELDS = ["groups", "kind", "flag"]

raw_rules = st.fixed_dictionaries(
    {
        "type": st.sampled_from(RULE_TYPES),
        "verbs": st.lists(st.sampled_from(VERB_WORDS), max_size=3),
        "values": st.lists(st.sampled_from(POOL), max_size=3),
        "selector": st.sampled_from([None, "", *FIELDS]),
    }
)
field_values = st.one_of(
    st.none(),
    st.sampled_from(POOL),
    st.booleans(),
    st.integers(0, 2),
    st.lists(st.one_of(st.sampled_from(POOL), st.integers(0, 2)), max_size=3),
)
docs = st.fixed_dictionaries(
    {"_id": st.sampled_from(POOL)},
    optional={name: field_values for name in FIELDS},
)


def naive_strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif isinstance(item, str | int):
            out.append(str(item))
    return out


def naive_allows(
    rules: list[dict[str, Any]], verb: str, doctype: str, doc: dict[str, Any] | None
) -> bool:
    """An independent reading of cozy-stack §2.4."""
    if verb == "OPTIONS":
        return True
    if verb == "HEAD":
        verb = "GET"
    for rule in rules:
        verbs = rule["verbs"]
        if verbs and "ALL" not in verbs and verb not in verbs:
            continue
        if verb not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            continue
        kind = rule["type"]
        if kind.endswith(".*"):
            base = kind[:-2]
            if doctype != base and not doctype.startswith(base + "."):
                continue
        elif kind != doctype:
            continue
        if not rule["values"]:
            return True
        if doc is None:
            continue
        if not rule["selector"]:
            if doc["_id"] in rule["values"]:
                return True
        elif set(naive_strings(doc.get(rule["selector"]))) & set(rule["values"]):
            return True
    return False


def build(raw: dict[str, Any]) -> Rule:
    return Rule(raw["type"], frozenset(raw["verbs"]), tuple(raw["values"]), raw["selector"] or None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(raw_rules, max_size=4),
    st.sampled_from(REQUEST_VERBS),
    st.sampled_from(DOCTYPES),
    st.none() | docs,
)
def test_allows_matches_naive_reference(
    rules: list[dict[str, Any]], verb: str, doctype: str, doc: dict[str, Any] | None
) -> None:
    s = PermissionSet(rules=tuple(build(r) for r in rules))
    target = None if doc is None else DocumentTarget(doc)
    expected = naive_allows(rules, verb, doctype, doc)
    assert s.allows(verb, doctype, target) is expected
    if doc is None:
        assert s.allows_whole_type(verb, doctype) is expected
    assert decide(s, verb, doctype, target, now=NOW, surface="stack").allowed is expected
