from __future__ import annotations

import json
from typing import Any

import pytest

from roost.apps.manifest import ManifestError, check_triggers, parse_manifest
from roost.jobs import InvalidTrigger, trigger_problem
from roost.jobs.trigger import validate_trigger
from roost.permissions import DocumentTarget

GOOD: dict[str, Any] = {
    "slug": "bank-connector",
    "name": "Bank connector",
    "version": "1.0.0",
    "type": "konnector",
    "description": ["Imports your bank operations."],
    "permissions": {
        "ops": {
            "type": "io.cozy.bank.operations",
            "verbs": ["GET", "POST"],
            "description": "save your operations",
        }
    },
    "egress": ["https://bank.example.com"],
    "budget": {"fuel": 1000, "memory_mib": 64, "wall_seconds": 5},
    "triggers": ["@cron 0 5 * * *", {"type": "@event", "arguments": "io.cozy.bills:CREATED"}],
    "fields": {"login": {"type": "text"}, "password": {"type": "password"}},
}


def errors_of(**changes: Any) -> list[str]:
    data = {**GOOD, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ManifestError) as exc:
        parse_manifest(json.dumps(data), trigger_grammar=trigger_problem)
    return exc.value.errors


def test_good_manifest_parses_and_builds_its_grant() -> None:
    m = parse_manifest(json.dumps(GOOD))
    assert m.slug == "bank-connector" and m.is_konnector
    assert m.doctype == "io.cozy.konnectors"
    assert [str(t) for t in m.triggers] == ["@cron 0 5 * * *", "@event io.cozy.bills:CREATED"]
    assert [f.name for f in m.fields] == ["login", "password"]
    grant = m.grant()
    assert grant.egress == ("https://bank.example.com",)
    assert grant.budget is not None and grant.budget.memory_mib == 64
    assert grant.allows("POST", "io.cozy.bank.operations", DocumentTarget({"_id": "x"}))
    assert not grant.allows("DELETE", "io.cozy.bank.operations", DocumentTarget({"_id": "x"}))
    lines = m.describe()
    assert any("bank operations" in line for line in lines)
    assert any("bank.example.com" in line for line in lines)
    assert m.to_json()["permissions"]["ops"]["description"] == "save your operations"


def test_every_problem_is_reported_at_once() -> None:
    errs = errors_of(slug="Bad Slug", version="1", type="app", name="")
    joined = "\n".join(errs)
    for word in ("slug", "version", "type", "name"):
        assert word in joined
    assert len(errs) >= 4


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"budget": {"fuel": -5}}, "budget.fuel"),
        ({"budget": {"cpu": 1}}, "budget: unknown keys"),
        ({"egress": ["ftp://x.example"]}, "egress[0]"),
        ({"egress": "https://x.example"}, "egress: must be a list"),
        ({"triggers": ["@hourly"]}, "triggers[0]: a trigger type is one of"),
        ({"triggers": ["every 1h"]}, "a trigger type looks like @every"),
        ({"triggers": ["@cron * *"]}, "triggers[0]: "),
        ({"triggers": ["@every soon"]}, "@every takes a duration"),
        ({"triggers": ["@event io.cozy.bills:EATEN"]}, "triggers[0]: "),
        ({"triggers": ["@at tomorrow"]}, "@at takes an ISO 8601"),
        ({"fields": {"pin": {"type": "telepathy"}}}, "fields.pin.type"),
        ({"permissions": {"x": {"type": "io.cozy.contacts"}}}, "permissions.x.description"),
        (
            {"permissions": {"x": {"type": "io.cozy.contacts", "description": "d", "oops": 1}}},
            "unknown keys",
        ),
        ({"permissions": {"x": {"type": "io.cozy.*", "description": "d"}}}, "permissions:"),
        (
            {
                "permissions": {
                    "x": {"type": "io.cozy.contacts", "verbs": ["EAT"], "description": "d"}
                }
            },
            "EAT",
        ),
        ({"world": "roost:app@9.0.0"}, "world"),
        ({"surprise": True}, "unknown keys"),
    ],
)
def test_clear_errors(changes: dict[str, Any], needle: str) -> None:
    errs = errors_of(**changes)
    assert any(needle in e for e in errs), errs


def test_fields_only_for_konnectors() -> None:
    errs = errors_of(type="webapp")
    assert any("only konnectors" in e for e in errs)


def test_not_json_and_not_object() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_manifest(b"{nope")
    with pytest.raises(ManifestError, match="JSON object"):
        parse_manifest("[1, 2]")


def test_example_manifests_are_valid() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples" / "apps"
    slugs = []
    for path in sorted(root.glob("*/manifest.json")):
        m = parse_manifest(path.read_bytes())
        assert m.slug == path.parent.name
        assert m.description and all(p.description for p in m.permissions)
        slugs.append(m.slug)
    assert {"bank-connector", "health-bills", "insurance-offer", "doc-stats"} <= set(slugs)
    offer = parse_manifest((root / "insurance-offer" / "manifest.json").read_bytes())
    assert offer.egress == () and offer.grant().egress == ()
    assert offer.world == "roost:app@0.2.0"
    assert offer.grant().doctypes() == {
        "io.roost.vehicles",
        "io.roost.driving.trips",
        "io.roost.insurance.offers",
        "io.roost.outbox",
    }


def test_event_triggers_take_values_and_selector() -> None:
    m = parse_manifest(
        json.dumps(
            {**GOOD, "triggers": ["@event io.cozy.bank.operations:CREATED:acc1,acc2:account"]}
        )
    )
    assert m.triggers[0].arguments == "io.cozy.bank.operations:CREATED:acc1,acc2:account"
    errs = errors_of(triggers=["@event io.cozy.bills:CREATED:a:b:c"])
    assert any("doctype[:VERBS" in e for e in errs)


TRIGGERS = [
    ("@every", "1d"),
    ("@every", "1h30m"),
    ("@every", "0s"),
    ("@every", "-1h"),
    ("@in", "2w"),
    ("@cron", "61 * * * *"),
    ("@cron", "0 5 * * *"),
    ("@cron", "0 0 5 31 2 *"),
    ("@cron", "@daily"),
    ("@at", "2030-01-31T08:00:00Z"),
    ("@at", "tomorrow"),
    ("@event", "io.cozy.bills:CREATED"),
    ("@event", "io.cozy.bills:EATEN"),
    ("@event", "io.cozy.bills:CREATED:a:b:c"),
    ("@webhook", ""),
    ("@webhook", "x"),
    ("@hourly", ""),
]


@pytest.mark.parametrize(("kind", "arguments"), TRIGGERS, ids=[f"{k} {a}" for k, a in TRIGGERS])
def test_a_manifest_and_the_jobs_api_judge_a_trigger_alike(kind: str, arguments: str) -> None:
    """One grammar: what `create_trigger` refuses, the manifest refuses, with the same reason."""
    try:
        validate_trigger(kind, arguments)
        jobs_reason = None
    except InvalidTrigger as error:
        jobs_reason = error.reason
    trigger = f"{kind} {arguments}".strip()
    try:
        parse_manifest(json.dumps({**GOOD, "triggers": [trigger]}), trigger_grammar=trigger_problem)
        manifest_errors: list[str] = []
    except ManifestError as error:
        manifest_errors = error.errors
    if jobs_reason is None:
        assert manifest_errors == []
    else:
        assert manifest_errors == [f"triggers[0]: {jobs_reason}"]


def test_every_bad_trigger_is_listed() -> None:
    m = parse_manifest(
        json.dumps({**GOOD, "triggers": ["@every 0s", "@every 1d", "@cron 61 * * * *"]})
    )
    errors = check_triggers(m.triggers, trigger_problem)
    assert [e.split(":")[0] for e in errors] == ["triggers[0]", "triggers[2]"]
