"""The data a run brought, counted from its aggregated host calls."""

from __future__ import annotations

from roost.apps.services import AccessEntry
from roost.appstore.run_data import data_brought, total_brought


def entry(
    interface: str, function: str, verb: str, doctype: str, count: int, **more: object
) -> AccessEntry:
    return AccessEntry(
        at=0.0,
        app="c",
        interface=interface,
        function=function,
        verb=verb,
        doctype=doctype,
        allowed=bool(more.pop("allowed", True)),
        count=count,
        **more,  # type: ignore[arg-type]
    )


def test_counts_per_doctype_only_for_allowed_writes() -> None:
    counts = data_brought(
        [
            entry("data", "create", "POST", "io.cozy.bank.operations", 6, calls=6),
            entry("data", "update", "PUT", "io.cozy.bank.operations", 2, calls=2),
            entry("data", "get", "GET", "io.cozy.bank.operations", 8, calls=8),
            entry("data", "create", "POST", "io.cozy.bank.accounts", 2, calls=2),
            entry(
                "data", "create", "POST", "io.cozy.contacts", 1, allowed=False, error="forbidden"
            ),
            entry("data", "update", "PUT", "io.cozy.bills", 1, error="conflict"),
            entry("files", "write", "POST", "io.cozy.files", 1, ids=("f1",)),
            entry("files", "write", "PUT", "io.cozy.files", 2, ids=("f2", "f1")),
            entry("http", "fetch", "GET", "", 1, egress_host="bank.example"),
        ]
    )
    assert counts == {
        "io.cozy.bank.operations": {"created": 6, "updated": 2, "deleted": 0},
        "io.cozy.bank.accounts": {"created": 2, "updated": 0, "deleted": 0},
        "io.cozy.files": {"created": 1, "updated": 2, "deleted": 0, "ids": ["f1", "f2"]},
    }
    assert total_brought(counts, "io.cozy.bank.operations") == 8
    assert total_brought(counts, "io.cozy.contacts") == 0
