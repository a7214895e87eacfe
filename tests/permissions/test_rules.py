"""Rules, permission sets and their JSON form (cozy-stack §2.1, §2.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from roost.permissions import ALL_VERBS, Budget, InvalidRule, PermissionSet, Rule

# ----- Rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verbs", "expected"),
    [
        (frozenset(), ALL_VERBS),
        (frozenset({"ALL"}), ALL_VERBS),
        (frozenset({"ALL", "GET"}), ALL_VERBS),
        (frozenset({"GET"}), frozenset({"GET"})),
        (frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}), ALL_VERBS),
        (frozenset({"PATCH", "DELETE"}), frozenset({"PATCH", "DELETE"})),
    ],
)
def test_verbs_are_normalised(verbs: frozenset[str], expected: frozenset[str]) -> None:
    assert Rule("io.cozy.contacts", verbs=verbs).verbs == expected


def test_defaults() -> None:
    rule = Rule("io.cozy.contacts")
    assert rule.verbs == ALL_VERBS
    assert rule.values == ()
    assert rule.selector is None
    assert rule.whole_type
    assert not rule.read_only
    assert Rule("io.cozy.contacts", verbs=frozenset({"GET"})).read_only


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "io.cozy.*"}, "too broad"),
        ({"type": "*"}, "maximal"),
        ({"type": "Contacts"}, "not a valid doctype"),
        ({"type": "io.cozy.contacts", "verbs": frozenset({"HEAD"})}, "implied by GET"),
        ({"type": "io.cozy.contacts", "verbs": frozenset({"OPTIONS"})}, "always allowed"),
        ({"type": "io.cozy.contacts", "verbs": frozenset({"get"})}, "unknown verb"),
        ({"type": "io.cozy.contacts", "verbs": frozenset({"FETCH"})}, "unknown verb"),
        ({"type": "io.cozy.contacts", "verbs": "GET"}, "not the string"),
        ({"type": "io.cozy.contacts", "values": ("a", "")}, "empty"),
        ({"type": "io.cozy.contacts", "values": "abc"}, "not the string"),
        ({"type": "io.cozy.contacts", "values": (1,)}, "strings"),
        ({"type": "io.cozy.contacts", "values": ("a",), "selector": "a b"}, "selector"),
        ({"type": "io.cozy.contacts", "values": ("a",), "selector": "a:b"}, "selector"),
    ],
)
def test_invalid_rules(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRule, match=message):
        Rule(**kwargs)


def test_selector_without_values_is_whole_type() -> None:
    rule = Rule("io.cozy.contacts", selector="groups")
    assert rule.selector is None
    assert rule.whole_type
    assert Rule("io.cozy.contacts", values=("a",), selector="").selector is None


def test_lists_become_tuples_and_title_is_not_semantic() -> None:
    rule = Rule("io.cozy.contacts", values=["a", "b"], title="x", description="y")  # type: ignore[arg-type]
    assert rule.values == ("a", "b")
    assert rule == Rule("io.cozy.contacts", values=("a", "b"))
    assert hash(rule) == hash(Rule("io.cozy.contacts", values=("a", "b")))


# ----- PermissionSet construction ---------------------------------------------------------


def test_maximal_set() -> None:
    owner = PermissionSet.maximal_set()
    assert owner.maximal
    assert owner.allows("DELETE", "io.cozy.anything")
    assert owner.to_inline() == "*"


def test_expiry_must_be_aware_and_is_stored_in_utc() -> None:
    with pytest.raises(InvalidRule, match="timezone"):
        PermissionSet(expires_at=datetime(2030, 1, 1))
    paris = timezone(timedelta(hours=2))
    s = PermissionSet(expires_at=datetime(2030, 1, 1, 2, 0, tzinfo=paris))
    assert s.expires_at == datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    assert s.expires_at is not None and s.expires_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("expires_at", "now", "expired"),
    [
        (None, datetime(2100, 1, 1, tzinfo=UTC), False),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2029, 12, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), True),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC), True),
    ],
)
def test_is_expired(expires_at: datetime | None, now: datetime, expired: bool) -> None:
    assert PermissionSet(expires_at=expires_at).is_expired(now) is expired


def test_egress_is_normalised_and_validated() -> None:
    s = PermissionSet(egress=("HTTPS://API.Example.org:443/", "https://*.bücher.de"))
    assert s.egress == ("https://api.example.org", "https://*.xn--bcher-kva.de")
    with pytest.raises(InvalidRule, match="egress"):
        PermissionSet(egress=("ftp://example.org",))
    with pytest.raises(InvalidRule):
        PermissionSet(egress="https://example.org")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fuel": 0}, "positive"),
        ({"fuel": -1}, "positive"),
        ({"fuel": 1.5}, "whole number"),
        ({"fuel": True}, "whole number"),
        ({"memory_mib": 0}, "positive"),
        ({"wall_seconds": 0}, "positive"),
        ({"wall_seconds": float("inf")}, "finite"),
        ({"wall_seconds": "2"}, "number"),
    ],
)
def test_invalid_budgets(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRule, match=message):
        Budget(**kwargs)


# ----- JSON -------------------------------------------------------------------------------

COZY_MANIFEST = {
    "contacts": {
        "type": "io.cozy.contacts",
        "verbs": ["GET", "POST"],
        "values": ["family"],
        "selector": "groups",
        "description": "to wish birthdays",
    },
    "music": {
        "type": "io.cozy.files",
        "verbs": ["GET"],
        "values": ["io.cozy.files.music-dir"],
    },
    "bank": {"type": "io.cozy.bank.*", "verbs": ["ALL"]},
    "settings": {"type": "io.cozy.settings", "description": "read the locale", "verbs": []},
}


def test_from_cozy_manifest() -> None:
    s = PermissionSet.from_json(COZY_MANIFEST)
    assert [r.title for r in s.rules] == ["contacts", "music", "bank", "settings"]
    contacts, music, bank, settings = s.rules
    assert contacts == Rule("io.cozy.contacts", frozenset({"GET", "POST"}), ("family",), "groups")
    assert contacts.description == "to wish birthdays"
    assert music == Rule("io.cozy.files", frozenset({"GET"}), ("io.cozy.files.music-dir",))
    assert bank.verbs == ALL_VERBS and bank.whole_type
    assert settings.verbs == ALL_VERBS
    assert s.egress == () and s.budget is None and s.expires_at is None


def test_extension_keys_next_to_cozy_rules_are_not_rules() -> None:
    data = {
        **COZY_MANIFEST,
        "egress": ["https://api.bank.example"],
        "budget": {"wall_seconds": 2, "memory_mib": 64},
        "expires_at": "2030-01-01T00:00:00Z",
    }
    s = PermissionSet.from_json(data)
    assert len(s.rules) == 4
    assert s.egress == ("https://api.bank.example",)
    assert s.budget == Budget(memory_mib=64, wall_seconds=2.0)
    assert s.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_roost_top_level_form() -> None:
    data = {
        "rules": COZY_MANIFEST,
        "egress": ["https://*.example.org"],
        "budget": {"fuel": 1000},
        "expires_at": None,
    }
    s = PermissionSet.from_json(data)
    assert len(s.rules) == 4
    assert s.budget == Budget(fuel=1000)
    assert PermissionSet.from_json(s.to_json()) == s


def test_a_rule_titled_rules_is_still_a_rule() -> None:
    s = PermissionSet.from_json({"rules": {"type": "io.cozy.contacts"}})
    assert s.rules == (Rule("io.cozy.contacts"),)
    assert s.rules[0].title == "rules"


def test_to_json_shape() -> None:
    s = PermissionSet(
        rules=(
            Rule("io.cozy.contacts", frozenset({"GET"}), ("a",), "groups", title="contacts"),
            Rule("io.cozy.files"),
        ),
        egress=("https://api.example.org:8443",),
        budget=Budget(wall_seconds=2, memory_mib=64),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert s.to_json() == {
        "rules": {
            "contacts": {
                "type": "io.cozy.contacts",
                "verbs": ["GET"],
                "values": ["a"],
                "selector": "groups",
            },
            "rule1": {"type": "io.cozy.files", "verbs": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        },
        "egress": ["https://api.example.org:8443"],
        "budget": {"memory_mib": 64, "wall_seconds": 2.0},
        "expires_at": "2030-01-01T00:00:00+00:00",
    }
    assert PermissionSet.from_json(s.to_json()) == s


def test_duplicate_titles_survive_json() -> None:
    s = PermissionSet(
        rules=(
            Rule("io.cozy.contacts", title="x", description="one"),
            Rule("io.cozy.files", title="x", description="two"),
        )
    )
    back = PermissionSet.from_json(s.to_json())
    assert back == s
    assert [(r.title, r.description) for r in back.rules] == [("x", "one"), ("x", "two")]


def test_maximal_json_needs_explicit_consent() -> None:
    data = PermissionSet.maximal_set().to_json()
    assert data["maximal"] is True
    with pytest.raises(InvalidRule, match="maximal"):
        PermissionSet.from_json(data)
    assert PermissionSet.from_json(data, allow_maximal=True) == PermissionSet.maximal_set()
    with pytest.raises(InvalidRule, match="maximal"):
        PermissionSet.from_json({"all": {"type": "*"}})
    assert PermissionSet.from_json({"all": {"type": "*"}}, allow_maximal=True).maximal


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"x": "io.cozy.contacts"}, "must be an object"),
        ({"x": {"verbs": ["GET"]}}, "type is missing"),
        ({"x": {"type": 3}}, "type is missing"),
        ({"x": {"type": "io.cozy.*"}}, "too broad"),
        ({"x": {"type": "io.cozy.contacts", "verbs": "GET"}}, "list of strings"),
        ({"x": {"type": "io.cozy.contacts", "verbs": ["GET", "FETCH"]}}, "unknown verb"),
        ({"x": {"type": "io.cozy.contacts", "values": "a"}}, "list of strings"),
        ({"x": {"type": "io.cozy.contacts", "values": [1]}}, "only strings"),
        ({"x": {"type": "io.cozy.contacts", "selector": 1}}, "must be a string"),
        ({"x": {"type": "io.cozy.contacts", "value": ["a"]}}, "unknown key"),
        ({"rules": {}, "x": {"type": "io.cozy.contacts"}}, "next to 'rules'"),
        ({"egress": "https://a.example"}, "egress"),
        ({"egress": ["https://a.example/path"]}, "origin only"),
        ({"budget": {"cpu": 1}}, "unknown budget"),
        ({"budget": 3}, "budget must be an object"),
        ({"expires_at": "tomorrow"}, "ISO 8601"),
        ({"expires_at": "2030-01-01T00:00:00"}, "time zone"),
        ({"expires_at": 1893456000}, "ISO 8601"),
        ({"maximal": "yes"}, "true or false"),
    ],
)
def test_malformed_json(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRule, match=message):
        PermissionSet.from_json(data)


def test_from_json_refuses_non_objects() -> None:
    with pytest.raises(InvalidRule, match="JSON object"):
        PermissionSet.from_json(["io.cozy.contacts"])  # type: ignore[arg-type]


# ----- describe ---------------------------------------------------------------------------


def test_describe_example() -> None:
    s = PermissionSet(
        rules=(
            Rule("io.cozy.contacts", frozenset({"GET", "POST"}), ("family",), "groups"),
            Rule("io.cozy.files", frozenset({"GET"}), ("io.cozy.files.root-dir",)),
            Rule("io.cozy.bank.*", frozenset({"GET"})),
            Rule("org.example.notes", description="to sync notes"),
            Rule("io.cozy.jobs", frozenset({"POST"}), ("sendmail", "thumbnail"), "worker"),
            Rule("io.cozy.todos", frozenset({"PUT", "PATCH"}), ("t1",)),
        ),
        egress=("https://api.bank.example",),
        budget=Budget(memory_mib=64, wall_seconds=2),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert s.describe() == [
        "Read and create your contacts (io.cozy.contacts) whose groups is family",
        "Read your files (io.cozy.files) limited to the folder or file the root folder "
        "and everything inside",
        "Read all data types under io.cozy.bank (io.cozy.bank.*)",
        "Read, create, change and delete documents of type org.example.notes — to sync notes",
        "Create background jobs (io.cozy.jobs) whose worker is one of sendmail, thumbnail",
        "Change your to-do lists (io.cozy.todos) limited to the document t1",
        "Reach https://api.bank.example",
        "Runs at most 2 s, 64 MiB",
        "Until 2030-01-01 00:00 UTC",
    ]


def test_describe_maximal_and_empty() -> None:
    assert PermissionSet.maximal_set().describe() == [
        "Full access to everything in your Roost, as its owner"
    ]
    assert PermissionSet().describe() == ["No access to your data"]
    assert PermissionSet(budget=Budget(fuel=1_000_000)).describe() == [
        "Runs at most 1,000,000 fuel units"
    ]
