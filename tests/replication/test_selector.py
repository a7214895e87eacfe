"""Mango selectors as Roost evaluates them for `filter=_selector`.

PouchDB's own matcher (run in Node) is the oracle where CouchDB and PouchDB agree; the few
places where PouchDB departs from CouchDB's documented behaviour are tested separately.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from roost.errors import BadRequest
from roost.replication.selector import matches, validate_selector

ORACLE = Path(__file__).with_name("selector_oracle.js")

DOCS: list[dict[str, Any]] = [
    {"_id": "a", "name": {"first": "Ann", "last": "Lee"}, "age": 31, "groups": ["family", "work"]},
    {"_id": "b", "name": {"first": "Bob"}, "age": 12.5, "groups": [], "tags": {"x": 1}},
    {"_id": "c", "age": None, "groups": ["work"], "flag": True, "score": -7},
    {"_id": "d", "age": "31", "nested": {"list": [{"k": 1}, {"k": 2}]}, "flag": False},
    {"_id": "e.f", "dotted.key": "yes", "score": 10},
]

SELECTORS: list[dict[str, Any]] = [
    {},
    {"age": 31},
    {"age": {"$eq": 31}},
    {"age": {"$gt": 20}},
    {"age": {"$gte": 12.5, "$lt": 31}},
    {"age": {"$lte": None}},
    {"age": {"$type": "number"}},
    {"age": {"$type": "string"}},
    {"age": {"$type": "null"}},
    {"age": {"$exists": True}},
    {"age": {"$exists": False}},
    {"name.first": "Ann"},
    {"name": {"first": "Bob"}},
    {"name": {"first": {"$regex": "^A"}}},
    {"groups": {"$in": ["family"]}},
    {"groups": {"$all": ["family", "work"]}},
    {"groups": {"$size": 0}},
    {"groups": {"$elemMatch": {"$eq": "work"}}},
    {"groups": {"$allMatch": {"$eq": "work"}}},
    {"nested.list": {"$elemMatch": {"k": 2}}},
    {"tags": {"$keyMapMatch": {"$eq": "x"}}},
    {"score": {"$mod": [5, 0]}},
    {"score": {"$mod": [5, -2]}},
    {"flag": True},
    {"flag": {"$in": [False, None]}},
    {"$or": [{"age": 31}, {"flag": False}]},
    {"$and": [{"age": {"$gt": 10}}, {"groups": {"$size": 0}}]},
    {"$nor": [{"age": 31}, {"score": 10}]},
    {"$not": {"age": 31}},
    {"age": {"$not": {"$gt": 20}}},
    {"age": {"$or": [{"$eq": 31}, {"$eq": 12.5}]}},
    {"_id": {"$gt": "b"}},
    {"dotted\\.key": "yes"},
    {"name.last": {"$exists": False}},
    {"groups": ["family", "work"]},
]


def _oracle(cases: list[list[Any]]) -> list[bool | None]:
    result = subprocess.run(
        ["node", str(ORACLE)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answers: list[bool | None] = json.loads(result.stdout)
    return answers


def test_roost_agrees_with_pouchdb_on_every_case() -> None:
    cases = [[selector, doc] for selector in SELECTORS for doc in DOCS]
    expected = _oracle(cases)
    disagreements = [
        (selector, doc["_id"], want)
        for (selector, doc), want in zip(cases, expected, strict=True)
        if want is not None and matches(validate_selector(selector), doc) != want
    ]
    assert disagreements == []
    # Operators PouchDB 7's matcher lacks are checked below against CouchDB's documentation.
    assert expected.count(None) <= 4 * len(DOCS)


@pytest.mark.parametrize(
    ("selector", "doc_id", "expected"),
    [
        ({"age": {"$or": [{"$eq": 31}, {"$eq": 12.5}]}}, "a", True),
        ({"age": {"$or": [{"$eq": 31}, {"$eq": 12.5}]}}, "d", False),
        ({"tags": {"$keyMapMatch": {"$eq": "x"}}}, "b", True),
        ({"tags": {"$keyMapMatch": {"$eq": "y"}}}, "b", False),
        ({"tags": {"$keyMapMatch": {"$eq": "x"}}}, "a", False),
        ({"age": {"$not": {"$gt": 20}}}, "b", True),
        ({"age": {"$not": {"$gt": 20}}}, "a", False),
        ({"name": {"first": {"$regex": "^A"}}}, "a", True),
        ({"name": {"first": {"$regex": "^A"}}}, "b", False),
    ],
)
def test_operators_pouchdb_7_lacks(selector, doc_id, expected) -> None:
    [doc] = [d for d in DOCS if d["_id"] == doc_id]
    assert matches(validate_selector(selector), doc) is expected


@pytest.mark.parametrize(
    ("selector", "doc", "expected"),
    [
        # CouchDB: a missing field matches nothing but {"$exists": false}; PouchDB lets $ne
        # and $nin match a missing field.
        ({"age": {"$ne": 3}}, {}, False),
        ({"age": {"$nin": [3]}}, {}, False),
        ({"age": {"$ne": 3}}, {"age": 4}, True),
    ],
)
def test_missing_fields_follow_couchdb(selector, doc, expected) -> None:
    assert matches(validate_selector(selector), doc) is expected


@pytest.mark.parametrize(
    "selector",
    [
        [],
        {"$where": "1"},
        {"a": {"$regex": "("}},
        {"a": {"$in": 3}},
        {"a": {"$mod": [0, 1]}},
        {"a": {"$type": "date"}},
        {"a": {"$gt": 1, "b": 2}},
        {"$or": {"a": 1}},
        {"a": {"$exists": "yes"}},
    ],
)
def test_malformed_selectors_are_refused(selector: Any) -> None:
    with pytest.raises(BadRequest):
        validate_selector(selector)
