"""What an update adds, in plain words: empty exactly when the new grant is within the old."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import PermissionSet
from roost.permissions.describe import describe_added

DOCTYPES = ("io.cozy.contacts", "io.cozy.files", "io.cozy.bank.operations")
VERBS = ("GET", "POST", "PUT", "DELETE")


def added(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    n, o = PermissionSet.from_json(new), PermissionSet.from_json(old)
    return describe_added(
        n.rules, n.egress, n.budget, old_rules=o.rules, old_egress=o.egress, old_budget=o.budget
    )


@pytest.mark.parametrize(
    ("new", "old", "lines"),
    [
        ({"c": {"type": "io.cozy.contacts", "verbs": ["GET"]}},) * 2 + ([],),
        (
            {"c": {"type": "io.cozy.contacts", "verbs": ["GET", "POST"]}},
            {"c": {"type": "io.cozy.contacts", "verbs": ["GET"]}},
            ["Read and create your contacts (io.cozy.contacts)"],
        ),
        (
            {"c": {"type": "io.cozy.contacts", "verbs": ["GET"], "values": ["a"]}},
            {"c": {"type": "io.cozy.contacts", "verbs": ["GET"]}},
            [],
        ),
        (
            {"egress": ["https://a.example.com", "https://b.example.com"]},
            {"egress": ["https://a.example.com"]},
            ["Reach https://b.example.com"],
        ),
        (
            {"budget": {"wall_seconds": 60}},
            {"budget": {"wall_seconds": 30}},
            ["Runs at most 60 s"],
        ),
    ],
)
def test_examples(new: dict[str, Any], old: dict[str, Any], lines: list[str]) -> None:
    assert added(new, old) == lines


rule = st.fixed_dictionaries(
    {
        "type": st.sampled_from(DOCTYPES),
        "verbs": st.lists(st.sampled_from(VERBS), min_size=1, max_size=4, unique=True),
    }
)
grant = st.lists(rule, max_size=3).map(lambda rules: {f"r{i}": r for i, r in enumerate(rules)})


@settings(max_examples=200, deadline=None)
@given(new=grant, old=grant)
def test_nothing_added_exactly_when_the_new_grant_is_within_the_old(
    new: dict[str, Any], old: dict[str, Any]
) -> None:
    within = PermissionSet.from_json(new).is_subset_of(PermissionSet.from_json(old))
    assert (added(new, old) == []) == within
