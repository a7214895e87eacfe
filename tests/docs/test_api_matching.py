"""The harness's own rules: how docs/api examples are read and compared (no server here).

A harness that let everything through would make every example "pass"; these pin that a
wrong status, member, value or variable is caught, and that variables carry over.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.api_examples import ExampleFormatError, parse_page
from tests.docs.api_matching import Bindings, compare_json, load_documented_json

ID = "6975ea13881a45a1837ec6a58d9ce79a"
OTHER_ID = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"


def test_a_documented_id_is_bound_then_required() -> None:
    bindings = Bindings({})
    assert compare_json({"id": ID}, {"id": "a" * 32}, bindings) == []
    assert bindings.substitute(f"GET /data/x.y/{ID}") == f"GET /data/x.y/{'a' * 32}"
    errors = compare_json({"id": ID}, {"id": "b" * 32}, bindings)
    assert errors and "$.id" in errors[0]


def test_two_documented_ids_may_not_be_confused_with_a_literal() -> None:
    bindings = Bindings({})
    assert compare_json({"name": "Documents"}, {"name": "Docs"}, bindings) != []
    assert compare_json({"id": "io.cozy.files.root-dir"}, {"id": ID}, bindings) != []
    assert bindings.learned == {}


def test_a_revision_keeps_its_generation() -> None:
    bindings = Bindings({})
    assert compare_json("2-55407b33130e67eeb4b7b20509f6c90b", "3-" + "c" * 32, bindings) != []
    assert compare_json("2-55407b33130e67eeb4b7b20509f6c90b", "2-" + "c" * 32, bindings) == []


def test_members_and_items_are_exact_unless_elided() -> None:
    bindings = Bindings({})
    assert compare_json({"a": 1}, {"a": 1, "b": 2}, bindings) == ["$: members not documented: b"]
    assert compare_json(load_documented_json('{"a": 1, …}'), {"a": 1, "b": 2}, bindings) == []
    assert compare_json([1], [1, 2], bindings) != []
    assert compare_json(load_documented_json("[1, …]"), [1, 2], bindings) == []
    assert compare_json({"a": 1}, {"a": 2}, bindings) != []
    assert compare_json({"a": True}, {"a": 1}, bindings) != []


def test_elisions_in_strings() -> None:
    bindings = Bindings({})
    assert compare_json("1-…", "1-abc", bindings) == []
    assert compare_json("1-…", "2-abc", bindings) != []
    assert compare_json("5f0c…", ID, bindings) == []  # a shortened id is any id
    assert bindings.match_text("…<b>ok</b>…", "<p><b>ok</b></p>")
    assert not bindings.match_text("…<b>ok</b>…", "<p><b>no</b></p>")


def test_unordered_lists_match_each_item_once() -> None:
    documented = [{"id": ID}, {"id": "_design/x"}]
    actual = [{"id": "_design/x"}, {"id": "f" * 32}]
    assert compare_json(documented, actual, Bindings({})) != []
    bindings = Bindings({})
    assert compare_json(documented, actual, bindings, unordered=True) == []
    assert bindings.learned == {ID: "f" * 32}


def test_the_documented_host_is_the_test_instance() -> None:
    bindings = Bindings({"alice.example.org": "docs1.roost.test"})
    location = f"https://alice.example.org/files/{OTHER_ID}"
    assert bindings.match_text(location, f"https://docs1.roost.test/files/{ID}")
    assert not bindings.match_text(location, f"https://evil.example/files/{ID}")


def test_a_page_is_read_as_requests_and_answers(tmp_path: Path) -> None:
    page = tmp_path / "demo.md"
    page.write_text(
        "<!-- examples: instance alice.example.org; token io.cozy.contacts -->\n"
        "```http\nPOST /data/io.cozy.contacts/ HTTP/1.1\nContent-Type: application/json\n\n"
        '{"fullname": "Ada"}\n```\n'
        '```json\n201\n{"ok": true, …}\n```\n'
        "<!-- example: skip (needs a second device) -->\n"
        "```http\nGET /data/io.cozy.contacts/x\n```\n"
        "```http\nHTTP/1.1 204 No Content\n```\n",
        encoding="utf-8",
    )
    parsed = parse_page(page)
    assert parsed.setup.token_scope == "io.cozy.contacts"
    first, second = parsed.examples
    assert (first.request.method, first.request.target) == ("POST", "/data/io.cozy.contacts/")
    assert first.request.headers == [("Content-Type", "application/json")]
    assert first.answer is not None and first.answer.status == 201
    assert (second.marker, second.reason) == ("skip", "needs a second device")


def test_a_request_without_its_answer_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("```http\nGET /files/x HTTP/1.1\n```\n\n```python\nprint()\n```\n")
    with pytest.raises(ExampleFormatError, match=r"broken\.md:5"):
        parse_page(page)
