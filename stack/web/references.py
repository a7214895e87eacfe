"""References between files and documents (cozy-stack's `referenced_by`), from both sides.

A file document lists the documents that use it (`referenced_by: [{"type", "id"}]`), so
Drive and desktop clients can warn before a file in an album or a playlist is changed or
trashed. Changing a reference needs PUT on the file *and* PUT on the referencing document
(it is that document's relation); reading them needs GET on the document, and only files
the caller may read are listed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.errors import BadRequest
from roost.instances import Instance
from roost.permissions import (
    FILES_DOCTYPE,
    DocumentTarget,
    check_readable,
    decide,
    validate_doctype,
)
from roost.principals import Principal
from roost.services import Services
from roost.types import DocId, Doctype
from roost.vfs import FileDoc
from roost.vfs.metadata import Reference, references_of
from roost.web.context import read_json
from roost.web.file_access import FileAccess
from roost.web.files_jsonapi import file_object

JSONAPI: Final = "application/vnd.api+json"
MAX_REFERENCES_PER_REQUEST: Final = 1000
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000


def _answer(content: Any, status: int = 200) -> Response:
    return JSONResponse(content, status_code=status, media_type=JSONAPI)


def _identifiers(body: Any) -> list[Reference]:
    """`{"data": [{"type", "id"}, …]}` (or a single object) as (type, id) pairs, in order."""
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise BadRequest('the body must be {"data": [{"type": …, "id": …}, …]}')
    if len(data) > MAX_REFERENCES_PER_REQUEST:
        raise BadRequest(f"at most {MAX_REFERENCES_PER_REQUEST} references per request")
    out: list[Reference] = []
    for entry in data:
        doctype = entry.get("type") if isinstance(entry, dict) else None
        ref_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(doctype, str) or not isinstance(ref_id, str) or not ref_id:
            raise BadRequest('every reference needs a "type" and an "id" (strings)')
        validate_doctype(doctype)
        if (doctype, ref_id) not in out:
            out.append((Doctype(doctype), DocId(ref_id)))
    return out


async def check_document(
    services: Services,
    instance: Instance,
    principal: Principal,
    verb: str,
    doctype: str,
    doc_id: str,
) -> None:
    """May the principal `verb` the referencing document (fetched, so selector rules apply)?

    No rule at all for the doctype: 403. A document the caller may not read: 404, like a
    missing one. The document need not exist (a konnector's folder is referenced by
    `io.cozy.konnectors/<slug>`, which is no document of the instance's database).
    """
    # Unreadable reserved doctypes (sessions, permissions…) stay out of reach, even for the
    # owner, as on the rest of /data. Read-only ones may still reference files (a
    # konnector's folder is referenced by io.cozy.konnectors/<slug>): hence the "stack"
    # surface below, with only the readability rule of the reserved table applied here.
    check_readable(doctype, verb=verb)
    doc = await services.documents.get_or_none(instance, doctype, doc_id)
    target = DocumentTarget(doc if doc is not None else {"_id": doc_id})
    decide(
        principal.permissions, verb, doctype, target, now=datetime.now(UTC), surface="stack"
    ).enforce()


# -- from the file side: /files/{id}/relationships/referenced_by ----------------------------


async def _file_side(request: Request, *, adding: bool) -> Response:
    access = await FileAccess.of(request)
    refs = _identifiers(await read_json(request))
    doc, _ = await access.load(request.path_params["file_id"], "PUT")
    for doctype, ref_id in refs:
        await check_document(
            access.services, access.instance, access.principal, "PUT", doctype, ref_id
        )
    updated = await access.vfs.change_references(
        access.instance,
        doc,
        add=refs if adding else (),
        remove=() if adding else refs,
        app_slug=access.app_slug,
    )
    current = references_of(updated)
    return _answer(
        {
            "meta": {"rev": updated.rev, "count": len(current)},
            "data": [{"type": t, "id": i} for t, i in current],
        }
    )


async def add_referenced_by(request: Request) -> Response:
    return await _file_side(request, adding=True)


async def remove_referenced_by(request: Request) -> Response:
    return await _file_side(request, adding=False)


# -- from the document side: /data/{doctype}/{id}/relationships/references -----------------


def _page(request: Request) -> tuple[int, str | None]:
    raw = request.query_params.get("page[limit]")
    limit = DEFAULT_PAGE
    if raw is not None:
        if not raw.isdigit() or int(raw) < 1:
            raise BadRequest("page[limit] must be a positive integer")
        limit = min(int(raw), MAX_PAGE)
    return limit, request.query_params.get("page[cursor]") or None


async def list_references(request: Request) -> Response:
    access = await FileAccess.of(request)
    doctype = validate_doctype(request.path_params["doctype"])
    doc_id = request.path_params["docid"]
    limit, cursor = _page(request)
    await check_document(access.services, access.instance, access.principal, "GET", doctype, doc_id)
    visible: list[FileDoc] = []
    if access.holds_some("GET"):
        for file in await access.vfs.referencing(access.instance, doctype, doc_id):
            if access.can_read(await access.target(file)):
                visible.append(file)
    remaining = [file for file in visible if cursor is None or file.id > cursor]
    page = remaining[:limit]
    body: dict[str, Any] = {
        "data": [{"type": FILES_DOCTYPE, "id": file.id} for file in page],
        "meta": {"count": len(visible)},
    }
    if len(remaining) > limit:
        query = urlencode({"page[cursor]": page[-1].id, "page[limit]": str(limit)})
        body["links"] = {"next": f"{request.url.path}?{query}"}
    if request.query_params.get("include") == "files":
        body["included"] = [file_object(file.doc) for file in page]
    return _answer(body)


async def _document_side(request: Request, *, adding: bool) -> Response:
    access = await FileAccess.of(request)
    doctype = validate_doctype(request.path_params["doctype"])
    doc_id = request.path_params["docid"]
    file_ids = []
    for file_type, file_id in _identifiers(await read_json(request)):
        if file_type != FILES_DOCTYPE:
            raise BadRequest(f"only {FILES_DOCTYPE} can be referenced here, not {file_type}")
        file_ids.append(file_id)
    access.require_some("PUT")
    await check_document(access.services, access.instance, access.principal, "PUT", doctype, doc_id)
    # Every file is checked before any is changed: a refusal leaves all of them untouched.
    files = []
    for file_id in file_ids:
        file, _ = await access.load(file_id, "PUT")
        if adding and not file.is_file:
            raise BadRequest(f"{file.name!r} is a directory: only files can be referenced")
        files.append(file)
    reference = (Doctype(doctype), DocId(doc_id))
    for file in files:
        await access.vfs.change_references(
            access.instance,
            file,
            add=[reference] if adding else (),
            remove=() if adding else [reference],
            app_slug=access.app_slug,
        )
    return Response(status_code=204)


async def add_references(request: Request) -> Response:
    return await _document_side(request, adding=True)


async def remove_references(request: Request) -> Response:
    return await _document_side(request, adding=False)


FILE_ROUTES: list[BaseRoute] = [
    Route("/files/{file_id}/relationships/referenced_by", add_referenced_by, methods=["POST"]),
    Route("/files/{file_id}/relationships/referenced_by", remove_referenced_by, methods=["DELETE"]),
]

# Must come before roost.web.data.ROUTES (its /data/{doctype}/{docid} would not match these
# longer paths, but keeping the specific routes first makes the order obvious).
DATA_ROUTES: list[BaseRoute] = [
    Route("/data/{doctype}/{docid}/relationships/references", list_references, methods=["GET"]),
    Route("/data/{doctype}/{docid}/relationships/references", add_references, methods=["POST"]),
    Route(
        "/data/{doctype}/{docid}/relationships/references", remove_references, methods=["DELETE"]
    ),
]
