"""Files and directories: a permission on a folder covers its subtree (cozy-stack §2.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import (
    ROOT_DIR_ID,
    TRASH_DIR_ID,
    DocumentTarget,
    FileTarget,
    PermissionSet,
    Rule,
    decide,
)

FILES = "io.cozy.files"
GET = frozenset({"GET"})

# id: (parent id, type, name, mime, class, tags, referenced_by)
TREE: dict[str, tuple[str | None, str, str, str, str, tuple[str, ...], tuple[str, ...]]] = {
    ROOT_DIR_ID: (None, "directory", "", "", "", (), ()),
    "photos": (
        ROOT_DIR_ID,
        "directory",
        "Photos",
        "",
        "",
        ("holiday",),
        ("io.cozy.photos.albums/al1",),
    ),
    "y2024": ("photos", "directory", "2024", "", "", (), ()),
    "img1": ("y2024", "file", "sea.jpg", "image/jpeg", "image", ("beach",), ()),
    "img2": ("photos", "file", "cat.png", "image/png", "image", (), ()),
    "docs": (ROOT_DIR_ID, "directory", "Documents", "", "", (), ()),
    "cv": ("docs", "file", "cv.pdf", "application/pdf", "pdf", (), ("io.cozy.jobs.apps/j1",)),
    TRASH_DIR_ID: (ROOT_DIR_ID, "directory", ".cozy_trash", "", "", (), ()),
    "old": (TRASH_DIR_ID, "file", "old.txt", "text/plain", "text", ("holiday",), ()),
    "top": (ROOT_DIR_ID, "file", "todo.txt", "text/plain", "text", (), ()),
}

NOW = datetime(2026, 12, 6, tzinfo=UTC)  # before any expiry these tests set


def target(node_id: str) -> FileTarget:
    parent, kind, name, mime, klass, tags, refs = TREE[node_id]
    ancestors: list[FileTarget] = []
    current = parent
    while current is not None:
        ancestors.append(target(current))
        current = TREE[current][0]
    return FileTarget(
        id=node_id,
        dir_id=parent,
        type=kind,
        name=name,
        mime=mime,
        class_=klass,
        tags=tags,
        referenced_by=refs,
        ancestors=tuple(ancestors),
    )


def test_fetch() -> None:
    img1 = target("img1")
    assert img1.fetch("type") == ["file"]
    assert img1.fetch("name") == ["sea.jpg"]
    assert img1.fetch("mime") == ["image/jpeg"]
    assert img1.fetch("class") == ["image"]
    assert img1.fetch("tags") == ["beach"]
    assert target("photos").fetch("referenced_by") == ["io.cozy.photos.albums/al1"]
    assert target("photos").fetch("mime") == []
    assert img1.fetch("dir_id") == []
    assert [a.id for a in img1.ancestors] == ["y2024", "photos", ROOT_DIR_ID]


def test_type_is_checked() -> None:
    with pytest.raises(ValueError, match="file"):
        FileTarget(id="x", dir_id=None, type="folder", name="x")


def rule(values: tuple[str, ...] = (), selector: str | None = None, **kw: Any) -> Rule:
    return Rule(kw.pop("type", FILES), kw.pop("verbs", GET), values, selector)


CASES: list[tuple[str, Rule, dict[str, bool]]] = [
    ("whole doctype", rule(), {"img1": True, "old": True, ROOT_DIR_ID: True}),
    (
        "folder covers its subtree",
        rule(("photos",)),
        {"photos": True, "y2024": True, "img1": True, "img2": True, "cv": False, "docs": False},
    ),
    ("subfolder", rule(("y2024",)), {"img1": True, "img2": False, "photos": False}),
    ("a file alone", rule(("img2",)), {"img2": True, "img1": False, "photos": False}),
    ("root covers everything", rule((ROOT_DIR_ID,)), {"img1": True, "old": True, "top": True}),
    ("trash", rule((TRASH_DIR_ID,)), {"old": True, "top": False, "img1": False}),
    ("several folders", rule(("docs", "y2024")), {"cv": True, "img1": True, "img2": False}),
    (
        "tags inherited",
        rule(("holiday",), "tags"),
        {"photos": True, "y2024": True, "img1": True, "img2": True, "cv": False, "old": True},
    ),
    ("own tag", rule(("beach",), "tags"), {"img1": True, "img2": False, "y2024": False}),
    (
        "referenced_by inherited",
        rule(("io.cozy.photos.albums/al1",), "referenced_by"),
        {"img1": True, "photos": True, "cv": False},
    ),
    (
        "referenced_by needs doctype/id",
        rule(("al1",), "referenced_by"),
        {"img1": False, "photos": False},
    ),
    ("name inherited", rule(("Photos",), "name"), {"img1": True, "photos": True, "cv": False}),
    ("mime not inherited", rule(("image/jpeg",), "mime"), {"img1": True, "img2": False}),
    ("class not inherited", rule(("image",), "class"), {"img2": True, "photos": False}),
    (
        "type=directory is not inherited",
        rule(("directory",), "type"),
        {"photos": True, "y2024": True, "img1": False, "top": False},
    ),
    ("type=file", rule(("file",), "type"), {"img1": True, "photos": False}),
    ("verb missing", rule(("photos",), verbs=frozenset({"PUT"})), {"img1": False}),
    ("wildcard type", rule(("photos",), type="io.cozy.files.*"), {"img1": True, "cv": False}),
    ("other doctype", rule(type="io.cozy.contacts"), {"img1": False}),
]


@pytest.mark.parametrize(
    ("one_rule", "expectations"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_inheritance(one_rule: Rule, expectations: dict[str, bool]) -> None:
    s = PermissionSet(rules=(one_rule,))
    for node_id, expected in expectations.items():
        assert s.allows("GET", FILES, target(node_id)) is expected, node_id
        assert s.allows("HEAD", FILES, target(node_id)) is expected, node_id
        decision = decide(s, "GET", FILES, target(node_id), now=NOW, surface="stack")
        assert decision.allowed is expected, node_id


def test_no_inheritance_outside_io_cozy_files() -> None:
    s = PermissionSet(rules=(Rule("io.cozy.files.*", GET, ("photos",)),))
    assert s.allows("GET", FILES, target("img1"))
    assert not s.allows("GET", "io.cozy.files.versions", target("img1"))


def test_no_inheritance_for_plain_documents() -> None:
    s = PermissionSet(rules=(Rule(FILES, GET, ("photos",)),))
    doc = DocumentTarget({"_id": "img2", "dir_id": "photos"})
    assert not s.allows("GET", FILES, doc)
    assert s.allows("GET", FILES, DocumentTarget({"_id": "photos"}))


def test_a_move_needs_both_sides() -> None:
    """Handlers check PUT on the old and the new state of a moved file."""
    s = PermissionSet(rules=(Rule(FILES, frozenset({"PUT"}), ("photos",)),))
    before = target("img2")
    after = FileTarget(
        id="img2",
        dir_id="docs",
        type="file",
        name="cat.png",
        mime="image/png",
        class_="image",
        ancestors=(target("docs"), target(ROOT_DIR_ID)),
    )
    assert s.allows("PUT", FILES, before)
    assert not s.allows("PUT", FILES, after)


# ----- property: inheritance agrees with a path-based reference ---------------------------


def path_of(node_id: str) -> str:
    """cozy's paths: the root is "" so that path(root) + "/" prefixes everything."""
    if node_id == ROOT_DIR_ID:
        return ""
    parent = TREE[node_id][0]
    assert parent is not None
    return path_of(parent) + "/" + TREE[node_id][2]


def attrs(node_id: str, field: str) -> list[str]:
    _, kind, name, mime, klass, tags, refs = TREE[node_id]
    table = {
        "type": [kind],
        "name": [name],
        "mime": [mime] if mime else [],
        "class": [klass] if klass else [],
        "tags": list(tags),
        "referenced_by": list(refs),
    }
    return table.get(field, [])


def naive_file_allows(rules: list[dict[str, Any]], verb: str, node_id: str) -> bool:
    verb = "GET" if verb == "HEAD" else verb
    for r in rules:
        if verb not in (r["verbs"] or ["GET", "POST", "PUT", "PATCH", "DELETE"]):
            continue
        if r["type"] not in (FILES, "io.cozy.files.*"):
            continue
        if not r["values"]:
            return True
        if not r["selector"]:
            for value in r["values"]:
                if value in (node_id, TREE[node_id][0], ROOT_DIR_ID):
                    return True
                if value in TREE and path_of(node_id).startswith(path_of(value) + "/"):
                    return True
            continue
        if set(attrs(node_id, r["selector"])) & set(r["values"]):
            return True
        if r["selector"] in ("mime", "class", "type"):
            continue
        current = TREE[node_id][0]
        while current is not None:
            if set(attrs(current, r["selector"])) & set(r["values"]):
                return True
            current = TREE[current][0]
    return False


VALUE_POOL = [
    *TREE,
    "holiday",
    "beach",
    "Photos",
    "2024",
    "image",
    "image/png",
    "directory",
    "file",
    "io.cozy.photos.albums/al1",
    "io.cozy.jobs.apps/j1",
]
file_rules = st.fixed_dictionaries(
    {
        "type": st.sampled_from([FILES, "io.cozy.files.*", "io.cozy.contacts"]),
        "verbs": st.lists(st.sampled_from(["GET", "POST", "PUT", "DELETE"]), max_size=2),
        "values": st.lists(st.sampled_from(VALUE_POOL), max_size=3),
        "selector": st.sampled_from(
            [None, None, "tags", "name", "mime", "class", "type", "referenced_by"]
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(file_rules, max_size=3),
    st.sampled_from(["GET", "HEAD", "PUT", "DELETE"]),
    st.sampled_from(sorted(TREE)),
)
def test_file_allows_matches_path_reference(
    rules: list[dict[str, Any]], verb: str, node_id: str
) -> None:
    s = PermissionSet(
        rules=tuple(
            Rule(r["type"], frozenset(r["verbs"]), tuple(r["values"]), r["selector"]) for r in rules
        )
    )
    assert s.allows(verb, FILES, target(node_id)) is naive_file_allows(rules, verb, node_id)
