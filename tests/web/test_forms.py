"""`roost.web.forms.parse_form`: strict urlencoded forms (no HTTP needed)."""

from __future__ import annotations

import pytest

from roost.errors import BadRequest
from roost.web.forms import parse_form, same_token


def test_a_form_is_parsed_with_blank_values_and_utf8_escapes() -> None:
    assert parse_form(b"label=caf%C3%A9&scope=&csrf_token=a+b") == {
        "label": "café",
        "scope": "",
        "csrf_token": "a b",
    }
    assert parse_form(b"") == {}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"label=\xff", "the form is not UTF-8"),
        (b"label=caf%E9", "the form is not UTF-8"),
        (b"a=1&a=2", "a is given more than once"),
        (b"&".join(b"f%d=1" % i for i in range(101)), "the form has more than 100 fields"),
    ],
)
def test_a_malformed_form_is_a_clear_400(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_form(raw)
    assert caught.value.reason == reason


def test_tokens_compare_whole_and_accept_any_text() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token("abc", "ab")
    assert not same_token("abc", "é")
