"""Doctype names, wildcards and the reserved-doctype table (cozy-stack §2.1, §2.6)."""

from __future__ import annotations

import pytest

from roost.permissions import (
    RESERVED_DOCTYPES,
    InvalidRule,
    PermissionDenied,
    check_readable,
    check_writable,
    is_readable,
    is_writable,
    match_type,
    type_covers,
    validate_doctype,
)


@pytest.mark.parametrize(
    "name",
    [
        "io.cozy.contacts",
        "io.cozy.bank.operations",
        "com.bitwarden.ciphers",
        "io.cozy.oauth.access_codes",
        "org.example.v2",
        "a.b",
        "x1.y_2.z3",
    ],
)
def test_valid_names(name: str) -> None:
    assert validate_doctype(name) == name
    assert validate_doctype(name, allow_wildcard=True) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("contacts", "at least one dot"),
        ("io.cozy.Contacts", "lowercase"),
        ("io.cozy.contacts-2", "lowercase"),
        ("io.cozy contacts", "lowercase"),
        ("io.cozy.contàcts", "lowercase"),
        (".io.cozy", "start or end"),
        ("io.cozy.", "start or end"),
        ("io..cozy", "two dots"),
        ("io/cozy.files", "lowercase"),
        ("*", "owner"),
        ("io.cozy.bank.*", "wildcards are not allowed"),
    ],
)
def test_invalid_names(name: str, why: str) -> None:
    with pytest.raises(InvalidRule, match=why):
        validate_doctype(name)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("io.cozy.bank.*", True),
        ("io.cozy.bank.operations.*", True),
        ("com.example.app.*", True),
        ("io.cozy.*", False),
        ("io.*", False),
        ("*", False),
        (".*", False),
        ("io.cozy.Bank.*", False),
        ("io.cozy..bank.*", False),
        ("io.cozy.bank*", False),
        ("io.cozy.*.bank", False),
        ("io.cozy.bank.*.*", False),
    ],
)
def test_wildcards(name: str, ok: bool) -> None:
    if ok:
        assert validate_doctype(name, allow_wildcard=True) == name
    else:
        with pytest.raises(InvalidRule):
            validate_doctype(name, allow_wildcard=True)


def test_too_broad_wildcard_message() -> None:
    with pytest.raises(InvalidRule, match="too broad"):
        validate_doctype("io.cozy.*", allow_wildcard=True)


@pytest.mark.parametrize(
    ("rule_type", "doctype", "expected"),
    [
        ("io.cozy.contacts", "io.cozy.contacts", True),
        ("io.cozy.contacts", "io.cozy.contacts.groups", False),
        ("io.cozy.bank.*", "io.cozy.bank", True),
        ("io.cozy.bank.*", "io.cozy.bank.operations", True),
        ("io.cozy.bank.*", "io.cozy.bank.operations.stats", True),
        ("io.cozy.bank.*", "io.cozy.banking", False),
        ("io.cozy.bank.*", "io.cozy.bills", False),
    ],
)
def test_match_type(rule_type: str, doctype: str, expected: bool) -> None:
    assert match_type(rule_type, doctype) is expected


@pytest.mark.parametrize(
    ("parent", "child", "expected"),
    [
        ("io.cozy.contacts", "io.cozy.contacts", True),
        ("io.cozy.bank.*", "io.cozy.bank.*", True),
        ("io.cozy.bank.*", "io.cozy.bank", True),
        ("io.cozy.bank.*", "io.cozy.bank.operations", True),
        ("io.cozy.bank.*", "io.cozy.bank.operations.*", True),
        ("io.cozy.bank.operations.*", "io.cozy.bank.*", False),
        ("io.cozy.bank", "io.cozy.bank.*", False),
        ("io.cozy.bank.*", "io.cozy.banking.*", False),
    ],
)
def test_type_covers(parent: str, child: str, expected: bool) -> None:
    assert type_covers(parent, child) is expected


# cozy-stack's table (model/permission/doctype.go) plus Roost's own doctypes.
UNREADABLE = [
    "io.cozy.account_types",
    "io.cozy.konnectors.maintenance",
    "io.cozy.remote.secrets",
    "io.cozy.sessions",
    "io.cozy.permissions",
    "io.cozy.intents",
    "io.cozy.oauth.clients",
    "io.cozy.oauth.access_codes",
    "io.cozy.files.archives",
    "io.cozy.sharings",
    "io.cozy.shared",
    "io.cozy.accounts.soft_deleted",
    "io.cozy.certified.carbon_copy",
    "io.cozy.certified.electronic_safe",
    "io.cozy.files.sizes",
    "io.cozy.triggers.state",
    "io.cozy.sharings.answer",
    "io.cozy.sharings.moved",
    "io.cozy.support",
    "com.bitwarden.profiles",
    "io.cozy.office.url",
    "io.cozy.notes.url",
    "io.cozy.apps.open",
    "io.cozy.apps.logs",
    "io.cozy.auth.confirmations",
    "io.cozy.jobs.events",
    "io.cozy.sharings.initial_sync",
    "io.cozy.notes.events",
    "io.cozy.notes.telepointers",
    "io.cozy.files.thumbnails",
    "io.roost.app_passwords",
    "io.roost.sessions",
]
READ_ONLY = [
    "io.cozy.jobs",
    "io.cozy.triggers",
    "io.cozy.apps",
    "io.cozy.konnectors",
    "io.cozy.files",
    "io.cozy.files.versions",
    "io.cozy.notifications",
    "io.cozy.remote.requests",
    "io.cozy.sessions.logins",
    "io.cozy.notes.steps",
    "io.cozy.notes.images",
    "com.bitwarden.contacts",
    "io.roost.access",
    "io.roost.connector.runs",
]
FREE = [
    "io.cozy.contacts",
    "io.cozy.bank.operations",
    "io.cozy.accounts",
    "io.cozy.settings",
    "io.cozy.photos.albums",
    "com.bitwarden.ciphers",
    "org.example.notes",
]


@pytest.mark.parametrize("doctype", UNREADABLE)
def test_unreadable(doctype: str) -> None:
    with pytest.raises(PermissionDenied) as err:
        check_readable(doctype)
    assert err.value.doctype == doctype
    assert "reserved" in err.value.reason
    with pytest.raises(PermissionDenied):
        check_writable(doctype)
    assert not is_readable(doctype)
    assert not is_writable(doctype)


@pytest.mark.parametrize("doctype", READ_ONLY)
def test_read_only(doctype: str) -> None:
    check_readable(doctype)
    with pytest.raises(PermissionDenied, match="read-only") as err:
        check_writable(doctype)
    assert err.value.doctype == doctype
    assert is_readable(doctype)
    assert not is_writable(doctype)


@pytest.mark.parametrize("doctype", FREE)
def test_free(doctype: str) -> None:
    check_readable(doctype)
    check_writable(doctype)
    assert is_readable(doctype) and is_writable(doctype)


def test_table_is_exactly_the_lists_above() -> None:
    assert set(RESERVED_DOCTYPES) == set(UNREADABLE) | set(READ_ONLY)


@pytest.mark.parametrize("doctype", ["", "IO.COZY.X", "io..x", "io.cozy.bank.*", "nodot"])
def test_invalid_names_are_neither_readable_nor_writable(doctype: str) -> None:
    with pytest.raises(PermissionDenied):
        check_readable(doctype)
    with pytest.raises(PermissionDenied):
        check_writable(doctype)


def test_check_verb_is_reported() -> None:
    with pytest.raises(PermissionDenied) as err:
        check_writable("io.cozy.files", verb="DELETE")
    assert err.value.verb == "DELETE"
    with pytest.raises(PermissionDenied) as err:
        check_readable("io.cozy.permissions")
    assert err.value.verb == "GET"
