"""What a proposal may be, how its body reads for a person, and when it has expired."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from roost.apps.host.outbox import MAX_BODY_BYTES, shape_proposal
from roost.apps.services import Invalid
from roost.outbox import body_bytes, effective_state, readable_body

GOOD: dict[str, Any] = {
    "url": "HTTPS://Quotes.Insurer.Example:443/v1/acceptances?x=1",
    "method": "post",
    "headers": {"Content-Type": "application/json", "X-Quote": "q-1"},
    "body": json.dumps({"offer": "offer-car1", "monthly_premium": 31.42}),
    "summary": "  Accept the offer  ",
}


def test_a_proposal_is_shaped_with_its_canonical_destination() -> None:
    shaped = shape_proposal("insurance-offer", GOOD)
    assert shaped["destination"] == "https://quotes.insurer.example"
    assert shaped["method"] == "POST" and shaped["summary"] == "Accept the offer"
    assert shaped["headers"] == {"content-type": "application/json", "x-quote": "q-1"}
    assert shaped["body"] == GOOD["body"] and shaped["app"] == "insurance-offer"
    assert shaped["expires_in_seconds"] == 7 * 24 * 3600
    binary = shape_proposal("a", {**GOOD, "body": None, "body_base64": "AP8="})
    assert binary["body_base64"] == "AP8=" and "body" not in binary


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"url": "ftp://insurer.example/x"}, "absolute http(s) URL"),
        ({"url": "https://user:pw@insurer.example/"}, "without credentials"),
        ({"method": "CONNECT"}, "method must be one of"),
        ({"summary": " "}, "summary"),
        ({"headers": {"Authorization": "Bearer x"}}, "cannot be proposed"),
        ({"headers": {"Cookie": "a=b"}}, "cannot be proposed"),
        ({"headers": {"X-A": "line\r\nInjected: 1"}}, "invalid value"),
        ({"body": "x" * (MAX_BODY_BYTES + 1)}, "at most"),
        ({"body": {"not": "a string"}}, "body must be a string"),
        ({"expires_in_seconds": 5}, "expires_in_seconds"),
        ({"expires_in_seconds": True}, "expires_in_seconds"),
    ],
)
def test_a_bad_proposal_is_refused_saying_why(change: dict[str, Any], why: str) -> None:
    with pytest.raises(Invalid, match=re.escape(why)):
        shape_proposal("insurance-offer", {**GOOD, **change})


def test_a_json_body_reads_as_fields_never_braces() -> None:
    body = json.dumps(
        {
            "offer": "offer-car1",
            "monthly_premium": 31.42,
            "basis": {"km": 7200.0},
            "ok": True,
            "items": ["a", "b"],
            "note": None,
        }
    ).encode()
    readable = readable_body(body, "application/json; charset=utf-8")
    assert readable.kind == "fields" and readable.size == len(body)
    assert readable.fields == [
        ("Offer", "offer-car1"),
        ("Monthly premium", "31.42"),
        ("Basis › Km", "7200"),
        ("Ok", "yes"),
        ("Items 1", "a"),
        ("Items 2", "b"),
        ("Note", "—"),
    ]
    assert not any("{" in label + value for label, value in readable.fields)


def test_a_key_given_twice_is_shown_twice() -> None:
    readable = readable_body(b'{"price": 10, "price": 1000}', "application/json")
    assert readable.fields == [("Price", "10"), ("Price", "1000")]


def test_forms_text_and_bytes_read_as_what_they_are() -> None:
    form = readable_body(b"first_name=Ada&city=Paris", "application/x-www-form-urlencoded")
    assert form.fields == [("First name", "Ada"), ("City", "Paris")]
    assert readable_body(b"hello", "text/plain").text == "hello"
    assert readable_body(b"\x00\xff", "application/octet-stream").kind == "binary"
    assert readable_body(b"", "").kind == "empty"
    assert readable_body(b"{not json", "application/json").kind == "text"


def test_the_bytes_that_leave_and_the_expiry() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    text = {"body": "café", "state": "proposed", "expires_at": (now + timedelta(1)).isoformat()}
    assert body_bytes(text) == "café".encode()
    assert body_bytes({"body_base64": base64.b64encode(b"\x00\x01").decode()}) == b"\x00\x01"
    assert effective_state(text, now) == "proposed"
    assert effective_state(text, now + timedelta(days=2)) == "expired"
    assert effective_state({**text, "state": "sent"}, now + timedelta(days=2)) == "sent"
