"""``roost:app/data``: documents of the person's database, limited to the app's grant.

From world 0.3.0 the interface also reads and writes many documents in one call
(``get-many``, ``create-many``, ``update-many``): each document goes through the same
decision as the single calls, is validated by the same service, and succeeds or fails on its
own, as with CouchDB's ``_bulk_docs``; what passes is one store request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from roost.apps.context import RunContext
from roost.apps.host.core import (
    ANSWER_BYTES,
    Call,
    HostImpl,
    enforce,
    json_object,
    missing,
    need_service,
    readable,
    require_some_rule,
)
from roost.apps.services import Invalid, NotFound, TooLarge
from roost.permissions import DocumentTarget, Hidden, PermissionDenied, Rule, match_type

__all__ = ["BULK_FUNCTIONS", "FUNCTIONS", "MAX_BULK_BYTES", "MAX_BULK_DOCS"]

#: The most documents one ``get-many``/``create-many``/``update-many`` call carries.
MAX_BULK_DOCS = 1000
#: The most bytes of documents one such call carries.
MAX_BULK_BYTES = 4 * 1024 * 1024


def _may_read_some(run: RunContext, doctype: str, doc_id: str, verb: str = "GET") -> None:
    require_some_rule(run, verb, doctype, DocumentTarget({"_id": doc_id}))


def _fetch(run: RunContext, doctype: str, doc_id: str) -> Mapping[str, Any]:
    svc = need_service(run.services.data, "data")
    try:
        doc: Mapping[str, Any] = run.bridge(svc.get(doctype, doc_id))
    except NotFound:
        raise missing() from None
    return doc


def _get(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_id = args
    _may_read_some(run, doctype, doc_id)
    call.ids = (doc_id,)
    doc = _fetch(run, doctype, doc_id)
    enforce(run, "GET", doctype, DocumentTarget(doc))
    call.count, call.bytes = 1, ANSWER_BYTES
    return doc


def grant_clause(run: RunContext, doctype: str) -> dict[str, Any] | None:
    """A mango clause selecting only what the grant lets the app read (None: everything).

    ANDed into the app's query so that ``limit``/``skip`` count readable documents only:
    otherwise a hidden document taking a slot of ``limit`` would betray its existence.
    """
    if run.grant.allows("GET", doctype, None):
        return None
    alternatives: list[dict[str, Any]] = []
    for rule in run.grant.rules:
        if not isinstance(rule, Rule) or not rule.allows_verb("GET"):
            continue
        if not match_type(rule.type, doctype):
            continue
        field, values = rule.selector or "_id", list(rule.values)
        alternatives.append({field: {"$in": values}})
        if rule.selector is not None:
            # A rule matches an array field by any of its elements, as the matcher does.
            alternatives.append({field: {"$elemMatch": {"$in": values}}})
    if not alternatives:
        return {"_id": {"$in": []}}
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def _find(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, query_text = args
    _may_read_some(run, doctype, "")
    query = json_object(query_text or "{}", "the query")
    selector = query.get("selector", {})
    if not isinstance(selector, dict):
        raise Invalid("selector must be a JSON object")
    limit = query.get("limit", 100)
    skip = query.get("skip", 0)
    sort = query.get("sort")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise Invalid("limit must be a positive integer")
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise Invalid("skip must be a non-negative integer")
    if sort is not None and not isinstance(sort, list):
        raise Invalid("sort must be a list")
    clause = grant_clause(run, doctype)
    if clause is not None:
        selector = {"$and": [selector, clause]} if selector else clause
    svc = need_service(run.services.data, "data")
    docs = run.bridge(
        svc.find(doctype, selector, limit=min(limit, run.max_find_limit), skip=skip, sort=sort)
    )
    shown = list(filter(readable(run, doctype), docs))
    fields = query.get("fields")
    if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        keep = set(fields) | {"_id", "_rev"}
        shown = [{k: v for k, v in d.items() if k in keep} for d in shown]
    out = {"docs": shown}
    call.count, call.bytes = len(shown), ANSWER_BYTES
    call.ids = tuple(str(d.get("_id", "")) for d in shown[:20])
    return out


def _create(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_text = args
    doc = json_object(doc_text, "the document")
    doc.pop("_rev", None)
    enforce(run, "POST", doctype, DocumentTarget(doc))
    svc = need_service(run.services.data, "data")
    created = run.bridge(svc.create(doctype, doc, app=run.app))
    call.count, call.bytes = 1, len(doc_text)
    call.ids = (str(created.get("_id", "")),)
    return created


def _existing(
    run: RunContext, doctype: str, doc: Mapping[str, Any], verb: str
) -> Mapping[str, Any]:
    doc_id, rev = doc.get("_id"), doc.get("_rev")
    if not isinstance(doc_id, str) or not doc_id or not isinstance(rev, str) or not rev:
        raise Invalid("the document needs its _id and _rev")
    _may_read_some(run, doctype, doc_id, verb)
    old = _fetch(run, doctype, doc_id)
    # HIDE when the app may not even read the stored document, DENY when it may.
    enforce(run, verb, doctype, DocumentTarget(old))
    return old


def _update(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_text = args
    doc = json_object(doc_text, "the document")
    old = _existing(run, doctype, doc, "PUT")
    # The new content must stay inside the grant; the old one was readable, so refuse openly.
    enforce(run, "PUT", doctype, DocumentTarget(doc), visible=DocumentTarget(old))
    svc = need_service(run.services.data, "data")
    updated = run.bridge(svc.update(doctype, doc, app=run.app))
    call.count, call.bytes, call.ids = 1, len(doc_text), (str(doc["_id"]),)
    return updated


def _delete(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_text = args
    doc = json_object(doc_text, "the document")
    _existing(run, doctype, doc, "DELETE")
    svc = need_service(run.services.data, "data")
    result = run.bridge(svc.delete(doctype, str(doc["_id"]), str(doc["_rev"]), app=run.app))
    call.count, call.ids = 1, (str(doc["_id"]),)
    return result


def _changes(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, since = args
    _may_read_some(run, doctype, "")
    svc = need_service(run.services.data, "data")
    feed = run.bridge(svc.changes_since(doctype, since or "0", limit=run.max_find_limit))
    results = []
    visible = readable(run, doctype)
    for change in feed.get("results", []):
        doc = change.get("doc")
        if not isinstance(doc, Mapping):
            doc = {"_id": change.get("id", ""), "_deleted": True}
        if visible(doc):
            results.append(change)
    out = {"results": results, "last_seq": str(feed.get("last_seq", since))}
    call.count, call.bytes = len(results), ANSWER_BYTES
    return out


def _get_many(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, ids_text = args
    ids = _docs_array(ids_text, "get-many")
    if not all(isinstance(doc_id, str) and doc_id for doc_id in ids):
        raise Invalid("the ids must be a JSON array of non-empty strings")
    _may_read_some(run, doctype, "")
    svc = need_service(run.services.data, "data")
    found: dict[str, Any] = run.bridge(svc.get_many(doctype, ids)) if ids else {}
    rows: list[dict[str, Any]] = []
    shown: list[str] = []
    visible = readable(run, doctype)
    for doc_id in ids:
        doc = found.get(doc_id)
        if doc is None or not visible(doc):
            rows.append({"id": doc_id, "error": "not_found", "message": "missing"})
            continue
        rows.append(doc)
        shown.append(doc_id)
    call.count, call.bytes, call.ids = len(shown), ANSWER_BYTES, tuple(shown[:20])
    return rows


def _docs_array(text: str, function: str) -> list[Any]:
    if len(text) > MAX_BULK_BYTES:
        raise TooLarge(
            f"{function}: {len(text)} bytes of documents, over the {MAX_BULK_BYTES}-byte cap "
            "of one call; split them"
        )
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Invalid("the documents are not valid JSON") from None
    if not isinstance(value, list):
        raise Invalid("the documents must be a JSON array")
    if len(value) > MAX_BULK_DOCS:
        raise TooLarge(
            f"{function}: {len(value)} documents, over the {MAX_BULK_DOCS} of one call; split them"
        )
    return value


def _refusal(doc_id: Any, code: str, message: str) -> dict[str, Any]:
    row: dict[str, Any] = {"error": code, "message": message}
    if isinstance(doc_id, str):
        row["id"] = doc_id
    return row


def _decided(run: RunContext, verb: str, doctype: str, target: Any, **kw: Any) -> dict[str, Any]:
    """``{}`` when the decision allows, else the row a refused document gets."""
    try:
        enforce(run, verb, doctype, target, **kw)
    except Hidden:  # outside the grant: the row a missing document gets
        return {"error": "not_found", "message": "missing"}
    except PermissionDenied as exc:
        return {"error": "forbidden", "message": exc.reason}
    return {}


def _refused_entry(run: RunContext, call: Call, refused: list[str]) -> None:
    """Refused documents leave their own access entry, as refused single calls do."""
    if refused:
        entry = Call(run, call.interface, call.function, call.verb, call.doctype)
        entry.count, entry.ids = len(refused), tuple(refused[:20])
        entry.done(False, "forbidden")


def _bulk_answer(
    call: Call, rows: list[dict[str, Any] | None], written: list[dict[str, Any]], size: int
) -> list[dict[str, Any]]:
    written_rows = iter(written)
    out = [row if row is not None else next(written_rows) for row in rows]
    ok = [str(row.get("id", "")) for row in out if row.get("ok")]
    call.count, call.bytes, call.ids = len(ok), size, tuple(ok[:20])
    return out


def _create_many(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, docs_text = args
    docs = _docs_array(docs_text, "create-many")
    require_some_rule(run, "POST", doctype, DocumentTarget({"_id": ""}))
    rows: list[dict[str, Any] | None] = []
    accepted: list[dict[str, Any]] = []
    refused: list[str] = []
    seen: set[str] = set()
    for doc in docs:
        if not isinstance(doc, dict):
            rows.append(_refusal(None, "invalid", "each document must be a JSON object"))
            continue
        doc.pop("_rev", None)
        doc_id = doc.get("_id")
        if isinstance(doc_id, str) and doc_id in seen:
            rows.append(_refusal(doc_id, "invalid", "the same _id twice in one call"))
            continue
        refusal = _decided(run, "POST", doctype, DocumentTarget(doc))
        if refusal:
            refused.append(str(doc_id or ""))
            rows.append(_refusal(doc_id, refusal["error"], refusal["message"]))
            continue
        if isinstance(doc_id, str):
            seen.add(doc_id)
        rows.append(None)
        accepted.append(doc)
    _refused_entry(run, call, refused)
    svc = need_service(run.services.data, "data")
    written = run.bridge(svc.create_many(doctype, accepted, app=run.app)) if accepted else []
    return _bulk_answer(call, rows, written, len(docs_text))


def _update_many(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    doctype, docs_text = args
    docs = _docs_array(docs_text, "update-many")
    require_some_rule(run, "PUT", doctype, DocumentTarget({"_id": ""}))
    ids = [d.get("_id") for d in docs if isinstance(d, dict) and isinstance(d.get("_id"), str)]
    svc = need_service(run.services.data, "data")
    stored: dict[str, Any] = run.bridge(svc.get_many(doctype, [i for i in ids if i])) if ids else {}
    rows: list[dict[str, Any] | None] = []
    accepted: list[tuple[dict[str, Any], dict[str, Any]]] = []
    refused: list[str] = []
    seen: set[str] = set()
    for doc in docs:
        if not isinstance(doc, dict):
            rows.append(_refusal(None, "invalid", "each document must be a JSON object"))
            continue
        doc_id, rev = doc.get("_id"), doc.get("_rev")
        if not isinstance(doc_id, str) or not doc_id or not isinstance(rev, str) or not rev:
            rows.append(_refusal(doc_id, "invalid", "the document needs its _id and _rev"))
            continue
        if doc_id in seen:
            rows.append(_refusal(doc_id, "invalid", "the same _id twice in one call"))
            continue
        old = stored.get(doc_id)
        if old is None:
            rows.append(_refusal(doc_id, "not_found", "missing"))
            continue
        # As `update`: HIDE when the app may not read the stored document, DENY when it may;
        # then the new content must stay inside the grant.
        refusal = _decided(run, "PUT", doctype, DocumentTarget(old)) or _decided(
            run, "PUT", doctype, DocumentTarget(doc), visible=DocumentTarget(old)
        )
        if refusal:
            refused.append(doc_id)
            rows.append(_refusal(doc_id, refusal["error"], refusal["message"]))
            continue
        seen.add(doc_id)
        rows.append(None)
        accepted.append((doc, old))
    _refused_entry(run, call, refused)
    written = run.bridge(svc.update_many(doctype, accepted, app=run.app)) if accepted else []
    return _bulk_answer(call, rows, written, len(docs_text))


FUNCTIONS: list[tuple[str, str, HostImpl]] = [
    ("get", "GET", _get),
    ("find", "GET", _find),
    ("create", "POST", _create),
    ("update", "PUT", _update),
    ("delete", "DELETE", _delete),
    ("changes-since", "GET", _changes),
]

#: From world 0.3.0.
BULK_FUNCTIONS: list[tuple[str, str, HostImpl]] = [
    ("get-many", "GET", _get_many),
    ("create-many", "POST", _create_many),
    ("update-many", "PUT", _update_many),
]
