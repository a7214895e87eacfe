"""Typed documents of a doctype in one instance's database: the service behind `/data`.

No HTTP and no permission logic here: callers (the `/data` handlers, the apps host API,
replication) prepare a document, ask `roost.permissions.decide`, then commit it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any

from roost.couch import CouchClient, database_name
from roost.doctypes import SchemaRegistry, stamp_metadata
from roost.errors import BadRequest, Conflict
from roost.instances import Instance
from roost.types import JSONDoc

DEFAULT_FIND_LIMIT = 100
MAX_FIND_LIMIT = 1000
MAX_ID_LENGTH = 512
# Fields a client may send on a write; every other `_` field belongs to CouchDB.
_ALLOWED_UNDERSCORE_ON_UPDATE = {"_id", "_rev"}


def _check_id(doc_id: str) -> str:
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_ID_LENGTH:
        raise BadRequest("a document id is a non-empty string of at most 512 characters")
    if doc_id.startswith("_"):
        raise BadRequest("document ids starting with '_' are reserved by CouchDB")
    if any(ord(ch) < 32 for ch in doc_id):
        raise BadRequest("document ids may not contain control characters")
    if doc_id in (".", ".."):
        # Legal for CouchDB, but clients normalise `/data/x/..` away: unreachable by URL.
        raise BadRequest("'.' and '..' are not document ids")
    return doc_id


def _without_type(doctype: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body without the `_type` that `GET /data/{doctype}/{id}` adds to its answer.

    Clients send back what they read; `_type` is never stored (the doctype is the database),
    so it is accepted when it names this doctype and refused when it names another.
    """
    if "_type" not in body:
        return body
    if body["_type"] != doctype:
        raise BadRequest(
            f"_type is {body['_type']!r} but this document is written to {doctype}; "
            "leave _type out or make it match the doctype in the URL"
        )
    return {key: value for key, value in body.items() if key != "_type"}


class DocumentService:
    def __init__(self, couch: CouchClient, schemas: SchemaRegistry) -> None:
        self.couch = couch
        self.schemas = schemas

    # -- reads ---------------------------------------------------------------------------

    async def get(
        self, instance: Instance, doctype: str, doc_id: str, params: Mapping[str, Any] | None = None
    ) -> JSONDoc:
        return await self.couch.get_doc(instance.db(doctype), _check_id(doc_id), params=params)

    async def get_or_none(self, instance: Instance, doctype: str, doc_id: str) -> JSONDoc | None:
        """The current revision, or None. Read together with the database's other single
        reads waiting meanwhile (`roost.couch_batches`): concurrent reads of one doctype,
        `/data` GETs among them, cost the store one request between them."""
        return await self.couch.get_doc_or_none(instance.db(doctype), _check_id(doc_id))

    async def open_revs(
        self, instance: Instance, doctype: str, doc_id: str, open_revs: str | list[str], revs: bool
    ) -> list[JSONDoc]:
        """CouchDB's `open_revs` answer as a JSON list of `{"ok": doc}` / `{"missing": rev}`."""
        response = await self.couch.request(
            "GET",
            f"/{_quote(instance.db(doctype))}/{_quote(_check_id(doc_id))}",
            params={
                # A list is JSON-encoded once, by the client's parameter encoder.
                "open_revs": open_revs,
                "revs": "true" if revs else "false",
            },
            headers={"Accept": "application/json"},
        )
        from roost.couch import raise_for_couch

        raise_for_couch(response)
        result: list[JSONDoc] = response.json()
        return result

    # -- writes --------------------------------------------------------------------------

    def prepare_new(
        self, doctype: str, body: Any, *, app_slug: str | None, doc_id: str | None = None
    ) -> JSONDoc:
        """Validate and stamp a new document; nothing is written yet."""
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        body = _without_type(doctype, body)
        if doc_id is None:
            reserved = sorted(key for key in body if key.startswith("_"))
            if reserved:
                raise BadRequest(f"a new document may not carry {', '.join(reserved)}")
            doc_id = uuid.uuid4().hex
        else:
            if "_id" in body and body["_id"] != doc_id:
                raise BadRequest("the _id in the body differs from the id in the URL")
            reserved = sorted(key for key in body if key.startswith("_") and key != "_id")
            if reserved:
                raise BadRequest(f"a new document may not carry {', '.join(reserved)}")
        doc = {key: value for key, value in body.items() if key != "_id"}
        self.schemas.validate(doctype, doc)
        doc = {"_id": _check_id(doc_id), **doc}
        return stamp_metadata(doc, None, app_slug)

    def prepare_update(
        self, doctype: str, doc_id: str, body: Any, previous: JSONDoc, *, app_slug: str | None
    ) -> JSONDoc:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        body = _without_type(doctype, body)
        if body.get("_id", doc_id) != doc_id:
            raise BadRequest("the _id in the body differs from the id in the URL")
        reserved = sorted(
            key for key in body if key.startswith("_") and key not in _ALLOWED_UNDERSCORE_ON_UPDATE
        )
        if reserved:
            raise BadRequest(f"a document may not carry {', '.join(reserved)}")
        if body.get("_rev") != previous.get("_rev"):
            raise Conflict("Document update conflict: the revision is stale")
        content = {key: value for key, value in body.items() if not key.startswith("_")}
        self.schemas.validate(doctype, content)
        doc = {"_id": doc_id, "_rev": previous["_rev"], **content}
        return stamp_metadata(doc, previous, app_slug)

    async def save(self, instance: Instance, doctype: str, doc: JSONDoc) -> JSONDoc:
        """Write a prepared document; a new one creates the database on first use."""
        await self.couch.put_doc(instance.db(doctype), doc)
        return doc

    async def delete(self, instance: Instance, doctype: str, doc_id: str, rev: str) -> str:
        return await self.couch.delete_doc(instance.db(doctype), _check_id(doc_id), rev)

    # -- queries -------------------------------------------------------------------------

    async def find(self, instance: Instance, doctype: str, query: Any) -> JSONDoc:
        """Mango `_find`, with Roost's own bookmark so paging works on every backend."""
        if not isinstance(query, dict):
            raise BadRequest("the body must be a JSON object")
        unknown = set(query) - {
            "selector",
            "limit",
            "skip",
            "sort",
            "fields",
            "bookmark",
            "use_index",
            "execution_stats",
        }
        if unknown:
            raise BadRequest(f"unsupported _find keys: {', '.join(sorted(unknown))}")
        selector = query.get("selector", {})
        if not isinstance(selector, dict):
            raise BadRequest("selector must be a JSON object")
        limit = query.get("limit", DEFAULT_FIND_LIMIT)
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 1 <= limit <= MAX_FIND_LIMIT
        ):
            raise BadRequest(f"limit must be an integer from 1 to {MAX_FIND_LIMIT}")
        skip = query.get("skip", 0)
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            raise BadRequest("skip must be a non-negative integer")
        if "bookmark" in query and query["bookmark"] is not None:
            skip += _decode_bookmark(query["bookmark"])
        # PouchDB Server counts design documents in `skip` when it answers from `_all_docs`
        # (an empty or `_id`-only selector), so pages would overlap; an always-true `_id`
        # condition makes it filter before skipping. CouchDB answers the same either way.
        always = {"_id": {"$exists": True}}
        store_query: JSONDoc = {
            "selector": {"$and": [selector, always]} if selector else always,
            "limit": limit + 1,
            "skip": skip,
        }
        if "sort" in query:
            sort = query["sort"]
            if not isinstance(sort, list) or not all(isinstance(s, (str, dict)) for s in sort):
                raise BadRequest("sort must be a list of field names or {field: asc|desc}")
            store_query["sort"] = sort
        if "fields" in query:
            fields = query["fields"]
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise BadRequest("fields must be a list of field names")
            store_query["fields"] = fields
        if "use_index" in query:
            use_index = query["use_index"]
            if not isinstance(use_index, (str, list)):
                raise BadRequest("use_index must be a string or a list")
            store_query["use_index"] = use_index
        result = await self.couch.find(instance.db(doctype), store_query)
        docs: list[JSONDoc] = result.get("docs", [])
        has_next = len(docs) > limit
        answer: JSONDoc = {"docs": docs[:limit], "limit": limit, "next": has_next}
        if has_next:
            answer["bookmark"] = _encode_bookmark(skip + limit - query.get("skip", 0))
        if result.get("warning"):
            answer["warning"] = result["warning"]
        return answer

    async def create_index(self, instance: Instance, doctype: str, body: Any) -> JSONDoc:
        if not isinstance(body, dict) or not isinstance(body.get("index"), dict):
            raise BadRequest('the body must be {"index": {"fields": [...]}}')
        fields = body["index"].get("fields")
        if not isinstance(fields, list) or not fields or not all(map(_is_sort_field, fields)):
            raise BadRequest(
                'index.fields must be a non-empty list of field names or {"field": "asc"|"desc"}'
            )
        index: JSONDoc = {"index": {"fields": fields}}
        if "partial_filter_selector" in body["index"]:
            partial = body["index"]["partial_filter_selector"]
            if not isinstance(partial, dict):
                raise BadRequest("index.partial_filter_selector must be a JSON object")
            index["index"]["partial_filter_selector"] = partial
        for key in ("ddoc", "name"):
            if key in body:
                if not isinstance(body[key], str) or not body[key]:
                    raise BadRequest(f"{key} must be a non-empty string")
                index[key] = body[key]
        return await self.couch.create_index(instance.db(doctype), index)

    async def all_docs(
        self,
        instance: Instance,
        doctype: str,
        *,
        keys: list[str] | None,
        include_docs: bool,
        limit: int | None,
        skip: int,
        descending: bool,
        startkey: str | None,
        endkey: str | None,
    ) -> JSONDoc:
        params: JSONDoc = {"include_docs": include_docs, "skip": skip or None}
        if limit is not None:
            params["limit"] = limit
        if descending:
            params["descending"] = True
        if startkey is not None:
            params["startkey"] = startkey
        if endkey is not None:
            params["endkey"] = endkey
        return await self.couch.all_docs(instance.db(doctype), keys=keys, params=params)

    async def all_doctypes(self, instance: Instance) -> list[str]:
        prefix = instance.prefix + "/"
        return sorted(
            db[len(prefix) :].replace("-", ".")
            for db in await self.couch.databases_under(instance.prefix)
        )

    def db_name(self, instance: Instance, doctype: str) -> str:
        return database_name(instance.prefix, doctype)


def _is_sort_field(field: Any) -> bool:
    """`"name"` or `{"name": "asc"|"desc"}`: what CouchDB accepts (PouchDB accepts anything)."""
    if isinstance(field, str):
        return bool(field)
    if isinstance(field, dict) and len(field) == 1:
        [(name, direction)] = field.items()
        return isinstance(name, str) and bool(name) and direction in ("asc", "desc")
    return False


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _encode_bookmark(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_bookmark(bookmark: Any) -> int:
    if not isinstance(bookmark, str) or len(bookmark) > 200:
        raise BadRequest("invalid bookmark")
    try:
        padded = bookmark + "=" * (-len(bookmark) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise BadRequest("invalid bookmark") from None
    if not isinstance(offset, int) or offset < 0:
        raise BadRequest("invalid bookmark")
    return offset
