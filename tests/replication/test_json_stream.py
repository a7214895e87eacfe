"""The incremental reader of `{"results": [...], "last_seq": …}` answers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.errors import StoreUnavailable
from roost.replication.json_stream import ResultsStream

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _read(payload: bytes, cuts: list[int]) -> tuple[list[object], list[str], dict[str, object]]:
    stream = ResultsStream()
    rows = []
    previous = 0
    for cut in [*sorted(cuts), len(payload)]:
        rows += stream.feed(payload[previous:cut])
        previous = cut
    stream.close()
    return [r.value for r in rows], [r.text for r in rows], stream.meta


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(json_values, max_size=8),
    last_seq=st.integers(min_value=0) | st.text(max_size=30),
    indent=st.sampled_from([None, 1]),
    data=st.data(),
)
def test_rows_come_out_whole_however_the_bytes_are_cut(rows, last_seq, indent, data) -> None:
    payload = json.dumps({"results": rows, "last_seq": last_seq, "pending": 0}, indent=indent)
    encoded = payload.encode()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(encoded)), max_size=12))
    values, texts, meta = _read(encoded, cuts)
    assert values == rows
    assert [json.loads(t) for t in texts] == rows
    assert meta == {"last_seq": last_seq, "pending": 0}


def test_members_before_the_array_and_multibyte_text() -> None:
    payload = '{"last_seq": 12, "results": [{"id": "é☃"}, 7]}'.encode()
    values, _, meta = _read(payload, list(range(len(payload))))
    assert values == [{"id": "é☃"}, 7]
    assert meta == {"last_seq": 12}


def test_a_cut_answer_is_an_error() -> None:
    stream = ResultsStream()
    stream.feed(b'{"results":[{"id":"a"},')
    with pytest.raises(StoreUnavailable):
        stream.close()


def test_garbage_is_an_error() -> None:
    with pytest.raises(StoreUnavailable):
        ResultsStream().feed(b"[1,2]")
