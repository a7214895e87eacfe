"""`roost.fast_json` answers exactly what the standard `json` module answers."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost import fast_json

# JSON values as the store sends them: any string, any integer (also past 64 bits), any
# finite float.
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _same(left: Any, right: Any) -> bool:
    """Equal, with the same types all the way down (1 and 1.0 differ; -0.0 and 0.0 too)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        if math.isnan(left):
            return math.isnan(right)
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    return bool(left == right)


@given(values)
def test_decoding_matches_json(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert _same(fast_json.loads(text), json.loads(text))


@given(values)
def test_encoding_reads_back_as_json_encodes(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert _same(json.loads(fast_json.dumps(value)), json.loads(expected))


@pytest.mark.parametrize(
    "text",
    [
        b'{"n": 123456789012345678901234567890}',
        b'{"n": -9223372036854775809}',
        b'{"n": 18446744073709551616}',
        b'{"x": 1e400}',
        b'{"x": NaN}',
        b'{"s": "\\ud800"}',
        b'\xef\xbb\xbf{"a": 1}',
        '{"a": "é"}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',
    ],
)
def test_what_orjson_reads_differently_is_read_by_json(text: bytes) -> None:
    assert _same(fast_json.loads(text), json.loads(text))


def test_invalid_json_is_refused_like_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        fast_json.loads(b'{"a": ')


def test_integers_past_64_bits_are_encoded_whole() -> None:
    assert fast_json.dumps({"n": 2**70}) == b'{"n":1180591620717411303424}'


@given(st.binary(max_size=80) | st.text(alphabet="0123456789 -.e٣", max_size=60).map(str.encode))
def test_a_long_run_of_digits_is_found_as_a_regular_expression_finds_it(data: bytes) -> None:
    """19 ASCII digits in a row, exactly what `\\d{19}` finds in bytes (not other scripts'
    digits: `٣` is not one)."""
    assert fast_json.has_long_digit_run(data) == (re.search(rb"\d{19}", data) is not None)
