"""References between files and documents (cozy-stack's `referenced_by`), from both sides.

A file document lists the documents that use it (`referenced_by: [{"type", "id"}]`), so
Drive and desktop clients can warn before a file in an album or a playlist is changed or
trashed. Changing a reference needs PUT on the file *and* PUT on the referencing document
(it is that document's relation); reading them needs GET on the document, and only files
the caller may read are listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.errors import BadRequest, Conflict, NotFound
from roost.instances import Instance
from roost.permissions import (
    FILES_DOCTYPE,
    DocumentTarget,
    PermissionDenied,
    check,
    check_readable,
    validate_doctype,
)
from roost.principals import Principal
from roost.services import Services
from roost.vfs import FileDoc, RevisionMismatch
from roost.web.context import read_json
from roost.web.file_access import FileAccess
from roost.web.files_jsonapi import file_object

JSONAPI: Final = "application/vnd.api+json"
MAX_REFERENCES_PER_REQUEST: Final = 1000
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
_FIND_BATCH: Final = 1000
_CAS_ATTEMPTS: Final = 20

Reference = tuple[str, str]  # (doctype, id)


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
            out.append((doctype, ref_id))
    return out


def _references_of(doc: FileDoc) -> list[Reference]:
    out: list[Reference] = []
    for entry in doc.doc.get("referenced_by") or []:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            out.append((str(entry["type"]), str(entry.get("id", ""))))
    return out


async def check_document(
    services: Services,
    instance: Instance,
    principal: Principal,
    verb: str,
    doctype: str,
    doc_id: str,
) -> None:
    """`check` `verb` on the referencing document (fetched, so selector rules apply).

    No rule at all for the doctype: 403. A document the caller may not read: 404, like a
    missing one. The document need not exist (a konnector's folder is referenced by
    `io.cozy.konnectors/<slug>`, which is no document of the instance's database).
    """
    # Unreadable reserved doctypes (sessions, permissions…) stay out of reach, even for the
    # owner, as on the rest of /data. Read-only ones may still reference files (a
    # konnector's folder is referenced by io.cozy.konnectors/<slug>).
    check_readable(doctype, verb=verb)
    if not principal.permissions.allows_some(verb, doctype):
        raise PermissionDenied(verb, doctype, f"no {verb} permission on {doctype}")
    doc = await services.documents.get_or_none(instance, doctype, doc_id)
    target = DocumentTarget(doc if doc is not None else {"_id": doc_id})
    try:
        check(principal.permissions, verb, doctype, target)
    except PermissionDenied:
        if not principal.permissions.allows("GET", doctype, target):
            raise NotFound("missing") from None
        raise


async def change_references(
    access: FileAccess,
    doc: FileDoc,
    *,
    add: Iterable[Reference] = (),
    remove: Iterable[Reference] = (),
) -> FileDoc:
    """Add and remove references on one file, re-reading it when someone wrote meanwhile
    (so concurrent additions from two albums are both kept)."""
    added, removed = list(add), set(remove)
    current = doc
    for _ in range(_CAS_ATTEMPTS):
        before = _references_of(current)
        after = [ref for ref in before if ref not in removed]
        after += [ref for ref in added if ref not in after]
        if after == before:
            return current
        try:
            return await access.vfs.update_fields(
                access.instance,
                current,
                {"referenced_by": [{"type": t, "id": i} for t, i in after]},
                if_rev=current.rev,
                app_slug=access.app_slug,
            )
        except RevisionMismatch:
            current = await access.vfs.get(access.instance, doc.id)
    raise Conflict("the file kept changing; try again")


# -- from the file side: /files/{id}/relationships/referenced_by ----------------------------


async def _file_side(request: Request, *, adding: bool) -> Response:
    access = await FileAccess.of(request)
    refs = _identifiers(await read_json(request))
    doc, _ = await access.load(request.path_params["file_id"], "PUT")
    for doctype, ref_id in refs:
        await check_document(
            access.services, access.instance, access.principal, "PUT", doctype, ref_id
        )
    if adding:
        updated = await change_references(access, doc, add=refs)
    else:
        updated = await change_references(access, doc, remove=refs)
    current = _references_of(updated)
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


async def _referencing_files(access: FileAccess, doctype: str, doc_id: str) -> list[FileDoc]:
    """Every file that names the document, by id.

    A Mango query on the files database while the VFS has no such lookup (requested in
    .handoff/vfs-requests.md); batches by `_id` because PouchDB Server has no bookmarks.
    """
    db = access.vfs.files_db(access.instance)
    await access.vfs.ensure(access.instance)
    found: list[FileDoc] = []
    last = ""
    while True:
        selector: dict[str, Any] = {
            "referenced_by": {"$elemMatch": {"type": doctype, "id": doc_id}},
            "_id": {"$gt": last},
        }
        result = await access.services.couch.find(
            db, {"selector": selector, "limit": _FIND_BATCH, "sort": [{"_id": "asc"}]}
        )
        docs = [d for d in result.get("docs", []) if d.get("type") in ("file", "directory")]
        found += [FileDoc(d) for d in docs]
        if len(result.get("docs", [])) < _FIND_BATCH:
            return found
        last = str(result["docs"][-1]["_id"])


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
    if access.principal.permissions.allows_some("GET", FILES_DOCTYPE):
        for file in await _referencing_files(access, doctype, doc_id):
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
    access.may_touch("PUT")
    await check_document(access.services, access.instance, access.principal, "PUT", doctype, doc_id)
    # Every file is checked before any is changed: a refusal leaves all of them untouched.
    files = []
    for file_id in file_ids:
        file, _ = await access.load(file_id, "PUT")
        if adding and not file.is_file:
            raise BadRequest(f"{file.name!r} is a directory: only files can be referenced")
        files.append(file)
    reference = (doctype, doc_id)
    for file in files:
        if adding:
            await change_references(access, file, add=[reference])
        else:
            await change_references(access, file, remove=[reference])
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
