"""`/data/{doctype}/…` routes of the CouchDB replication protocol.

cozy-stack demands GET on the whole doctype for every replication route; Roost lets
restricted tokens (ids or a selector) replicate too, with the feed filtered to what they
may read and every pushed document checked on its own (`roost.replication`). Reserved
doctypes stay out of reach, as on the rest of `/data`.

Request-level requirements:
| route | needs |
|---|---|
| `GET /data/{doctype}/`, `_revs_diff`, `_local/*`, `_ensure_full_commit` | any verb |
| `_changes`, `_bulk_get`, `_all_docs` with `keys` | GET on some documents of the doctype |
| `_bulk_docs` | POST, PUT or DELETE on some documents (then per document) |
| `PUT /data/{doctype}/` | POST on the whole doctype |
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from roost.errors import BadRequest, NotFound
from roost.permissions import (
    SOME_DOCUMENTS,
    Decision,
    PermissionDenied,
    SomeDocuments,
    decide,
    validate_doctype,
)
from roost.principals import Principal
from roost.replication import BulkDocs, ChangesQuery
from roost.replication.revisions import BUFFERED_BULK_GET, parse_bulk_get, parse_revs_diff
from roost.web import data
from roost.web.context import (
    instance_of,
    parse_json,
    principal_of,
    read_body,
    read_json,
    services_of,
)

# Replicators push batches of whole documents (attachments inline): more than one
# ordinary request body, still bounded.
ANY_VERB = ("GET", "POST", "PUT", "PATCH", "DELETE")
BULK_MAX_BYTES = 32 * 1024 * 1024
LOCAL_MAX_BYTES = 256 * 1024
# A normal feed of at most this many rows, without heartbeats, is answered in one piece.
BOUNDED_FEED_ROWS = 1000


def _doctype(request: Request) -> str:
    return validate_doctype(request.path_params["doctype"])


def _decide(
    principal: Principal, verb: str, doctype: str, target: SomeDocuments | None
) -> Decision:
    return decide(principal.permissions, verb, doctype, target, now=datetime.now(UTC))


def _needs_some(principal: Principal, doctype: str, verbs: tuple[str, ...]) -> None:
    """Allowed when `decide` allows one of `verbs` on some documents; else the refusal of the
    first verb (a reserved doctype, an expired set, or no rule for any of them)."""
    decisions = [_decide(principal, verb, doctype, SOME_DOCUMENTS) for verb in verbs]
    if any(decision.allowed for decision in decisions):
        return
    if len(verbs) > 1 and all(d.reason.startswith("no ") for d in decisions):
        wanted = "any" if verbs == ANY_VERB else " or ".join(verbs)
        raise PermissionDenied(verbs[0], doctype, f"no {wanted} permission on {doctype}")
    decisions[0].enforce()


async def _reader(request: Request, verbs: tuple[str, ...] = ANY_VERB) -> tuple[str, Principal]:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _needs_some(principal, doctype, verbs)
    return doctype, principal


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value not in (None, "true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return value == "true"


async def _streamed(chunks: AsyncIterator[bytes], status_code: int = 200) -> Response:
    """Start the stream before answering, so an early store error still gets its status."""
    iterator = chunks.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = b""

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in iterator:
            yield chunk

    return StreamingResponse(body(), status_code=status_code, media_type="application/json")


async def _whole(chunks: AsyncIterator[bytes]) -> Response:
    """A bounded answer (a limited feed, a replicator's batch) sent in one piece: no chunked
    encoding, no task watching for the client's disconnect, one write for the body."""
    body = b"".join([chunk async for chunk in chunks])
    return Response(body, media_type="application/json")


async def database_info(request: Request) -> Response:
    doctype, principal = await _reader(request)
    services = services_of(request)
    info = await services.replication.info(instance_of(request), principal, doctype)
    return JSONResponse(info)


async def create_database(request: Request) -> Response:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _decide(principal, "POST", doctype, None).enforce()
    await services_of(request).replication.create(instance_of(request), doctype)
    return JSONResponse({"ok": True}, status_code=201)


async def changes(request: Request) -> Response:
    doctype, principal = await _reader(request, ("GET",))
    body: Any = None
    if request.method == "POST":
        raw = await read_body(request, services_of(request).config.max_body_bytes)
        if raw.strip():
            body = parse_json(raw)
            if not isinstance(body, dict):
                raise BadRequest("the _changes body must be a JSON object")
    query = ChangesQuery.parse(request.query_params, body)
    services = services_of(request)
    chunks = services.replication.changes(instance_of(request), principal, doctype, query)
    bounded = query.limit is not None and query.limit <= BOUNDED_FEED_ROWS
    if query.feed == "normal" and bounded and not query.heartbeat:
        return await _whole(chunks)
    return await _streamed(chunks)


async def revs_diff(request: Request) -> Response:
    doctype, principal = await _reader(request)
    wanted = parse_revs_diff(await read_json(request, max_bytes=BULK_MAX_BYTES))
    services = services_of(request)
    answer = await services.replication.revs_diff(instance_of(request), principal, doctype, wanted)
    return JSONResponse(answer)


async def bulk_get(request: Request) -> Response:
    doctype, principal = await _reader(request, ("GET",))
    docs = parse_bulk_get(await read_json(request, max_bytes=BULK_MAX_BYTES))
    services = services_of(request)
    attachments = _flag(request, "attachments")
    chunks = services.replication.bulk_get(
        instance_of(request),
        principal,
        doctype,
        docs,
        revs=_flag(request, "revs"),
        latest=_flag(request, "latest"),
        attachments=attachments,
    )
    if not attachments and len(docs) <= BUFFERED_BULK_GET:
        return await _whole(chunks)
    return await _streamed(chunks)


async def bulk_docs(request: Request) -> Response:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _needs_some(principal, doctype, ("POST", "PUT", "DELETE"))
    bulk = BulkDocs.parse(await read_json(request, max_bytes=BULK_MAX_BYTES))
    services = services_of(request)
    instance = instance_of(request)
    answers = await services.replication.bulk_docs(instance, principal, doctype, bulk)
    for verb, doc in _written(bulk, answers):
        services.jobs.notify_change(instance, doctype, verb, doc)
    return JSONResponse(answers, status_code=201)


def _written(bulk: BulkDocs, answers: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The documents `_bulk_docs` stored, with the event each one is (for `@event` triggers).

    CouchDB answers in request order with new edits, and lists only failures without them.
    """
    stored: list[dict[str, Any]] = []
    if bulk.new_edits:
        for doc, answer in zip(bulk.docs, answers, strict=False):
            if isinstance(doc, dict) and "error" not in answer and "rev" in answer:
                stored.append({**doc, "_id": answer["id"], "_rev": answer["rev"]})
    else:
        failed = {answer.get("id") for answer in answers if "error" in answer}
        stored = [d for d in bulk.docs if isinstance(d, dict) and d.get("_id") not in failed]
    events = []
    for doc in stored:
        if doc.get("_deleted"):
            verb = "DELETED"
        elif str(doc.get("_rev", "")).startswith("1-"):
            verb = "CREATED"
        else:
            verb = "UPDATED"
        events.append((verb, doc))
    return events


async def all_documents(request: Request) -> Response:
    """Whole-doctype readers get the document API's `_all_docs`; a restricted token may ask
    for given `keys` (PouchDB 7 replicators fetch first revisions so) and gets only the
    documents it may read. Listing a range still needs GET on the whole doctype."""
    doctype = _doctype(request)
    principal = await principal_of(request)
    if _decide(principal, "GET", doctype, None).allowed:
        return await data.all_documents(request)
    _needs_some(principal, doctype, ("GET",))
    if request.method == "POST":
        body = await read_json(request, max_bytes=BULK_MAX_BYTES)
        keys = body.get("keys") if isinstance(body, dict) else None
    else:
        raw = request.query_params.get("keys")
        try:
            keys = json.loads(raw) if raw is not None else None
        except ValueError:
            raise BadRequest("keys must be a JSON list of document ids") from None
    if keys is None:
        _decide(principal, "GET", doctype, None).enforce()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise BadRequest("keys must be a list of document ids")
    services = services_of(request)
    answer = await services.replication.all_docs_by_keys(
        instance_of(request),
        principal,
        doctype,
        keys,
        include_docs=_flag(request, "include_docs"),
        conflicts=_flag(request, "conflicts"),
    )
    return JSONResponse(answer)


# An attachment is whatever a device stored: it must never run as a page of this origin,
# where the owner's session lives.
_ATTACHMENT_HEADERS = {
    "Content-Disposition": "attachment",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def attachment(request: Request) -> Response:
    doctype, principal = await _reader(request, ("GET",))
    if request.path_params["docid"].startswith("_"):
        raise NotFound("missing")
    services = services_of(request)
    content_type, chunks = await services.replication.attachment(
        instance_of(request),
        principal,
        doctype,
        request.path_params["docid"],
        request.path_params["attachment"],
        request.query_params.get("rev"),
    )
    if request.method == "HEAD":
        # The body generator never started: no store request was made for the bytes.
        return Response(media_type=content_type, headers=_ATTACHMENT_HEADERS)
    return StreamingResponse(chunks, media_type=content_type, headers=_ATTACHMENT_HEADERS)


async def ensure_full_commit(request: Request) -> Response:
    await _reader(request)
    # Every write is durable when the store acknowledges it; nothing is left to flush.
    return JSONResponse({"ok": True, "instance_start_time": "0"}, status_code=201)


async def local_document(request: Request) -> Response:
    doctype, principal = await _reader(request)
    services = services_of(request)
    instance = instance_of(request)
    local_id = request.path_params["localid"]
    replication = services.replication
    if request.method in ("GET", "HEAD"):
        doc = await replication.get_local(instance, principal, doctype, local_id)
        return JSONResponse(doc)
    if request.method == "PUT":
        body = await read_json(request, max_bytes=LOCAL_MAX_BYTES)
        answer = await replication.put_local(instance, principal, doctype, local_id, body)
        return JSONResponse(answer, status_code=201)
    rev = request.query_params.get("rev") or (request.headers.get("if-match") or "").strip('"')
    answer = await replication.delete_local(instance, principal, doctype, local_id, rev or None)
    return JSONResponse(answer)


# Database URLs end with a slash, as replicators write them; `/data/{doctype}` without it
# belongs to the document API (and `/data/_all_doctypes`).
ROUTES = [
    Route("/data/{doctype}/", database_info, methods=["GET", "HEAD"]),
    Route("/data/{doctype}/", create_database, methods=["PUT"]),
    Route("/data/{doctype}/_changes", changes, methods=["GET", "POST"]),
    Route("/data/{doctype}/_revs_diff", revs_diff, methods=["POST"]),
    Route("/data/{doctype}/_bulk_get", bulk_get, methods=["POST"]),
    Route("/data/{doctype}/_bulk_docs", bulk_docs, methods=["POST"]),
    Route("/data/{doctype}/_all_docs", all_documents, methods=["GET", "POST"]),
    Route("/data/{doctype}/_ensure_full_commit", ensure_full_commit, methods=["POST"]),
    Route(
        "/data/{doctype}/_local/{localid:path}",
        local_document,
        methods=["GET", "HEAD", "PUT", "DELETE"],
    ),
    # Last: `_local/{id}` would match it too.
    Route("/data/{doctype}/{docid}/{attachment:path}", attachment, methods=["GET", "HEAD"]),
]
