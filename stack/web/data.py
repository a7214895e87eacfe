"""`/data/{doctype}/…`: the CouchDB-shaped document API.

Permission requirements per route follow cozy-stack (docs/permissions.md), with one
correction: `?revs=true` and `open_revs` are checked like any other read. A document the
caller may not read answers exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost import fast_json
from roost.errors import BadRequest, Conflict, NotFound
from roost.permissions import (
    SOME_DOCUMENTS,
    Decision,
    DocumentTarget,
    SomeDocuments,
    Target,
    decide,
    is_readable,
    validate_doctype,
)
from roost.principals import Principal
from roost.types import JSONDoc
from roost.web.context import instance_of, parse_json, principal_of, read_json, services_of

DOCTYPES_DOCTYPE = "io.cozy.doctypes"


class _JSONAnswer(JSONResponse):
    """Starlette's JSON answer, encoded with orjson (`roost.fast_json.dumps`): documents
    read from the store or from a request body, so never a non-finite float."""

    def render(self, content: Any) -> bytes:
        return fast_json.dumps(content)


def _doctype(request: Request) -> str:
    return validate_doctype(request.path_params["doctype"])


def _decide(
    principal: Principal,
    verb: str,
    doctype: str,
    target: Target | SomeDocuments | None,
    *,
    visible: Target | None = None,
) -> Decision:
    """`roost.permissions.decide` on the data surface, at the current time."""
    return decide(
        principal.permissions, verb, doctype, target, now=datetime.now(UTC), visible=visible
    )


def _missing() -> NotFound:
    return NotFound("missing")


def _bool_param(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return value == "true"


def _write_answer(doctype: str, doc: JSONDoc, status: int) -> JSONResponse:
    return _JSONAnswer(
        {"id": doc["_id"], "rev": doc["_rev"], "type": doctype, "ok": True, "data": doc},
        status_code=status,
    )


async def get_document(request: Request) -> Response:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _decide(principal, "GET", doctype, SOME_DOCUMENTS).enforce()
    services = services_of(request)
    instance = instance_of(request)
    doc_id = request.path_params["docid"]
    open_revs = request.query_params.get("open_revs")
    revs = _bool_param(request, "revs")
    if open_revs is not None:
        return await _get_open_revs(request, principal, doctype, doc_id, open_revs, revs)
    params: dict[str, Any] = {}
    for flag in ("revs", "conflicts", "revs_info", "deleted_conflicts", "latest"):
        if _bool_param(request, flag):
            params[flag] = True
    if "rev" in request.query_params:
        params["rev"] = request.query_params["rev"]
    if params:
        try:
            doc = await services.documents.get(instance, doctype, doc_id, params)
        except NotFound:
            raise _missing() from None
    else:
        # The current revision, read together with the other reads of the doctype.
        found = await services.documents.get_or_none(instance, doctype, doc_id)
        if found is None:
            raise _missing()
        doc = found
    _decide(principal, "GET", doctype, DocumentTarget(doc)).enforce()
    if params.get("rev"):
        # An old revision is readable only if the current one is, too.
        current = await services.documents.get_or_none(instance, doctype, doc_id)
        if current is not None:
            _decide(principal, "GET", doctype, DocumentTarget(current)).enforce()
    return _JSONAnswer({**doc, "_type": doctype})


async def _get_open_revs(
    request: Request, principal: Principal, doctype: str, doc_id: str, open_revs: str, revs: bool
) -> Response:
    services = services_of(request)
    instance = instance_of(request)
    wanted: str | list[str]
    if open_revs == "all":
        wanted = "all"
    else:
        try:
            wanted = parse_json(open_revs)
        except BadRequest:
            raise BadRequest('open_revs must be "all" or a JSON list of revisions') from None
        if not isinstance(wanted, list) or not all(isinstance(r, str) for r in wanted):
            raise BadRequest('open_revs must be "all" or a JSON list of revisions')
    # Replication semantics (`latest`, deletion stubs for documents that left a restricted
    # token's scope, old revisions hidden while the current one is unreadable) live in
    # roost.replication, shared with `_bulk_get`.
    entries = await services.replication.open_revs(
        instance,
        principal,
        doctype,
        doc_id,
        wanted,
        revs=revs,
        latest=_bool_param(request, "latest"),
    )
    return _JSONAnswer(entries)


async def create_document(request: Request) -> Response:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _decide(principal, "POST", doctype, SOME_DOCUMENTS).enforce()
    services = services_of(request)
    body = await read_json(request)
    doc = services.documents.prepare_new(doctype, body, app_slug=principal.app_slug)
    _decide(principal, "POST", doctype, DocumentTarget(doc)).enforce_openly()
    await services.documents.save(instance_of(request), doctype, doc)
    services.jobs.notify_change(instance_of(request), doctype, "CREATED", doc)
    return _write_answer(doctype, doc, 201)


async def put_document(request: Request) -> Response:
    doctype = _doctype(request)
    principal = await principal_of(request)
    services = services_of(request)
    instance = instance_of(request)
    doc_id = request.path_params["docid"]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if "_rev" not in body:
        _decide(principal, "POST", doctype, SOME_DOCUMENTS).enforce()
        doc = services.documents.prepare_new(
            doctype, body, app_slug=principal.app_slug, doc_id=doc_id
        )
        _decide(principal, "POST", doctype, DocumentTarget(doc)).enforce_openly()
        existing = await services.documents.get_or_none(instance, doctype, doc_id)
        if existing is not None:
            raise Conflict("Document update conflict: the document exists; send its _rev")
        await services.documents.save(instance, doctype, doc)
        services.jobs.notify_change(instance, doctype, "CREATED", doc)
        return _write_answer(doctype, doc, 201)
    _decide(principal, "PUT", doctype, SOME_DOCUMENTS).enforce()
    previous = await services.documents.get_or_none(instance, doctype, doc_id)
    if previous is None:
        raise _missing()
    before = DocumentTarget(previous)
    _decide(principal, "PUT", doctype, before).enforce()
    doc = services.documents.prepare_update(
        doctype, doc_id, body, previous, app_slug=principal.app_slug
    )
    # The caller may read the document it changes: refusing its new version is no secret.
    _decide(principal, "PUT", doctype, DocumentTarget(doc), visible=before).enforce()
    await services.documents.save(instance, doctype, doc)
    services.jobs.notify_change(instance, doctype, "UPDATED", doc)
    return _write_answer(doctype, doc, 200)


def _rev_from(request: Request) -> str:
    query_rev = request.query_params.get("rev")
    header = request.headers.get("if-match")
    header_rev = header.strip().strip('"') if header else None
    if query_rev and header_rev and query_rev != header_rev:
        raise BadRequest("the rev parameter and the If-Match header differ")
    rev = query_rev or header_rev
    if not rev:
        raise BadRequest("deleting needs the current revision: ?rev= or If-Match")
    return rev


async def delete_document(request: Request) -> Response:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _decide(principal, "DELETE", doctype, SOME_DOCUMENTS).enforce()
    services = services_of(request)
    instance = instance_of(request)
    doc_id = request.path_params["docid"]
    rev = _rev_from(request)
    previous = await services.documents.get_or_none(instance, doctype, doc_id)
    if previous is None:
        raise _missing()
    _decide(principal, "DELETE", doctype, DocumentTarget(previous)).enforce()
    if previous["_rev"] != rev:
        raise Conflict("Document update conflict: the revision is stale")
    new_rev = await services.documents.delete(instance, doctype, doc_id, rev)
    services.jobs.notify_change(
        instance, doctype, "DELETED", {**previous, "_rev": new_rev, "_deleted": True}
    )
    return _JSONAnswer({"id": doc_id, "rev": new_rev, "type": doctype, "ok": True, "deleted": True})


async def _whole_type_reader(request: Request) -> tuple[str, Principal]:
    doctype = _doctype(request)
    principal = await principal_of(request)
    _decide(principal, "GET", doctype, None).enforce()
    return doctype, principal


async def find_documents(request: Request) -> Response:
    doctype, _ = await _whole_type_reader(request)
    query = await read_json(request)
    services = services_of(request)
    return _JSONAnswer(await services.documents.find(instance_of(request), doctype, query))


async def create_index(request: Request) -> Response:
    doctype, _ = await _whole_type_reader(request)
    body = await read_json(request)
    services = services_of(request)
    return _JSONAnswer(await services.documents.create_index(instance_of(request), doctype, body))


def _int_param(value: Any, name: str, minimum: int = 0) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer") from None
    if number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    return number


def _json_param(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_json(raw)
    except BadRequest:
        raise BadRequest(f"{name} must be JSON-encoded") from None


async def all_documents(request: Request) -> Response:
    doctype, _ = await _whole_type_reader(request)
    keys: Any = _json_param(request, "keys")
    if request.method == "POST":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        keys = body.get("keys")
    if keys is not None and (
        not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
    ):
        raise BadRequest("keys must be a list of document ids")
    startkey = _json_param(request, "startkey") or _json_param(request, "start_key")
    endkey = _json_param(request, "endkey") or _json_param(request, "end_key")
    for name, value in (("startkey", startkey), ("endkey", endkey)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{name} must be a JSON string")
    services = services_of(request)
    result = await services.documents.all_docs(
        instance_of(request),
        doctype,
        keys=keys,
        include_docs=_bool_param(request, "include_docs"),
        limit=_int_param(request.query_params.get("limit"), "limit"),
        skip=_int_param(request.query_params.get("skip"), "skip") or 0,
        descending=_bool_param(request, "descending"),
        startkey=startkey,
        endkey=endkey,
    )
    return _JSONAnswer(result)


async def all_doctypes(request: Request) -> Response:
    principal = await principal_of(request)
    _decide(principal, "GET", DOCTYPES_DOCTYPE, None).enforce()
    services = services_of(request)
    doctypes = [
        doctype
        for doctype in await services.documents.all_doctypes(instance_of(request))
        if is_readable(doctype)
    ]
    return _JSONAnswer(doctypes)


ROUTES = [
    Route("/data/_all_doctypes", all_doctypes, methods=["GET"]),
    Route("/data/{doctype}/_find", find_documents, methods=["POST"]),
    Route("/data/{doctype}/_index", create_index, methods=["POST"]),
    Route("/data/{doctype}/_all_docs", all_documents, methods=["GET", "POST"]),
    Route("/data/{doctype}/", create_document, methods=["POST"]),
    Route("/data/{doctype}", create_document, methods=["POST"]),
    Route("/data/{doctype}/{docid}", get_document, methods=["GET", "HEAD"]),
    Route("/data/{doctype}/{docid}", put_document, methods=["PUT"]),
    Route("/data/{doctype}/{docid}", delete_document, methods=["DELETE"]),
]
