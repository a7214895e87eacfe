"""A thin, typed-by-convention helper over the roost:app@0.1.0 bindings for Python guests.

componentize-py generates ``wit_world.imports.*``; a host ``err`` arrives as a raised
``componentize_py_types.Err`` whose value is a JSON string ``{"error", "message"}``. This module
turns it into :class:`RoostError` and does the JSON encoding both ways.
"""

import json

from componentize_py_types import Err
from wit_world.imports import data, files, http, log, notify


class RoostError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _call(func, *args):
    try:
        return json.loads(func(*args))
    except Err as e:
        try:
            payload = json.loads(e.value)
            raise RoostError(payload.get("error", "error"), payload.get("message", "")) from None
        except (ValueError, AttributeError):
            raise RoostError("error", str(e.value)) from None


def get(doctype, doc_id):
    """The document, or None when it does not exist (or is outside the grant)."""
    try:
        return _call(data.get, doctype, doc_id)
    except RoostError as e:
        if e.code == "not_found":
            return None
        raise


def find(doctype, selector=None, limit=100, skip=0, sort=None, fields=None):
    query = {"selector": selector or {}, "limit": limit, "skip": skip}
    if sort is not None:
        query["sort"] = sort
    if fields is not None:
        query["fields"] = fields
    return _call(data.find, doctype, json.dumps(query))["docs"]


def find_all(doctype, selector=None, page=500):
    out, skip = [], 0
    while True:
        docs = find(doctype, selector, limit=page, skip=skip)
        out.extend(docs)
        if len(docs) < page:
            return out
        skip += page


def create(doctype, doc):
    return _call(data.create, doctype, json.dumps(doc))


def update(doctype, doc):
    return _call(data.update, doctype, json.dumps(doc))


def delete(doctype, doc):
    return _call(data.delete, doctype, json.dumps(doc))


def upsert(doctype, doc):
    """Create ``doc`` (which has a deterministic ``_id``) or update it if it changed.

    Returns ("created" | "updated" | "unchanged", stored document).
    """
    current = get(doctype, doc["_id"])
    if current is None:
        return "created", create(doctype, doc)
    merged = dict(current)
    merged.update(doc)
    if all(current.get(k) == v for k, v in doc.items()):
        return "unchanged", current
    merged["_rev"] = current["_rev"]
    return "updated", update(doctype, merged)


def fetch(method, url, headers=None, body=None, json_body=None):
    """An HTTP request through the host (only to the manifest's egress hosts)."""
    req = {"method": method, "url": url, "headers": dict(headers or {})}
    if json_body is not None:
        req["body"] = json.dumps(json_body)
        req["headers"].setdefault("Content-Type", "application/json")
    elif body is not None:
        req["body"] = body
    return _call(http.fetch, json.dumps(req))


def fetch_json(method, url, headers=None, json_body=None):
    resp = fetch(method, url, headers=headers, json_body=json_body)
    if resp["status"] >= 400:
        raise RoostError(f"http_{resp['status']}", resp.get("body", "")[:200])
    return json.loads(resp.get("body") or "null")


def list_dir(path):
    return _call(files.list, path)["entries"]


def read_file(path):
    return _call(files.read, path)


def write_text(path, text, mime="text/plain"):
    return _call(files.write, path, json.dumps({"text": text, "mime": mime}))


def info(message):
    log.log("info", message)


def warn(message):
    log.log("warn", message)


def notify_person(title, message):
    return _call(notify.notify, title, message)
