"""In-memory stand-ins for the stack's services, for runtime unit tests only."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from roost.apps.services import AccessEntry, Conflict, NotFound, ServiceError

Doc = dict[str, Any]


def _matches(doc: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    for field, cond in selector.items():
        if field == "$and":
            if not all(_matches(doc, part) for part in cond):
                return False
            continue
        if field == "$or":
            if not any(_matches(doc, part) for part in cond):
                return False
            continue
        value = doc.get(field)
        if isinstance(cond, Mapping):
            for op, arg in cond.items():
                if op == "$eq" and value != arg:
                    return False
                if op == "$in" and value not in arg:
                    return False
                if op == "$elemMatch" and not (
                    isinstance(value, list)
                    and any(_matches({"v": item}, {"v": arg}) for item in value)
                ):
                    return False
                if op == "$gt" and not (value is not None and value > arg):
                    return False
                if op == "$lt" and not (value is not None and value < arg):
                    return False
                if op == "$exists" and (field in doc) != bool(arg):
                    return False
        elif value != cond:
            return False
    return True


class FakeData:
    """A DataService over dicts, with revisions and a changes feed."""

    def __init__(self) -> None:
        self.dbs: dict[str, dict[str, Doc]] = {}
        self.seq = itertools.count(1)
        self.changes: dict[str, list[tuple[int, str]]] = {}
        self.writes: list[tuple[str, str, str]] = []  # (verb, doctype, id)

    def seed(self, doctype: str, docs: Sequence[Mapping[str, Any]]) -> list[Doc]:
        out = []
        for doc in docs:
            d = dict(doc)
            d.setdefault("_id", uuid.uuid4().hex)
            d["_rev"] = "1-seed"
            self.dbs.setdefault(doctype, {})[d["_id"]] = d
            self.changes.setdefault(doctype, []).append((next(self.seq), d["_id"]))
            out.append(d)
        return out

    def all(self, doctype: str) -> list[Doc]:
        return list(self.dbs.get(doctype, {}).values())

    async def get(self, doctype: str, doc_id: str) -> Doc:
        try:
            return copy.deepcopy(self.dbs[doctype][doc_id])
        except KeyError:
            raise NotFound(f"no document {doc_id} in {doctype}") from None

    async def find(
        self,
        doctype: str,
        selector: Mapping[str, Any],
        *,
        limit: int,
        skip: int = 0,
        sort: Sequence[Any] | None = None,
    ) -> list[Doc]:
        docs = [d for d in self.dbs.get(doctype, {}).values() if _matches(d, selector)]
        docs.sort(key=lambda d: d["_id"])
        return copy.deepcopy(docs[skip : skip + limit])

    def _bump(self, doctype: str, doc: Doc) -> Doc:
        n = int(str(doc.get("_rev", "0-x")).split("-")[0]) + 1
        doc["_rev"] = f"{n}-{uuid.uuid4().hex[:8]}"
        self.dbs.setdefault(doctype, {})[doc["_id"]] = doc
        self.changes.setdefault(doctype, []).append((next(self.seq), doc["_id"]))
        return copy.deepcopy(doc)

    async def create(self, doctype: str, doc: Mapping[str, Any], *, app: str) -> Doc:
        d = dict(doc)
        d.setdefault("_id", uuid.uuid4().hex)
        if d["_id"] in self.dbs.get(doctype, {}):
            raise Conflict(f"document {d['_id']} already exists")
        d.pop("_rev", None)
        d["cozyMetadata"] = {"createdByApp": app}
        self.writes.append(("POST", doctype, d["_id"]))
        return self._bump(doctype, d)

    async def update(self, doctype: str, doc: Mapping[str, Any], *, app: str) -> Doc:
        d = dict(doc)
        current = self.dbs.get(doctype, {}).get(d["_id"])
        if current is None:
            raise NotFound(f"no document {d['_id']} in {doctype}")
        if current["_rev"] != d.get("_rev"):
            raise Conflict("document update conflict")
        self.writes.append(("PUT", doctype, d["_id"]))
        return self._bump(doctype, d)

    async def delete(self, doctype: str, doc_id: str, rev: str, *, app: str) -> Doc:
        current = self.dbs.get(doctype, {}).get(doc_id)
        if current is None:
            raise NotFound(f"no document {doc_id} in {doctype}")
        if current["_rev"] != rev:
            raise Conflict("document update conflict")
        del self.dbs[doctype][doc_id]
        self.changes.setdefault(doctype, []).append((next(self.seq), doc_id))
        self.writes.append(("DELETE", doctype, doc_id))
        return {"id": doc_id, "rev": rev, "ok": True}

    async def get_many(self, doctype: str, doc_ids: Sequence[str]) -> dict[str, Doc]:
        db = self.dbs.get(doctype, {})
        return {i: copy.deepcopy(db[i]) for i in doc_ids if i in db}

    async def create_many(
        self, doctype: str, docs: Sequence[Mapping[str, Any]], *, app: str
    ) -> list[Doc]:
        rows: list[Doc] = []
        for doc in docs:
            try:
                made = await self.create(doctype, doc, app=app)
            except ServiceError as exc:
                rows.append({"id": doc.get("_id"), "error": exc.code, "message": str(exc)})
                continue
            rows.append({"ok": True, "id": made["_id"], "rev": made["_rev"]})
        return rows

    async def update_many(
        self, doctype: str, updates: Sequence[tuple[Mapping[str, Any], Doc]], *, app: str
    ) -> list[Doc]:
        rows: list[Doc] = []
        for doc, _previous in updates:
            try:
                made = await self.update(doctype, doc, app=app)
            except ServiceError as exc:
                rows.append({"id": doc.get("_id"), "error": exc.code, "message": str(exc)})
                continue
            rows.append({"ok": True, "id": made["_id"], "rev": made["_rev"]})
        return rows

    async def changes_since(self, doctype: str, since: str, *, limit: int) -> Doc:
        start = int(since or 0)
        results = []
        last = start
        for seq, doc_id in self.changes.get(doctype, []):
            if seq <= start:
                continue
            doc = self.dbs.get(doctype, {}).get(doc_id)
            entry: Doc = {"id": doc_id, "seq": str(seq)}
            if doc is None:
                entry["deleted"] = True
            else:
                entry["doc"] = copy.deepcopy(doc)
            results.append(entry)
            last = seq
            if len(results) >= limit:
                break
        return {"results": results, "last_seq": str(last)}


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def notify(self, app: str, title: str, message: str) -> Doc:
        self.sent.append((app, title, message))
        return {"id": f"n{len(self.sent)}"}


class MemoryAccessLog:
    def __init__(self) -> None:
        self.entries: list[AccessEntry] = []

    async def record(self, entries: Sequence[AccessEntry]) -> None:
        self.entries.extend(entries)


class FakeFiles:
    """A FileService over a dict of paths; ids are ``id:<path>`` (the root is cozy's root id)."""

    def __init__(self) -> None:
        from roost.permissions import ROOT_DIR_ID

        self.root_id = ROOT_DIR_ID
        self.nodes: dict[str, Doc] = {
            "/": {"_id": ROOT_DIR_ID, "type": "directory", "name": "", "path": "/", "dir_id": None}
        }
        self.data: dict[str, bytes] = {}

    def _id(self, path: str) -> str:
        return self.root_id if path == "/" else "id:" + path

    def _parent(self, path: str) -> str:
        parent = path.rstrip("/").rpartition("/")[0]
        return parent or "/"

    def mkdir(self, path: str) -> str:
        self.nodes[path] = {
            "_id": self._id(path),
            "type": "directory",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "dir_id": self._id(self._parent(path)),
        }
        return self._id(path)

    def put(self, path: str, data: bytes, mime: str = "text/plain") -> str:
        self.nodes[path] = {
            "_id": self._id(path),
            "type": "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "mime": mime,
            "size": len(data),
            "dir_id": self._id(self._parent(path)),
        }
        self.data[path] = data
        return self._id(path)

    async def target(self, path: str) -> Any:
        from roost.permissions import FileTarget

        path = path.rstrip("/") or "/"
        if path not in self.nodes:
            raise NotFound(f"no file at {path}")
        chain = []
        p = path
        while p != "/":
            p = self._parent(p)
            n = self.nodes[p]
            chain.append(
                FileTarget(id=n["_id"], dir_id=n["dir_id"], type="directory", name=n["name"])
            )
        n = self.nodes[path]
        return FileTarget(
            id=n["_id"],
            dir_id=n["dir_id"],
            type=n["type"],
            name=n["name"],
            mime=n.get("mime", ""),
            ancestors=tuple(chain),
        )

    async def list_dir(self, path: str) -> list[Doc]:
        path = path.rstrip("/") or "/"
        return [
            dict(n) for p, n in sorted(self.nodes.items()) if p != "/" and self._parent(p) == path
        ]

    async def read(self, path: str, *, max_bytes: int) -> tuple[Doc, bytes]:
        return dict(self.nodes[path]), self.data[path][:max_bytes]

    async def write(self, path: str, data: bytes, *, mime: str | None, app: str) -> Doc:
        if self._parent(path) not in self.nodes:
            raise NotFound("no parent directory")
        self.put(path, data, mime or "application/octet-stream")
        return dict(self.nodes[path])
