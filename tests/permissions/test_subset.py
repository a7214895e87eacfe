"""Sub-sets (share links, app passwords, OAuth scopes): a child never does more than its
parent (cozy-stack IsSubSetOf, made sound, plus Roost's egress, budget and expiry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import (
    ALL_VERBS,
    ROOT_DIR_ID,
    Budget,
    DocumentTarget,
    FileTarget,
    PermissionSet,
    Rule,
    budget_within,
    egress_allows,
)

GET = frozenset({"GET"})
GET_POST = frozenset({"GET", "POST"})
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def ps(*rules: Rule, **kw: Any) -> PermissionSet:
    return PermissionSet(rules=rules, **kw)


CASES: list[tuple[str, PermissionSet, PermissionSet, bool]] = [
    # (label, child, parent, child.is_subset_of(parent))
    ("empty under empty", ps(), ps(), True),
    ("same rule", ps(Rule("io.cozy.contacts")), ps(Rule("io.cozy.contacts")), True),
    (
        "fewer verbs",
        ps(Rule("io.cozy.contacts", GET)),
        ps(Rule("io.cozy.contacts", GET_POST)),
        True,
    ),
    (
        "more verbs",
        ps(Rule("io.cozy.contacts", GET_POST)),
        ps(Rule("io.cozy.contacts", GET)),
        False,
    ),
    ("other doctype", ps(Rule("io.cozy.files")), ps(Rule("io.cozy.contacts")), False),
    (
        "ids under whole",
        ps(Rule("io.cozy.contacts", values=("a",))),
        ps(Rule("io.cozy.contacts")),
        True,
    ),
    (
        "selector under whole",
        ps(Rule("io.cozy.contacts", values=("a",), selector="groups")),
        ps(Rule("io.cozy.contacts")),
        True,
    ),
    (
        "fewer ids",
        ps(Rule("io.cozy.contacts", values=("a",))),
        ps(Rule("io.cozy.contacts", values=("a", "b"))),
        True,
    ),
    (
        "more ids",
        ps(Rule("io.cozy.contacts", values=("a", "c"))),
        ps(Rule("io.cozy.contacts", values=("a", "b"))),
        False,
    ),
    (
        "whole under ids (cozy lets it pass; Roost does not)",
        ps(Rule("io.cozy.contacts")),
        ps(Rule("io.cozy.contacts", values=("a",))),
        False,
    ),
    (
        "other selector",
        ps(Rule("io.cozy.contacts", values=("a",), selector="kind")),
        ps(Rule("io.cozy.contacts", values=("a",), selector="groups")),
        False,
    ),
    (
        "ids vs selector",
        ps(Rule("io.cozy.contacts", values=("a",))),
        ps(Rule("io.cozy.contacts", values=("a",), selector="groups")),
        False,
    ),
    (
        "narrower than wildcard",
        ps(Rule("io.cozy.bank.operations")),
        ps(Rule("io.cozy.bank.*")),
        True,
    ),
    ("wildcard base", ps(Rule("io.cozy.bank")), ps(Rule("io.cozy.bank.*")), True),
    ("wildcard in wildcard", ps(Rule("io.cozy.bank.ops.*")), ps(Rule("io.cozy.bank.*")), True),
    ("wildcard over exact", ps(Rule("io.cozy.bank.*")), ps(Rule("io.cozy.bank")), False),
    (
        "every child rule must be covered",
        ps(Rule("io.cozy.contacts", GET), Rule("io.cozy.files", GET)),
        ps(Rule("io.cozy.contacts")),
        False,
    ),
    (
        "rules may be covered by different parent rules",
        ps(Rule("io.cozy.contacts", GET), Rule("io.cozy.files", GET)),
        ps(Rule("io.cozy.files"), Rule("io.cozy.contacts")),
        True,
    ),
    ("anything under maximal", ps(Rule("io.cozy.contacts")), PermissionSet.maximal_set(), True),
    ("maximal never a subset", PermissionSet.maximal_set(), PermissionSet.maximal_set(), False),
    ("maximal under a set", PermissionSet.maximal_set(), ps(Rule("io.cozy.contacts")), False),
    # egress
    ("egress under nothing", ps(egress=("https://a.example",)), ps(), False),
    ("same egress", ps(egress=("https://a.example",)), ps(egress=("https://a.example",)), True),
    (
        "subdomain under wildcard",
        ps(egress=("https://a.example.org",)),
        ps(egress=("https://*.example.org",)),
        True,
    ),
    (
        "narrower wildcard",
        ps(egress=("https://*.a.example.org",)),
        ps(egress=("https://*.example.org",)),
        True,
    ),
    (
        "apex not under wildcard",
        ps(egress=("https://example.org",)),
        ps(egress=("https://*.example.org",)),
        False,
    ),
    (
        "wildcard not under host",
        ps(egress=("https://*.example.org",)),
        ps(egress=("https://a.example.org",)),
        False,
    ),
    (
        "other port",
        ps(egress=("https://a.example:8443",)),
        ps(egress=("https://a.example",)),
        False,
    ),
    ("other scheme", ps(egress=("http://a.example",)), ps(egress=("https://a.example",)), False),
    ("egress under maximal", ps(egress=("https://a.example",)), PermissionSet.maximal_set(), True),
    # expiry
    ("expiry under none", ps(expires_at=T0), ps(), True),
    ("no expiry under expiry", ps(), ps(expires_at=T0), False),
    ("earlier expiry", ps(expires_at=T0 - timedelta(days=1)), ps(expires_at=T0), True),
    ("same expiry", ps(expires_at=T0), ps(expires_at=T0), True),
    ("later expiry", ps(expires_at=T0 + timedelta(seconds=1)), ps(expires_at=T0), False),
    (
        "maximal parent's expiry still binds",
        ps(),
        PermissionSet(maximal=True, expires_at=T0),
        False,
    ),
    # budget
    ("budget under none", ps(budget=Budget(fuel=10)), ps(), True),
    ("no budget under budget", ps(), ps(budget=Budget(fuel=10)), False),
    ("smaller budget", ps(budget=Budget(fuel=5, wall_seconds=1)), ps(budget=Budget(fuel=10)), True),
    ("larger budget", ps(budget=Budget(fuel=11)), ps(budget=Budget(fuel=10)), False),
    (
        "missing limit",
        ps(budget=Budget(fuel=5)),
        ps(budget=Budget(fuel=10, memory_mib=64)),
        False,
    ),
]


@pytest.mark.parametrize(
    ("child", "parent", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_is_subset_of(child: PermissionSet, parent: PermissionSet, expected: bool) -> None:
    assert child.is_subset_of(parent) is expected


def test_a_set_is_a_subset_of_itself() -> None:
    s = ps(
        Rule("io.cozy.contacts", GET, ("a",), "groups"),
        Rule("io.cozy.bank.*"),
        egress=("https://*.example.org",),
        budget=Budget(fuel=1, memory_mib=2, wall_seconds=3),
        expires_at=T0,
    )
    assert s.is_subset_of(s)


def test_budget_within() -> None:
    assert budget_within(None, None)
    assert budget_within(Budget(), Budget())
    assert budget_within(None, Budget())
    assert not budget_within(None, Budget(wall_seconds=1))


# ----- property: a subset never allows what its parent refuses ----------------------------

DOCTYPES = ["io.cozy.contacts", "io.cozy.bank", "io.cozy.bank.operations", "io.cozy.files"]
RULE_TYPES = [*DOCTYPES, "io.cozy.bank.*", "io.cozy.files.*"]
VERBS = sorted(ALL_VERBS)
POOL = ["a", "b", "c", "d1", ROOT_DIR_ID]
SELECTORS = [None, "groups", "tags", "name"]

rule_st = st.builds(
    Rule,
    type=st.sampled_from(RULE_TYPES),
    verbs=st.frozensets(st.sampled_from(VERBS), max_size=5),
    values=st.lists(st.sampled_from(POOL), max_size=3, unique=True).map(tuple),
    selector=st.sampled_from(SELECTORS),
)
host_st = st.sampled_from(["a.example.org", "b.example.org", "example.org", "x.a.example.org"])
pattern_st = st.one_of(
    host_st.map(lambda h: f"https://{h}"),
    st.sampled_from(["https://*.example.org", "https://*.a.example.org", "http://a.example.org"]),
)
budget_st = st.none() | st.builds(
    Budget,
    fuel=st.none() | st.integers(1, 10),
    memory_mib=st.none() | st.integers(1, 10),
    wall_seconds=st.none() | st.floats(0.5, 10),
)
expiry_st = st.none() | st.integers(-3, 3).map(lambda d: T0 + timedelta(days=d))
set_st = st.builds(
    PermissionSet,
    rules=st.lists(rule_st, max_size=4).map(tuple),
    egress=st.lists(pattern_st, max_size=2).map(tuple),
    budget=budget_st,
    expires_at=expiry_st,
)
doc_st = st.fixed_dictionaries(
    {"_id": st.sampled_from(POOL)},
    optional={
        "groups": st.lists(st.sampled_from(POOL), max_size=2),
        "tags": st.sampled_from(POOL),
        "name": st.sampled_from(POOL),
    },
)
URLS = [
    "https://a.example.org/x",
    "https://b.example.org",
    "https://example.org",
    "https://x.a.example.org",
    "http://a.example.org",
    "https://a.example.org:8443",
]


def file_target(doc: dict[str, Any]) -> FileTarget:
    parent = FileTarget(id="d1", dir_id=ROOT_DIR_ID, type="directory", name="b", tags=("a",))
    root = FileTarget(id=ROOT_DIR_ID, dir_id=None, type="directory", name="")
    tags = doc.get("tags")
    return FileTarget(
        id=doc["_id"],
        dir_id="d1",
        type="file",
        name=doc.get("name", "n"),
        tags=(tags,) if isinstance(tags, str) else (),
        ancestors=(parent, root),
    )


@st.composite
def shrink_rule(draw: st.DrawFn, parent: Rule) -> Rule:
    """A random rule covered by `parent`."""
    verbs = draw(st.frozensets(st.sampled_from(sorted(parent.verbs)), min_size=1))
    kind = parent.type
    if parent.is_wildcard:
        narrower = [t for t in RULE_TYPES if t.startswith(kind[:-2])]
        kind = draw(st.sampled_from(narrower))
    if parent.whole_type:
        values = tuple(draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True)))
        selector = draw(st.sampled_from(SELECTORS))
    else:
        values = tuple(
            draw(st.lists(st.sampled_from(parent.values), min_size=1, max_size=3, unique=True))
        )
        selector = parent.selector
    return Rule(kind, verbs, values, selector)


@st.composite
def parent_and_child(draw: st.DrawFn) -> tuple[PermissionSet, PermissionSet]:
    parent = draw(set_st)
    chosen = draw(st.lists(st.sampled_from(parent.rules), max_size=4)) if parent.rules else []
    child_rules = tuple(draw(shrink_rule(r)) for r in chosen)
    egress = (
        tuple(draw(st.lists(st.sampled_from(parent.egress), max_size=2))) if parent.egress else ()
    )
    budget = parent.budget
    if budget is not None:
        budget = Budget(
            fuel=None if budget.fuel is None else draw(st.integers(1, budget.fuel)),
            memory_mib=None
            if budget.memory_mib is None
            else draw(st.integers(1, budget.memory_mib)),
            wall_seconds=budget.wall_seconds,
        )
    expires = parent.expires_at
    if expires is not None:
        expires -= timedelta(hours=draw(st.integers(0, 48)))
    child = PermissionSet(rules=child_rules, egress=egress, budget=budget, expires_at=expires)
    return parent, child


def assert_never_more(child: PermissionSet, parent: PermissionSet, doc: dict[str, Any]) -> None:
    for doctype in DOCTYPES:
        for verb in [*VERBS, "HEAD"]:
            if child.allows(verb, doctype):
                assert parent.allows(verb, doctype)
            if child.allows(verb, doctype, DocumentTarget(doc)):
                assert parent.allows(verb, doctype, DocumentTarget(doc))
            if child.allows(verb, doctype, file_target(doc)):
                assert parent.allows(verb, doctype, file_target(doc))
            if child.allows_id(verb, doctype, doc["_id"]):
                assert parent.allows_id(verb, doctype, doc["_id"])
    for url in URLS:
        if egress_allows(child.egress, url):
            assert parent.maximal or egress_allows(parent.egress, url)
    if child.expires_at is None:
        assert parent.expires_at is None
    elif parent.expires_at is not None:
        assert child.expires_at <= parent.expires_at


@settings(max_examples=200, deadline=None)
@given(parent_and_child(), doc_st)
def test_derived_children_are_subsets_and_never_do_more(
    pair: tuple[PermissionSet, PermissionSet], doc: dict[str, Any]
) -> None:
    parent, child = pair
    assert child.is_subset_of(parent)
    assert_never_more(child, parent, doc)


@settings(max_examples=300, deadline=None)
@given(set_st, set_st, doc_st)
def test_is_subset_of_is_sound(
    child: PermissionSet, parent: PermissionSet, doc: dict[str, Any]
) -> None:
    if child.is_subset_of(parent):
        assert_never_more(child, parent, doc)


@settings(max_examples=100, deadline=None)
@given(set_st)
def test_everything_but_maximal_is_under_maximal(s: PermissionSet) -> None:
    assert s.is_subset_of(PermissionSet.maximal_set())
    assert not PermissionSet.maximal_set().is_subset_of(s)
