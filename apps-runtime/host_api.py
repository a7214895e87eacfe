"""The component linker: WASI p2 (granting nothing) plus the ``roost:app`` interfaces.

Every host function:

- finds the run (grant, services, loop) in :data:`roost.apps.context.CURRENT_RUN`;
- calls ``roost.permissions.check(...)`` *before* delegating to a service;
- returns ``Variant('ok', json)`` or ``Variant('err', json)`` and **never raises** (an
  exception in a wasmtime-py host function is stashed in a process-global and re-raised in
  whichever thread calls wasm next);
- records one :class:`~roost.apps.services.AccessEntry` per call, refusals included.

The linker defines the exact interface names of every released world version
(``roost:app/data@0.1.0`` ...), so old apps keep linking when a new world is added.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from wasmtime import component

from roost.apps import WORLD_PACKAGE, WORLD_VERSIONS
from roost.apps.context import CURRENT_RUN, RunContext
from roost.apps.engine import AppEngine
from roost.apps.services import (
    AccessEntry,
    EgressDenied,
    FetchRequest,
    Invalid,
    NotFound,
    ServiceError,
)
from roost.permissions import (
    DocumentTarget,
    FileTarget,
    InvalidRule,
    PermissionDenied,
    check,
    check_readable,
    check_writable,
    egress_allows,
)
from roost.permissions.egress import parse_url_origin

__all__ = ["MAX_PAYLOAD_BYTES", "build_linker", "error_json"]

FILES_DOCTYPE = "io.cozy.files"
NOTIFICATIONS_DOCTYPE = "io.cozy.notifications"
#: The largest JSON payload a guest may pass in one call.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
MAX_FETCH_BODY = 8 * 1024 * 1024
HOP_BY_HOP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def error_json(code: str, message: str) -> str:
    return json.dumps({"error": code, "message": message})


def _ok(value: Any) -> component.Variant:
    return component.Variant("ok", value if isinstance(value, str) else json.dumps(value))


def _err(code: str, message: str) -> component.Variant:
    return component.Variant("err", error_json(code, message))


class _Call:
    """Book-keeping for one host call: the access entry it will leave."""

    def __init__(self, run: RunContext, interface: str, function: str, verb: str, doctype: str):
        self.run = run
        self.interface = interface
        self.function = function
        self.verb = verb
        self.doctype = doctype
        self.count = 0
        self.bytes = 0
        self.ids: tuple[str, ...] = ()
        self.egress_host: str | None = None

    def done(self, allowed: bool, error: str | None = None) -> None:
        self.run.record(
            AccessEntry(
                at=time.time(),
                app=self.run.app,
                interface=self.interface,
                function=self.function,
                verb=self.verb,
                doctype=self.doctype,
                allowed=allowed,
                count=self.count,
                bytes=self.bytes,
                ids=self.ids[:50],
                egress_host=self.egress_host,
                error=error,
                job_id=self.run.job_id,
            )
        )


class _Hidden(NotFound):
    """A document exists but the grant does not cover it: the guest sees not_found."""


HostImpl = Callable[[RunContext, _Call, tuple[Any, ...]], Any]


def _guard(interface: str, function: str, verb: str, impl: HostImpl) -> Callable[..., Any]:
    """Wrap ``impl`` so that it never raises and always leaves an access entry."""

    def host(_store: Any, *args: Any) -> component.Variant:
        run = CURRENT_RUN.get()
        if run is None:
            return _err("internal", "no run context")
        doctype = args[0] if interface == "data" and args and isinstance(args[0], str) else ""
        if interface == "files":
            doctype = FILES_DOCTYPE
        call = _Call(run, interface, function, verb, doctype)
        try:
            for arg in args:
                if isinstance(arg, str) and len(arg) > MAX_PAYLOAD_BYTES:
                    raise Invalid(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
            result = impl(run, call, args)
        except _Hidden as exc:  # outside a restricted grant: answered like a missing document
            call.done(False, "forbidden")
            return _err(exc.code, str(exc))
        except PermissionDenied as exc:
            call.done(False, "forbidden")
            return _err("forbidden", exc.reason)
        except EgressDenied as exc:
            call.done(False, exc.code)
            return _err(exc.code, str(exc))
        except ServiceError as exc:
            call.done(True, exc.code)
            return _err(exc.code, str(exc))
        except InvalidRule as exc:
            call.done(False, "invalid")
            return _err("invalid", str(exc))
        except Exception as exc:  # never let an exception reach wasmtime
            call.done(True, "internal")
            return _err("internal", f"{type(exc).__name__}: {exc}"[:500])
        call.done(True)
        return _ok(result)

    return host


# -- helpers ------------------------------------------------------------------------------------
def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise Invalid(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Invalid(f"{what} must be a JSON object")
    return value


def _need_service(service: Any, name: str) -> Any:
    if service is None:
        raise ServiceError(f"the {name} service is not available here", code="unavailable")
    return service


def _require_some(run: RunContext, verb: str, doctype: str) -> None:
    """Refuse early when no rule grants ``verb`` on ``doctype`` at all (or the grant expired)."""
    if run.grant.expires_at is not None and run.grant.is_expired(datetime.now(UTC)):
        raise PermissionDenied(verb, doctype, "this app's permission has expired")
    if not run.grant.allows_some(verb, doctype):
        raise PermissionDenied(verb, doctype, f"no {verb} permission on {doctype}")


def _visible(run: RunContext, verb: str, doctype: str, doc: Mapping[str, Any]) -> bool:
    return bool(run.grant.allows(verb, doctype, DocumentTarget(doc)))


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str))


# -- data ---------------------------------------------------------------------------------------
def _data_get(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_id = args
    check_readable(doctype)
    _require_some(run, "GET", doctype)
    svc = _need_service(run.services.data, "data")
    doc = run.bridge(svc.get(doctype, doc_id))
    call.ids = (doc_id,)
    if not _visible(run, "GET", doctype, doc):
        raise _Hidden(f"no document {doc_id} in {doctype}")
    call.count, call.bytes = 1, _size(doc)
    return doc


def _data_find(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    doctype, query_text = args
    check_readable(doctype)
    _require_some(run, "GET", doctype)
    query = _json_object(query_text or "{}", "the query")
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
    svc = _need_service(run.services.data, "data")
    docs = run.bridge(
        svc.find(doctype, selector, limit=min(limit, run.max_find_limit), skip=skip, sort=sort)
    )
    visible = [d for d in docs if _visible(run, "GET", doctype, d)]
    fields = query.get("fields")
    if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        keep = set(fields) | {"_id", "_rev"}
        visible = [{k: v for k, v in d.items() if k in keep} for d in visible]
    out = {"docs": visible}
    call.count, call.bytes = len(visible), _size(out)
    call.ids = tuple(str(d.get("_id", "")) for d in visible)
    return out


def _data_create(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_text = args
    check_writable(doctype)
    doc = _json_object(doc_text, "the document")
    doc.pop("_rev", None)
    check(run.grant, "POST", doctype, DocumentTarget(doc))
    svc = _need_service(run.services.data, "data")
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
    svc = _need_service(run.services.data, "data")
    old: Mapping[str, Any] = run.bridge(svc.get(doctype, doc_id))
    check(run.grant, verb, doctype, DocumentTarget(old))
    return old


def _data_update(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_text = args
    check_writable(doctype, verb="PUT")
    doc = _json_object(doc_text, "the document")
    check(run.grant, "PUT", doctype, DocumentTarget(doc))
    _existing(run, doctype, doc, "PUT")
    svc = _need_service(run.services.data, "data")
    updated = run.bridge(svc.update(doctype, doc, app=run.app))
    call.count, call.bytes, call.ids = 1, len(doc_text), (str(doc["_id"]),)
    return updated


def _data_delete(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    doctype, doc_text = args
    check_writable(doctype, verb="DELETE")
    doc = _json_object(doc_text, "the document")
    _require_some(run, "DELETE", doctype)
    _existing(run, doctype, doc, "DELETE")
    svc = _need_service(run.services.data, "data")
    result = run.bridge(svc.delete(doctype, str(doc["_id"]), str(doc["_rev"]), app=run.app))
    call.count, call.ids = 1, (str(doc["_id"]),)
    return result


def _data_changes(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    doctype, since = args
    check_readable(doctype)
    _require_some(run, "GET", doctype)
    svc = _need_service(run.services.data, "data")
    feed = run.bridge(svc.changes_since(doctype, since or "0", limit=run.max_find_limit))
    results = []
    for change in feed.get("results", []):
        doc = change.get("doc")
        if not isinstance(doc, Mapping):
            doc = {"_id": change.get("id", ""), "_deleted": True}
        if _visible(run, "GET", doctype, doc):
            results.append(change)
    out = {"results": results, "last_seq": str(feed.get("last_seq", since))}
    call.count, call.bytes = len(results), _size(out)
    return out


# -- files --------------------------------------------------------------------------------------
def _files_list(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    (path,) = args
    _require_some(run, "GET", FILES_DOCTYPE)
    svc = _need_service(run.services.files, "files")
    target = run.bridge(svc.target(path))
    if not run.grant.allows("GET", FILES_DOCTYPE, target):
        raise PermissionDenied("GET", FILES_DOCTYPE, f"{path} is outside the grant")
    entries = run.bridge(svc.list_dir(path))
    out = {"entries": entries}
    call.count, call.bytes, call.ids = len(entries), _size(out), (target.id,)
    return out


def _files_read(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    (path,) = args
    _require_some(run, "GET", FILES_DOCTYPE)
    svc = _need_service(run.services.files, "files")
    target = run.bridge(svc.target(path))
    if not run.grant.allows("GET", FILES_DOCTYPE, target):
        raise PermissionDenied("GET", FILES_DOCTYPE, f"{path} is outside the grant")
    if target.is_dir:
        raise Invalid(f"{path} is a directory")
    doc, data = run.bridge(svc.read(path, max_bytes=run.max_file_bytes))
    call.count, call.bytes, call.ids = 1, len(data), (target.id,)
    return {
        "path": path,
        "size": len(data),
        "mime": doc.get("mime", ""),
        "base64": base64.b64encode(data).decode("ascii"),
    }


def _files_write(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    path, content_text = args
    if not (
        run.grant.allows_some("POST", FILES_DOCTYPE) or run.grant.allows_some("PUT", FILES_DOCTYPE)
    ):
        raise PermissionDenied("POST", FILES_DOCTYPE, "no permission to write files")
    svc = _need_service(run.services.files, "files")
    content = _json_object(content_text, "the content")
    if "text" in content and isinstance(content["text"], str):
        data = content["text"].encode("utf-8")
    elif "base64" in content and isinstance(content["base64"], str):
        try:
            data = base64.b64decode(content["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("base64 content is not valid base64") from None
    else:
        raise Invalid('content must be {"text": ...} or {"base64": ...}')
    mime = content.get("mime")
    if mime is not None and not isinstance(mime, str):
        raise Invalid("mime must be a string")
    if len(data) > run.max_file_bytes:
        raise Invalid(f"file larger than {run.max_file_bytes} bytes")
    try:
        target: FileTarget = run.bridge(svc.target(path))
        verb = "PUT"
    except NotFound:
        parent_path, _, name = path.rstrip("/").rpartition("/")
        parent: FileTarget = run.bridge(svc.target(parent_path or "/"))
        target = FileTarget(
            id="",
            dir_id=parent.id,
            type="file",
            name=name,
            mime=mime or "",
            ancestors=(parent, *parent.ancestors),
        )
        verb = "POST"
    call.verb = verb
    check(run.grant, verb, FILES_DOCTYPE, target)
    doc = run.bridge(svc.write(path, data, mime=mime, app=run.app))
    call.count, call.bytes, call.ids = 1, len(data), (str(doc.get("_id", "")),)
    return doc


# -- http ---------------------------------------------------------------------------------------
def _http_fetch(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    (request_text,) = args
    req = _json_object(request_text, "the request")
    url = req.get("url")
    method = req.get("method", "GET")
    if not isinstance(url, str) or not url:
        raise Invalid("the request needs a url")
    if not isinstance(method, str) or not method.isalpha():
        raise Invalid("method must be a word like GET or POST")
    method = method.upper()
    call.verb = method
    origin = parse_url_origin(url)
    call.egress_host = origin.host if origin is not None else None
    egress = tuple(run.grant.egress)
    if not egress:
        raise EgressDenied("this app has no egress: it cannot reach the network")
    if not egress_allows(egress, url):
        raise EgressDenied(f"{url} is not in the app's egress list")
    headers_raw = req.get("headers", {})
    if not isinstance(headers_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers_raw.items()
    ):
        raise Invalid("headers must be an object of strings")
    headers = tuple((k, v) for k, v in headers_raw.items() if k.lower() not in HOP_BY_HOP)
    if "body_base64" in req:
        try:
            body = base64.b64decode(str(req["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("body_base64 is not valid base64") from None
    elif "body" in req:
        if not isinstance(req["body"], str):
            raise Invalid("body must be a string (JSON-encode it yourself)")
        body = req["body"].encode("utf-8")
    else:
        body = b""
    if len(body) > MAX_FETCH_BODY:
        raise Invalid(f"request body larger than {MAX_FETCH_BODY} bytes")
    fetcher = _need_service(run.services.http, "http")
    resp = run.bridge(fetcher.fetch(FetchRequest(method, url, headers, body), egress))
    call.count = 1
    call.bytes = len(resp.body) + resp.bytes_out
    if resp.hosts:
        call.egress_host = ",".join(dict.fromkeys(resp.hosts))
    out: dict[str, Any] = {
        "status": resp.status,
        "headers": {k.lower(): v for k, v in resp.headers},
        "url": resp.url,
    }
    try:
        out["body"] = resp.body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(resp.body).decode("ascii")
    return out


# -- log and notify -----------------------------------------------------------------------------
def _log(_store: Any, level: Any, message: Any) -> None:
    run = CURRENT_RUN.get()
    if run is None:
        return
    try:
        run.log.add(str(level), str(message))
    except Exception:  # never raise into wasmtime
        return


def _notify(run: RunContext, call: _Call, args: tuple[Any, ...]) -> Any:
    title, message = args
    check(run.grant, "POST", NOTIFICATIONS_DOCTYPE)
    notifier = _need_service(run.services.notifier, "notify")
    if not title or len(title) > 200 or len(message) > 4000:
        raise Invalid("title must be 1-200 characters and message at most 4000")
    result = run.bridge(notifier.notify(run.app, title, message))
    call.count, call.bytes = 1, len(title) + len(message)
    return result


INTERFACES: dict[str, list[tuple[str, str, HostImpl]]] = {
    "data": [
        ("get", "GET", _data_get),
        ("find", "GET", _data_find),
        ("create", "POST", _data_create),
        ("update", "PUT", _data_update),
        ("delete", "DELETE", _data_delete),
        ("changes-since", "GET", _data_changes),
    ],
    "files": [
        ("list", "GET", _files_list),
        ("read", "GET", _files_read),
        ("write", "POST", _files_write),
    ],
    "http": [("fetch", "GET", _http_fetch)],
    "notify": [("notify", "POST", _notify)],
}


def build_linker(engine: AppEngine) -> component.Linker:
    """A linker for every released world version. Share it: it holds no per-run state."""
    linker = component.Linker(engine.engine)
    linker.add_wasip2()
    with linker.root() as root:
        for version in WORLD_VERSIONS:
            for iface, funcs in INTERFACES.items():
                with root.add_instance(f"{WORLD_PACKAGE}/{iface}@{version}") as inst:
                    for name, verb, impl in funcs:
                        inst.add_func(name, _guard(iface, name, verb, impl))
            with root.add_instance(f"{WORLD_PACKAGE}/log@{version}") as inst:
                inst.add_func("log", _log)
    return linker
