"""The inline (OAuth scope) format: `type[:VERBS[:v1,v2[:selector]]]`, space separated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import ALL_VERBS, InvalidRule, PermissionSet, Rule

GET = frozenset({"GET"})


@pytest.mark.parametrize(
    ("scope", "rules"),
    [
        ("io.cozy.contacts", [Rule("io.cozy.contacts")]),
        ("io.cozy.contacts:ALL", [Rule("io.cozy.contacts")]),
        ("io.cozy.contacts:GET", [Rule("io.cozy.contacts", GET)]),
        (
            "io.cozy.contacts:GET,POST:family:groups io.cozy.files:GET:dir-id",
            [
                Rule("io.cozy.contacts", frozenset({"GET", "POST"}), ("family",), "groups"),
                Rule("io.cozy.files", GET, ("dir-id",)),
            ],
        ),
        (
            "io.cozy.files:GET:io.cozy.files.music-dir io.cozy.jobs:POST:sendmail:worker",
            [
                Rule("io.cozy.files", GET, ("io.cozy.files.music-dir",)),
                Rule("io.cozy.jobs", frozenset({"POST"}), ("sendmail",), "worker"),
            ],
        ),
        (
            "io.cozy.jobs:ALL:a,b,c:worker",
            [Rule("io.cozy.jobs", ALL_VERBS, ("a", "b", "c"), "worker")],
        ),
        ("io.cozy.bank.*:GET", [Rule("io.cozy.bank.*", GET)]),
        (
            "  io.cozy.contacts \t io.cozy.files\n",
            [Rule("io.cozy.contacts"), Rule("io.cozy.files")],
        ),
        ("", []),
        ("io.cozy.contacts:GET,ALL", [Rule("io.cozy.contacts")]),
    ],
)
def test_parse(scope: str, rules: list[Rule]) -> None:
    assert PermissionSet.from_inline(scope) == PermissionSet(rules=tuple(rules))


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (":GET", "doctype is missing"),
        ("io.cozy.contacts:", "verbs part is empty"),
        ("io.cozy.contacts:GET,", "empty verb"),
        ("io.cozy.contacts:get", "unknown verb"),
        ("io.cozy.contacts:HEAD", "implied by GET"),
        ("io.cozy.contacts:GET:", "empty value"),
        ("io.cozy.contacts:GET:a,,b", "empty value"),
        ("io.cozy.contacts:GET:a:", "selector"),
        ("io.cozy.contacts:GET:a:b:c", "found 4 ':'"),
        ("io.cozy.*:GET", "too broad"),
        ("IO.COZY.CONTACTS", "not a valid doctype"),
        ("contacts", "at least one dot"),
        ("*", "maximal"),
        ("io.cozy.contacts *", "maximal"),
    ],
)
def test_invalid(scope: str, message: str) -> None:
    with pytest.raises(InvalidRule, match=message):
        PermissionSet.from_inline(scope)


def test_maximal_scope_only_on_request() -> None:
    assert PermissionSet.from_inline("*", allow_maximal=True) == PermissionSet.maximal_set()
    with pytest.raises(InvalidRule, match="combined"):
        PermissionSet.from_inline("* io.cozy.contacts", allow_maximal=True)


@pytest.mark.parametrize(
    ("rules", "scope"),
    [
        ([Rule("io.cozy.contacts")], "io.cozy.contacts"),
        ([Rule("io.cozy.contacts", frozenset({"DELETE", "GET"}))], "io.cozy.contacts:GET,DELETE"),
        ([Rule("io.cozy.contacts", values=("a", "b"))], "io.cozy.contacts:ALL:a,b"),
        (
            [Rule("io.cozy.jobs", frozenset({"POST"}), ("x",), "worker")],
            "io.cozy.jobs:POST:x:worker",
        ),
        ([Rule("io.cozy.a", GET), Rule("io.cozy.b", GET)], "io.cozy.a:GET io.cozy.b:GET"),
        ([], ""),
    ],
)
def test_format(rules: list[Rule], scope: str) -> None:
    assert PermissionSet(rules=tuple(rules)).to_inline() == scope


@pytest.mark.parametrize("value", ["a:b", "a,b", "a b", "a\tb"])
def test_values_without_inline_spelling_are_refused(value: str) -> None:
    with pytest.raises(InvalidRule, match="no inline form"):
        PermissionSet(rules=(Rule("io.cozy.contacts", values=(value,)),)).to_inline()


# ----- property: inline round-trips -------------------------------------------------------

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=6)
_doctype = st.lists(_label, min_size=2, max_size=4).map(".".join)
_wildcard = st.lists(_label, min_size=3, max_size=4).map(lambda ls: ".".join(ls) + ".*")
_verbs = st.frozensets(st.sampled_from(sorted(ALL_VERBS)), max_size=5)
_value = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters=":, \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"
    ),
    min_size=1,
    max_size=12,
).filter(lambda v: not any(c.isspace() for c in v))
_selector = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,10}", fullmatch=True)


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    values = tuple(draw(st.lists(_value, max_size=4)))
    return Rule(
        type=draw(st.one_of(_doctype, _wildcard)),
        verbs=draw(_verbs),
        values=values,
        selector=draw(st.none() | _selector) if values else None,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(rules(), max_size=5))
def test_inline_round_trip(rule_list: list[Rule]) -> None:
    s = PermissionSet(rules=tuple(rule_list))
    scope = s.to_inline()
    back = PermissionSet.from_inline(scope)
    assert back == s
    assert back.to_inline() == scope


@settings(max_examples=200, deadline=None)
@given(st.lists(rules(), max_size=5))
def test_json_round_trip(rule_list: list[Rule]) -> None:
    s = PermissionSet(rules=tuple(rule_list))
    assert PermissionSet.from_json(s.to_json()) == s
