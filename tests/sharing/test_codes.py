"""Share-link codes: each names its link, and nothing else is taken for a code."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from roost.sharing.codes import digest, link_id_of, new_code, new_link_id, same_digest


def test_a_new_code_names_its_link_and_matches_only_its_digest() -> None:
    link_id = new_link_id()
    code = new_code(link_id)
    assert link_id_of(code) == link_id
    assert same_digest(digest(code), code)
    other = new_code(link_id)
    assert other != code and not same_digest(digest(code), other)


@given(st.text(max_size=80))
def test_anything_else_is_no_code(text: str) -> None:
    found = link_id_of(text)
    if found is not None:
        # Only the exact shape is read: 32 hex digits, then 32 base64url characters.
        assert len(text) == 64 and text.isascii() and found == text[:32]
        assert all(c in "0123456789abcdef" for c in found)


@given(st.integers(min_value=0, max_value=63), st.sampled_from(["/", ".", "%", " ", "é", "="]))
def test_a_code_with_a_foreign_character_is_refused(position: int, character: str) -> None:
    code = new_code(new_link_id())
    changed = code[:position] + character + code[position + 1 :]
    assert link_id_of(changed) is None
    assert link_id_of(code + "A") is None and link_id_of(code[:-1]) is None
