"""What a connector may read, write and reach, in plain words: no identifier, no rule syntax."""

from __future__ import annotations

from roost.appstore.collect import access_of
from roost.permissions import PermissionSet
from roost.permissions.describe import plain_noun


def test_a_bank_connectors_grant_in_plain_words() -> None:
    grant = PermissionSet.from_json(
        {
            "accounts": {"type": "io.cozy.bank.accounts", "verbs": ["GET", "POST", "PUT"]},
            "operations": {"type": "io.cozy.bank.operations", "verbs": ["POST", "PATCH"]},
            "bills": {"type": "io.cozy.bills"},
            "egress": ["https://bank.example.com", "https://*.cdn.example.net"],
        }
    )
    access = access_of(grant)
    assert access.reads == ("your bank accounts", "your bills")
    assert [p.english() for p in access.writes] == [
        "Create and change your bank accounts",
        "Create and change your bank operations",
        "Create, change and delete your bills",
    ]
    assert access.reaches == ("bank.example.com", "any address under cdn.example.net")
    shown = " ".join([*access.reads, *(p.english() for p in access.writes), *access.reaches])
    assert "io.cozy" not in shown and ":" not in shown


def test_nouns_never_show_an_identifier() -> None:
    assert plain_noun("io.cozy.bank.operations") == "your bank operations"
    assert plain_noun("com.example.energy.readings") == "your energy readings"
    assert plain_noun("org.example.meter_index") == "your meter index"
    assert plain_noun("com.example.energy.*") == "all your energy data"


def test_nothing_granted_reads_as_nothing() -> None:
    access = access_of(PermissionSet.from_json({}))
    assert access.reads == () and access.writes == () and access.reaches == ()
