"""The WebDAV server (RFC 4918 class 1 and 2) over the VFS, mounted at `/dav/files/`.

Every method authenticates through `Authenticator.authenticate` (Basic with an app
password or a token as the password, or Bearer) and asks `roost.permissions.check` on the
`FileTarget` of every resource it reads or changes:

    GET/HEAD/PROPFIND          GET on the resource (a resource one may not read is a 404)
    PUT/PROPPATCH/LOCK (exists) PUT on it;   PUT/MKCOL/LOCK creating   POST on the new target
    DELETE                     DELETE on it
    COPY                       GET on the source, POST on the destination
    MOVE                       PUT on the source and on the destination
    overwritten destination    DELETE on it as well

The trash (`/.cozy_trash`) is not part of the tree seen through WebDAV; DELETE moves
there, so a sync client's deletion can be undone from the web UI.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response

from roost.couch import CouchClient
from roost.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    RoostError,
    Unauthorized,
)
from roost.instances import Instance
from roost.permissions import PermissionDenied, check
from roost.principals import Authenticator, Principal
from roost.vfs import (
    FILES_DOCTYPE,
    TRASH_DIR_NAME,
    VFS,
    FileDoc,
    FileTargets,
    NameConflict,
)
from roost.vfs.errors import BlobMissing
from roost.vfs.filedoc import parse_time
from roost.web.byte_ranges import content_response
from roost.web.error_table import answer_for
from roost.webdav import davxml
from roost.webdav.davxml import DAV, MS_NS, OC_NS, clark
from roost.webdav.ifheader import Condition, IfList, etags_match, parse_if_header, submitted_tokens
from roost.webdav.locks import Lock, LockStore, parse_timeout
from roost.webdav.paths import DavPath, href_for, parse_destination, parse_raw_path

DAV_METHODS = [
    "OPTIONS",
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
]
_ALLOW = ", ".join(DAV_METHODS)
_XML = "application/xml; charset=utf-8"
MAX_XML_BYTES = 1024 * 1024
_INLINE_READ = 64 * 1024

# Live properties: computed, never stored; PROPPATCH on them is refused (403).
_RESOURCETYPE = clark(DAV, "resourcetype")
_CONTENTLENGTH = clark(DAV, "getcontentlength")
_CONTENTTYPE = clark(DAV, "getcontenttype")
_ETAG = clark(DAV, "getetag")
_LASTMODIFIED = clark(DAV, "getlastmodified")
_CREATIONDATE = clark(DAV, "creationdate")
_DISPLAYNAME = clark(DAV, "displayname")
_SUPPORTEDLOCK = clark(DAV, "supportedlock")
_LOCKDISCOVERY = clark(DAV, "lockdiscovery")
_QUOTA_USED = clark(DAV, "quota-used-bytes")
_QUOTA_AVAILABLE = clark(DAV, "quota-available-bytes")
_OC_CHECKSUMS = clark(OC_NS, "checksums")
_OC_SIZE = clark(OC_NS, "size")
_WIN32_MTIME = clark(MS_NS, "Win32LastModifiedTime")
# What allprop returns (RFC 4918 §9.1: not the quota properties of RFC 4331).
_ALLPROP = (
    _RESOURCETYPE,
    _CONTENTLENGTH,
    _CONTENTTYPE,
    _ETAG,
    _LASTMODIFIED,
    _CREATIONDATE,
    _DISPLAYNAME,
    _SUPPORTEDLOCK,
    _LOCKDISCOVERY,
)
_PROTECTED = frozenset(
    {
        _RESOURCETYPE,
        _CONTENTLENGTH,
        _CONTENTTYPE,
        _ETAG,
        _LASTMODIFIED,
        _CREATIONDATE,
        _SUPPORTEDLOCK,
        _LOCKDISCOVERY,
        _QUOTA_USED,
        _QUOTA_AVAILABLE,
        _OC_CHECKSUMS,
        _OC_SIZE,
    }
)
_SUPPORTEDLOCK_XML = (
    "<D:supportedlock>"
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry></D:supportedlock>"
)


class DavError(Exception):
    """An answer other than success: status, optional RFC 4918 precondition, headers."""

    def __init__(
        self,
        status: int,
        reason: str = "",
        *,
        condition: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.condition = condition
        self.headers = headers or {}


class BlobResponse(FileResponse):
    # Bigger reads than Starlette's 64 KiB: one worker-thread hop per MiB streamed.
    chunk_size = 1024 * 1024


@dataclass
class _Call:
    """One request being served: who, where, and what was already read from the store."""

    request: Request
    instance: Instance
    principal: Principal
    path: DavPath
    targets: FileTargets
    _locks: list[Lock] | None = None
    _if_lists: list[IfList] | None = None
    _if_parsed: bool = False
    if_checked: bool = False
    resolved: dict[tuple[str, ...], FileDoc | None] = field(default_factory=dict)

    @property
    def permissions(self) -> Any:
        return self.principal.permissions

    def if_lists(self) -> list[IfList] | None:
        if not self._if_parsed:
            header = self.request.headers.get("if")
            self._if_lists = parse_if_header(header) if header else None
            self._if_parsed = True
        return self._if_lists


@functools.lru_cache(maxsize=4096)
def _dates(iso: str) -> tuple[str, str]:
    """An ISO 8601 timestamp as (RFC 1123 for getlastmodified, ISO for creationdate)."""
    moment = parse_time(iso) or datetime.fromtimestamp(0, UTC)
    return _http_date(moment), _iso_date(moment)


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _iso_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mtime_header(value: str | None) -> str | None:
    """`X-OC-Mtime: 1577836800` (seconds since the epoch, as rclone and ownCloud send it)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise BadRequest("X-OC-Mtime must be seconds since the epoch") from None
    if not 0 <= seconds < 253402300800:
        raise BadRequest("X-OC-Mtime is out of range")
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat().replace("+00:00", "Z")


class DavServer:
    def __init__(
        self,
        vfs: VFS,
        authenticator: Authenticator,
        couch: CouchClient,
        *,
        max_xml_bytes: int = MAX_XML_BYTES,
    ) -> None:
        self.vfs = vfs
        self.authenticator = authenticator
        self.locks = LockStore(couch)
        self.max_xml_bytes = max_xml_bytes
        self._handlers: dict[str, Callable[[_Call], Coroutine[Any, Any, Response]]] = {
            "GET": self._get,
            "HEAD": self._get,
            "PUT": self._put,
            "DELETE": self._delete,
            "PROPFIND": self._propfind,
            "PROPPATCH": self._proppatch,
            "MKCOL": self._mkcol,
            "COPY": self._copy_or_move,
            "MOVE": self._copy_or_move,
            "LOCK": self._lock,
            "UNLOCK": self._unlock,
        }

    # -- entry point -----------------------------------------------------------------------

    async def handle(self, request: Request, instance: Instance) -> Response:
        method = request.method.upper()
        if method == "OPTIONS":
            return options_response()
        handler = self._handlers.get(method)
        if handler is None:
            return _plain(405, f"{method} is not supported here", {"Allow": _ALLOW})
        try:
            principal = await self._authenticate(request, instance)
            raw_path = request.scope.get("raw_path")
            path_text = raw_path.decode("latin-1") if raw_path else request.url.path
            call = _Call(
                request=request,
                instance=instance,
                principal=principal,
                path=parse_raw_path(path_text.split("?", 1)[0]),
                targets=self.vfs.targets(instance),
            )
            return await handler(call)
        except DavError as error:
            return _error_response(error)
        except Unauthorized as error:
            return _plain(401, error.reason, {"WWW-Authenticate": 'Basic realm="Roost"'})
        except PermissionDenied as error:
            return _plain(403, str(error.reason))
        except RoostError as error:
            return _plain(answer_for(error).status, error.reason)
        except ClientDisconnect:
            return _plain(400, "the client went away")

    async def _authenticate(self, request: Request, instance: Instance) -> Principal:
        # Session cookies are deliberately not accepted: WebDAV is for clients holding an
        # app password or a token, and a cookie would make cross-site writes possible.
        principal = await self.authenticator.authenticate(
            instance, authorization=request.headers.get("authorization"), session_cookie=None
        )
        if principal is None:
            raise Unauthorized("authentication required: an app password or a token")
        # Where the access-log middleware finds who made the request.
        request.scope.setdefault("state", {})["principal"] = principal
        return principal

    # -- resolution, permissions, locks --------------------------------------------------

    async def _resolve(self, call: _Call, path: DavPath) -> FileDoc | None:
        """The file or directory at `path` (None if missing, or hidden like the trash)."""
        key = path.segments
        if key in call.resolved:
            return call.resolved[key]
        if path.segments and path.segments[0] == TRASH_DIR_NAME:
            call.resolved[key] = None
            return None
        if not path.segments:
            found: FileDoc | None = await self.vfs.root(call.instance)
            call.targets.remember(found)  # type: ignore[arg-type]
        else:
            parent = await self._resolve(call, path.parent)
            found = None
            if parent is not None and parent.is_dir:
                found = await self.vfs.child(call.instance, parent, path.name)
                if found is not None:
                    call.targets.remember(found)
        call.resolved[key] = found
        return found

    def _forget(self, call: _Call, path: DavPath) -> None:
        for key in list(call.resolved):
            if key[: len(path.segments)] == path.segments:
                del call.resolved[key]

    async def _allow(self, call: _Call, verb: str, doc: FileDoc) -> None:
        check(call.permissions, verb, FILES_DOCTYPE, await call.targets.for_doc(doc))

    async def _allow_read(self, call: _Call, doc: FileDoc) -> None:
        """GET permission, or 404: what one may not read does not exist for them."""
        target = await call.targets.for_doc(doc)
        if not call.permissions.allows("GET", FILES_DOCTYPE, target):
            raise DavError(404, "not found")

    async def _allow_new(
        self, call: _Call, verb: str, parent: FileDoc, name: str, *, is_dir: bool
    ) -> None:
        target = await call.targets.for_new(parent, name, type="directory" if is_dir else "file")
        check(call.permissions, verb, FILES_DOCTYPE, target)

    async def _all_locks(self, call: _Call) -> list[Lock]:
        # Read from the store on every request (never from a per-process copy): a lock
        # taken through another stack process must hold here at once.
        if call._locks is None:
            call._locks = await self.locks.all(call.instance)
        return call._locks

    async def _check_locks(
        self, call: _Call, paths: list[DavPath], *, subtree: DavPath | None = None
    ) -> None:
        """423 unless the request submits a token of every lock protecting what it changes.

        `paths` are the resources changed (a created or removed member also changes its
        parent collection); `subtree` is a collection removed or moved with its members.
        """
        # The If header first: a false condition is 412 even on a locked resource
        # (RFC 4918 §10.4.1); only a request whose conditions hold can be refused with 423.
        await self._check_if(call)
        locks = await self._all_locks(call)
        if not locks:
            return
        lists = call.if_lists()
        held = submitted_tokens(lists) if lists else set()
        mine = {lock.token for lock in locks if lock.principal == call.principal.label}
        held &= mine
        for path in paths:
            covering = [lock for lock in locks if lock.covers(path.vfs_path)]
            if covering and not any(lock.token in held for lock in covering):
                raise DavError(423, "the resource is locked", condition="lock-token-submitted")
        if subtree is not None:
            for lock in locks:
                if lock.is_below(subtree.vfs_path) and lock.token not in held:
                    raise DavError(
                        423,
                        "a member of the collection is locked",
                        condition="lock-token-submitted",
                    )

    async def _check_if(self, call: _Call) -> None:
        """412 unless the `If:` header (when present) holds for the resources it names."""
        if call.if_checked:
            return
        call.if_checked = True
        lists = call.if_lists()
        if not lists:
            return
        locks = await self._all_locks(call)
        host = call.request.headers.get("host", "")
        for if_list in lists:
            path = call.path
            if if_list.resource is not None:
                try:
                    path = parse_destination(if_list.resource, host, call.request.url.scheme)
                except RoostError:
                    continue
            doc = await self._resolve(call, path)
            if all(_condition_holds(cond, path, doc, locks) for cond in if_list.conditions):
                return
        raise DavError(412, "the If header does not match the resource's state")

    async def _read_xml(self, call: _Call) -> bytes:
        declared = call.request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_xml_bytes:
                    raise PayloadTooLarge("the XML body is too large")
            except ValueError:
                raise BadRequest("invalid Content-Length") from None
        chunks: list[bytes] = []
        size = 0
        async for chunk in call.request.stream():
            size += len(chunk)
            if size > self.max_xml_bytes:
                raise PayloadTooLarge("the XML body is too large")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- GET / HEAD ------------------------------------------------------------------------

    async def _get(self, call: _Call) -> Response:
        doc = await self._resolve(call, call.path)
        if doc is None:
            raise DavError(404, "not found")
        await self._allow_read(call, doc)
        await self._check_if(call)
        headers = {"ETag": doc.etag, "Last-Modified": _http_date(doc.updated_datetime)}
        not_modified = _conditional(call.request, doc)
        if not_modified is not None:
            return Response(status_code=not_modified, headers=headers)
        if doc.is_dir:
            return await self._listing(call, doc, headers)
        content = await self.vfs.open(call.instance, doc)
        if content.path is None:
            # An object store: the bytes stream from it, ranges included.
            try:
                reader = await content.open()
            except BlobMissing:
                raise DavError(404, "the file's content is missing") from None
            return content_response(
                reader,
                size=content.size,
                content_type=content.mime,
                headers=headers,
                range_header=call.request.headers.get("range"),
                head_only=call.request.method == "HEAD",
            )
        try:
            stat = os.stat(content.path)
            if stat.st_size <= _INLINE_READ and "range" not in call.request.headers:
                # A small blob from the page cache reads faster than a worker-thread hop.
                with open(content.path, "rb") as handle:  # noqa: ASYNC230
                    body = handle.read()
                headers.update({"Accept-Ranges": "bytes", "Content-Length": str(len(body))})
                return Response(
                    body if call.request.method == "GET" else b"",
                    media_type=content.mime,
                    headers=headers,
                )
        except FileNotFoundError:
            raise DavError(404, "the file's content is missing") from None
        return BlobResponse(
            content.path, headers=headers, media_type=content.mime, stat_result=stat
        )

    async def _listing(self, call: _Call, doc: FileDoc, headers: dict[str, str]) -> Response:
        children = await self._readable_children(call, doc)
        items = "".join(
            f'<li><a href="{escape(quote(child.name))}{"/" if child.is_dir else ""}">'
            f"{escape(child.name)}{'/' if child.is_dir else ''}</a></li>"
            for child in children
        )
        title = escape(call.path.vfs_path)
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><ul>{items}</ul>"
        if not call.path.trailing_slash:
            body = body.replace('href="', f'href="{escape(quote(call.path.name))}/', len(children))
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    async def _readable_children(self, call: _Call, doc: FileDoc) -> list[FileDoc]:
        children = await self.vfs.list_dir(call.instance, doc)
        if doc.is_root:
            children = [child for child in children if not child.is_trash_dir]
        if call.permissions.allows_whole_type("GET", FILES_DOCTYPE):
            return children  # every entry is readable: no per-entry target to build
        readable: list[FileDoc] = []
        for child in children:
            target = await call.targets.for_child(doc, child)
            if call.permissions.allows("GET", FILES_DOCTYPE, target):
                readable.append(child)
        return readable

    # -- PUT -------------------------------------------------------------------------------

    async def _put(self, call: _Call) -> Response:
        path = call.path
        if "content-range" in call.request.headers:
            # RFC 9110 §14.5: a partial PUT must not be stored as if it were the whole file.
            raise BadRequest("PUT with Content-Range (a partial update) is not supported")
        if path.is_root:
            raise DavError(405, "the root is a collection", headers={"Allow": _ALLOW})
        if path.segments[0] == TRASH_DIR_NAME and len(path.segments) == 1:
            raise Forbidden(f"{TRASH_DIR_NAME} is reserved")
        parent = await self._resolve(call, path.parent)
        if parent is None or not parent.is_dir:
            raise DavError(409, "the parent collection does not exist")
        doc = await self._resolve(call, path)
        if doc is not None and doc.is_dir:
            raise DavError(405, "PUT on a collection", headers={"Allow": _ALLOW})
        if doc is not None:
            await self._allow(call, "PUT", doc)
            await self._check_locks(call, [path])
        else:
            await self._allow_new(call, "POST", parent, path.name, is_dir=False)
            await self._check_locks(call, [path, path.parent])
        await self._check_if(call)
        _check_write_preconditions(call.request, doc)
        mtime = _mtime_header(call.request.headers.get("x-oc-mtime"))
        size = _content_length(call.request)
        mime = _upload_mime(path.name, call.request.headers.get("content-type"))
        content = await self.vfs.stage(call.instance, call.request.stream(), size=size)
        async with content:
            status = 204
            if doc is None:
                try:
                    doc = await self.vfs.create_file(
                        call.instance, parent, path.name, content, mime=mime, updated_at=mtime
                    )
                    status = 201
                except NameConflict:
                    # Another request created it meanwhile: this PUT now overwrites it.
                    doc = await self.vfs.child(call.instance, parent, path.name)
                    if doc is None or doc.is_dir:
                        raise DavError(409, "the name is being used by another request") from None
                    await self._allow(call, "PUT", doc)
            if status == 204:
                assert doc is not None
                doc = await self.vfs.overwrite_file(
                    call.instance, doc, content, mime=mime, updated_at=mtime
                )
        headers = {"ETag": doc.etag, "Last-Modified": _http_date(doc.updated_datetime)}
        if mtime:
            headers["X-OC-Mtime"] = "accepted"
        return Response(status_code=status, headers=headers)

    # -- DELETE ----------------------------------------------------------------------------

    async def _delete(self, call: _Call) -> Response:
        path = call.path
        if path.is_root:
            raise Forbidden("the root collection cannot be deleted")
        doc = await self._resolve(call, path)
        if doc is None:
            raise DavError(404, "not found")
        await self._allow(call, "DELETE", doc)
        await self._check_locks(call, [path, path.parent], subtree=path if doc.is_dir else None)
        await self._check_if(call)
        await self.vfs.trash(call.instance, doc)
        await self.locks.remove_at_or_below(
            call.instance, path.vfs_path, await self._all_locks(call)
        )
        return Response(status_code=204)

    # -- MKCOL -----------------------------------------------------------------------------

    async def _mkcol(self, call: _Call) -> Response:
        path = call.path
        body = await self._read_xml(call)
        if body:
            raise DavError(415, "MKCOL with a body is not supported")
        if path.is_root:
            raise DavError(405, "the root exists", headers={"Allow": _ALLOW})
        if path.segments[0] == TRASH_DIR_NAME and len(path.segments) == 1:
            raise Forbidden(f"{TRASH_DIR_NAME} is reserved")
        doc = await self._resolve(call, path)
        if doc is not None:
            raise DavError(405, "something already exists there", headers={"Allow": _ALLOW})
        parent = await self._resolve(call, path.parent)
        if parent is None or not parent.is_dir:
            raise DavError(409, "the parent collection does not exist")
        await self._allow_new(call, "POST", parent, path.name, is_dir=True)
        await self._check_locks(call, [path, path.parent])
        await self._check_if(call)
        try:
            await self.vfs.create_dir(call.instance, parent, path.name)
        except NameConflict:
            raise DavError(405, "something already exists there") from None
        return Response(status_code=201)

    # -- COPY / MOVE -----------------------------------------------------------------------

    async def _copy_or_move(self, call: _Call) -> Response:
        moving = call.request.method.upper() == "MOVE"
        source_path = call.path
        if source_path.is_root:
            raise Forbidden("the root collection cannot be copied or moved")
        source = await self._resolve(call, source_path)
        if source is None:
            raise DavError(404, "not found")
        if moving:
            await self._allow(call, "PUT", source)
        else:
            await self._allow_read(call, source)
        header = call.request.headers.get("destination")
        if not header:
            raise BadRequest("a Destination header is required")
        dest_path = parse_destination(
            header, call.request.headers.get("host", ""), call.request.url.scheme
        )
        if dest_path.is_root or (dest_path.segments[0] == TRASH_DIR_NAME):
            raise Forbidden("that destination is not writable")
        if dest_path.segments == source_path.segments:
            raise Forbidden("the source and the destination are the same")
        if source.is_dir and source_path.is_ancestor_of(dest_path):
            raise Forbidden("a collection cannot be copied or moved into itself")
        depth = call.request.headers.get("depth", "infinity").strip().lower()
        if depth not in ("0", "infinity") or (moving and source.is_dir and depth != "infinity"):
            raise BadRequest(f"Depth {depth} is not valid for {call.request.method}")
        overwrite = call.request.headers.get("overwrite", "T").strip().upper()
        if overwrite not in ("T", "F"):
            raise BadRequest("Overwrite must be T or F")
        dest_parent = await self._resolve(call, dest_path.parent)
        if dest_parent is None or not dest_parent.is_dir:
            raise DavError(409, "the destination's parent collection does not exist")
        existing = await self._resolve(call, dest_path)
        if existing is not None and overwrite == "F":
            raise DavError(412, "the destination exists and Overwrite is F")
        if existing is not None and dest_path.is_ancestor_of(source_path):
            raise Forbidden("the destination contains the source")
        if moving:
            target = await call.targets.for_new(
                dest_parent, dest_path.name, type=source.type, mime=source.mime
            )
            check(call.permissions, "PUT", FILES_DOCTYPE, target)
        else:
            await self._allow_new(call, "POST", dest_parent, dest_path.name, is_dir=source.is_dir)
        if existing is not None:
            await self._allow(call, "DELETE", existing)
        if moving:
            await self._check_locks(
                call,
                [source_path, source_path.parent],
                subtree=source_path if source.is_dir else None,
            )
        await self._check_locks(
            call,
            [dest_path, dest_path.parent],
            subtree=dest_path if existing is not None and existing.is_dir else None,
        )
        await self._check_if(call)
        mtime = _mtime_header(call.request.headers.get("x-oc-mtime"))
        locks = await self._all_locks(call)
        if existing is not None:
            await self.vfs.trash(call.instance, existing)
            await self.locks.remove_at_or_below(call.instance, dest_path.vfs_path, locks)
        if moving:
            await self.vfs.move(
                call.instance, source, parent=dest_parent, name=dest_path.name, updated_at=mtime
            )
            await self.locks.remove_at_or_below(call.instance, source_path.vfs_path, locks)
        elif source.is_dir and depth == "0":
            copied = await self.vfs.create_dir(
                call.instance,
                dest_parent,
                dest_path.name,
                created_at=source.created_at or None,
                updated_at=source.updated_at or None,
            )
            if source.dav_properties:
                await self.vfs.set_dav_properties(
                    call.instance, copied, set_properties=source.dav_properties
                )
        else:
            await self.vfs.copy(call.instance, source, dest_parent, dest_path.name)
        return Response(status_code=204 if existing is not None else 201)

    # -- PROPFIND --------------------------------------------------------------------------

    async def _propfind(self, call: _Call) -> Response:
        depth_header = call.request.headers.get("depth")
        depth = (depth_header or "1").strip().lower()
        if depth == "infinity":
            raise DavError(
                403, "Depth: infinity is not supported", condition="propfind-finite-depth"
            )
        if depth not in ("0", "1"):
            raise BadRequest("Depth must be 0 or 1")
        wanted = davxml.parse_propfind(await self._read_xml(call))
        doc = await self._resolve(call, call.path)
        if doc is None:
            raise DavError(404, "not found")
        await self._allow_read(call, doc)
        await self._check_if(call)
        entries: list[tuple[FileDoc, tuple[str, ...]]] = [(doc, call.path.segments)]
        if depth == "1" and doc.is_dir:
            for child in await self._readable_children(call, doc):
                entries.append((child, (*call.path.segments, child.name)))
        renderer = _PropRenderer(self, call, wanted)
        await renderer.prepare([entry for entry, _ in entries])
        parts = [davxml.MULTISTATUS_OPEN]
        parts.extend(renderer.response(entry, segments) for entry, segments in entries)
        parts.append(davxml.MULTISTATUS_CLOSE)
        return Response("".join(parts), status_code=207, media_type=_XML)

    # -- PROPPATCH -------------------------------------------------------------------------

    async def _proppatch(self, call: _Call) -> Response:
        body = await self._read_xml(call)
        doc = await self._resolve(call, call.path)
        if doc is None:
            raise DavError(404, "not found")
        await self._allow(call, "PUT", doc)
        await self._check_locks(call, [call.path])
        await self._check_if(call)
        updates = davxml.parse_proppatch(body)
        refused = [update.name for update in updates if update.name in _PROTECTED]
        statuses: list[tuple[str, int]] = []
        if refused:
            for update in updates:
                statuses.append((update.name, 403 if update.name in _PROTECTED else 424))
        else:
            set_properties: dict[str, str] = {}
            removed: list[str] = []
            mtime: str | None = None
            for update in updates:
                if update.action == "set":
                    set_properties[update.name] = davxml.serialize_element(update.element)
                    if update.name in removed:
                        removed.remove(update.name)
                    if update.name == _WIN32_MTIME:
                        mtime = _win32_time(davxml.element_text(update.element))
                else:
                    set_properties.pop(update.name, None)
                    removed.append(update.name)
                statuses.append((update.name, 200))
            updated = await self.vfs.set_dav_properties(
                call.instance, doc, set_properties=set_properties, remove=removed
            )
            if mtime is not None:
                # Windows Explorer sends the file's real mtime this way after an upload.
                await self.vfs.update_fields(call.instance, updated, {"updated_at": mtime})
        by_status: dict[int, list[str]] = {}
        for name, status in statuses:
            by_status.setdefault(status, []).append(davxml.open_tag(name, empty=True))
        href = call.path.href(collection=doc.is_dir)
        body_xml = (
            davxml.MULTISTATUS_OPEN
            + f"<D:response><D:href>{escape(href)}</D:href>"
            + "".join(davxml.propstat(props, status) for status, props in by_status.items())
            + "</D:response>"
            + davxml.MULTISTATUS_CLOSE
        )
        return Response(body_xml, status_code=207, media_type=_XML)

    # -- LOCK / UNLOCK ---------------------------------------------------------------------

    async def _lock(self, call: _Call) -> Response:
        body = await self._read_xml(call)
        root = davxml.parse_body(body)
        timeout = parse_timeout(call.request.headers.get("timeout"))
        path = call.path
        if root is None:
            return await self._refresh_lock(call, timeout)
        request = davxml.parse_lockinfo(root)
        depth = call.request.headers.get("depth", "infinity").strip().lower()
        if depth not in ("0", "infinity"):
            raise BadRequest("a LOCK's Depth is 0 or infinity")
        if path.segments and path.segments[0] == TRASH_DIR_NAME:
            raise Forbidden(f"{TRASH_DIR_NAME} is reserved")
        doc = await self._resolve(call, path)
        parent = None
        if doc is None:
            if path.is_root:
                raise DavError(404, "not found")
            parent = await self._resolve(call, path.parent)
            if parent is None or not parent.is_dir:
                raise DavError(409, "the parent collection does not exist")
            await self._allow_new(call, "POST", parent, path.name, is_dir=False)
        else:
            await self._allow(call, "PUT", doc)
            if not doc.is_dir:
                depth = "0"
        locks = await self._all_locks(call)
        vfs_path = path.vfs_path
        conflicting = [
            lock
            for lock in locks
            if lock.covers(vfs_path) or (depth == "infinity" and lock.is_below(vfs_path))
        ]
        if request.scope == "exclusive" and conflicting:
            raise DavError(423, "the resource is already locked", condition="no-conflicting-lock")
        if any(lock.scope == "exclusive" for lock in conflicting):
            raise DavError(
                423, "the resource is locked exclusively", condition="no-conflicting-lock"
            )
        await self._check_if(call)
        status = 200
        if doc is None:
            assert parent is not None
            await self._check_locks(call, [path.parent])
            try:
                await self.vfs.create_empty_file(call.instance, parent, path.name)
                status = 201
            except NameConflict:
                pass  # created meanwhile: lock what is there
        lock = await self.locks.create(
            call.instance,
            path=vfs_path,
            depth=depth,
            scope=request.scope,
            owner=request.owner,
            principal=call.principal.label,
            seconds=timeout,
        )
        return _lock_response(lock, status, path)

    async def _refresh_lock(self, call: _Call, seconds: int) -> Response:
        lists = call.if_lists()
        if not lists:
            raise BadRequest("a LOCK without a body refreshes a lock: send its token in If")
        tokens = submitted_tokens(lists)
        locks = await self._all_locks(call)
        matching = [
            lock
            for lock in locks
            if lock.token in tokens
            and lock.covers(call.path.vfs_path)
            and lock.principal == call.principal.label
        ]
        if not matching:
            raise DavError(
                412, "no lock of yours matches", condition="lock-token-matches-request-uri"
            )
        refreshed = await self.locks.refresh(call.instance, matching[0], seconds)
        for other in matching[1:]:
            await self.locks.refresh(call.instance, other, seconds)
        return _lock_response(refreshed, 200, call.path)

    async def _unlock(self, call: _Call) -> Response:
        header = call.request.headers.get("lock-token", "").strip()
        if not header:
            raise BadRequest("UNLOCK needs a Lock-Token header")
        token = header[1:-1] if header.startswith("<") and header.endswith(">") else header
        doc = await self._resolve(call, call.path)
        if doc is None:
            raise DavError(404, "not found")
        await self._allow(call, "PUT", doc)
        locks = await self._all_locks(call)
        lock = next((item for item in locks if item.token == token), None)
        if lock is None or not lock.covers(call.path.vfs_path):
            raise DavError(
                409,
                "that token does not lock this resource",
                condition="lock-token-matches-request-uri",
            )
        if lock.principal != call.principal.label:
            raise Forbidden("that lock belongs to someone else")
        await self.locks.remove(call.instance, lock)
        return Response(status_code=204)


class _PropRenderer:
    """Writes the `<D:response>` of each resource of a PROPFIND."""

    def __init__(self, server: DavServer, call: _Call, wanted: davxml.PropfindRequest) -> None:
        self.server = server
        self.call = call
        self.wanted = wanted
        self.locks: list[Lock] = []
        self.quota_used: int | None = None
        self.quota_available: int | None = None

    async def prepare(self, docs: list[FileDoc]) -> None:
        names = set(self.wanted.names)
        if self.wanted.mode == "allprop" or _LOCKDISCOVERY in names:
            self.locks = await self.server._all_locks(self.call)
        if names & {_QUOTA_USED, _QUOTA_AVAILABLE}:
            usage = await self.server.vfs.disk_usage(self.call.instance, fresh=False)
            self.quota_used = usage.used
            available = usage.available
            if available is None:
                available = self.server.vfs.free_bytes()
            self.quota_available = available

    def response(self, doc: FileDoc, segments: tuple[str, ...]) -> str:
        if self.wanted.mode == "allprop" and not self.wanted.names and not self.locks:
            return self._allprop(doc, segments)
        href = href_for(segments, collection=doc.is_dir)
        found: list[str] = []
        missing: list[str] = []
        mode = self.wanted.mode
        dead = doc.dav_properties
        if mode == "propname":
            names = [n for n in _ALLPROP if self._live(n, doc, segments) is not None]
            names.extend(dead)
            found = [davxml.open_tag(name, empty=True) for name in names]
        else:
            names = list(_ALLPROP) + list(dead) if mode == "allprop" else []
            names.extend(name for name in self.wanted.names if name not in names)
            for name in names:
                value = dead.get(name) if name in dead else self._live(name, doc, segments)
                if value is None:
                    if mode == "prop" or name in self.wanted.names:
                        missing.append(davxml.open_tag(name, empty=True))
                else:
                    found.append(value)
        parts = [f"<D:response><D:href>{escape(href)}</D:href>"]
        if found or not missing:
            parts.append(davxml.propstat(found, 200))
        if missing:
            parts.append(davxml.propstat(missing, 404))
        parts.append("</D:response>")
        return "".join(parts)

    def _allprop(self, doc: FileDoc, segments: tuple[str, ...]) -> str:
        """The common case (what Windows, rclone and file managers ask), in one string: a
        2,000-entry listing must not cost tens of function calls per entry."""
        raw = doc.doc
        is_dir = raw["type"] == "directory"
        http_date, _ = _dates(str(raw.get("updated_at") or ""))
        _, created = _dates(str(raw.get("created_at") or raw.get("updated_at") or ""))
        if is_dir:
            kind = "<D:resourcetype><D:collection/></D:resourcetype>"
        else:
            kind = (
                f"<D:resourcetype/><D:getcontentlength>{doc.size}</D:getcontentlength>"
                f"<D:getcontenttype>{escape(str(raw.get('mime') or ''))}</D:getcontenttype>"
            )
        dead = raw.get("dav_properties")
        extra = "".join(dead.values()) if isinstance(dead, dict) else ""
        return (
            f"<D:response><D:href>{escape(href_for(segments, collection=is_dir))}</D:href>"
            f"<D:propstat><D:prop>{kind}<D:getetag>{escape(doc.etag)}</D:getetag>"
            f"<D:getlastmodified>{http_date}</D:getlastmodified>"
            f"<D:creationdate>{created}</D:creationdate>"
            f"<D:displayname>{escape(str(raw.get('name') or ''))}</D:displayname>"
            f"{_SUPPORTEDLOCK_XML}<D:lockdiscovery/>{extra}</D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        )

    def _live(self, name: str, doc: FileDoc, segments: tuple[str, ...]) -> str | None:
        if name == _RESOURCETYPE:
            return (
                "<D:resourcetype><D:collection/></D:resourcetype>"
                if doc.is_dir
                else "<D:resourcetype/>"
            )
        if name == _ETAG:
            return f"<D:getetag>{escape(doc.etag)}</D:getetag>"
        if name == _LASTMODIFIED:
            return f"<D:getlastmodified>{_http_date(doc.updated_datetime)}</D:getlastmodified>"
        if name == _CREATIONDATE:
            return f"<D:creationdate>{_iso_date(doc.created_datetime)}</D:creationdate>"
        if name == _DISPLAYNAME:
            return f"<D:displayname>{escape(doc.name)}</D:displayname>"
        if name == _SUPPORTEDLOCK:
            return _SUPPORTEDLOCK_XML
        if name == _LOCKDISCOVERY:
            path = "/" + "/".join(segments)
            active = [lock for lock in self.locks if lock.covers(path)]
            return (
                "<D:lockdiscovery>"
                + "".join(_activelock(lock) for lock in active)
                + ("</D:lockdiscovery>")
            )
        if doc.is_file:
            if name == _CONTENTLENGTH:
                return f"<D:getcontentlength>{doc.size}</D:getcontentlength>"
            if name == _CONTENTTYPE:
                return f"<D:getcontenttype>{escape(doc.mime)}</D:getcontenttype>"
            if name == _OC_CHECKSUMS and doc.md5sum:
                import base64

                md5_hex = base64.b64decode(doc.md5sum).hex()
                return f"<oc:checksums><oc:checksum>MD5:{md5_hex}</oc:checksum></oc:checksums>"
            if name == _OC_SIZE:
                return f"<oc:size>{doc.size}</oc:size>"
        elif name in (_QUOTA_USED, _QUOTA_AVAILABLE):
            value = self.quota_used if name == _QUOTA_USED else self.quota_available
            if value is None:
                return None
            tag = "quota-used-bytes" if name == _QUOTA_USED else "quota-available-bytes"
            return f"<D:{tag}>{value}</D:{tag}>"
        return None


def _condition_holds(
    condition: Condition, path: DavPath, doc: FileDoc | None, locks: list[Lock]
) -> bool:
    if condition.token is not None:
        result = any(lock.token == condition.token and lock.covers(path.vfs_path) for lock in locks)
    else:
        result = etags_match(condition.etag or "", doc.etag if doc is not None else None)
    return result != condition.negated


def _activelock(lock: Lock) -> str:
    segments = tuple(part for part in lock.path.split("/") if part)
    return (
        "<D:activelock>"
        "<D:locktype><D:write/></D:locktype>"
        f"<D:lockscope><D:{lock.scope}/></D:lockscope>"
        f"<D:depth>{lock.depth}</D:depth>"
        + (f"<D:owner>{lock.owner}</D:owner>" if lock.owner else "")
        + f"<D:timeout>Second-{lock.seconds_left}</D:timeout>"
        f"<D:locktoken><D:href>{escape(lock.token)}</D:href></D:locktoken>"
        f"<D:lockroot><D:href>{escape(href_for(segments, collection=False))}</D:href></D:lockroot>"
        "</D:activelock>"
    )


def _lock_response(lock: Lock, status: int, path: DavPath) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<D:prop xmlns:D="DAV:"><D:lockdiscovery>{_activelock(lock)}</D:lockdiscovery></D:prop>'
    )
    return Response(
        body, status_code=status, media_type=_XML, headers={"Lock-Token": f"<{lock.token}>"}
    )


def options_response() -> Response:
    return Response(
        status_code=200,
        headers={
            "DAV": "1, 2",
            "MS-Author-Via": "DAV",
            "Allow": _ALLOW,
            "Accept-Ranges": "bytes",
            "Content-Length": "0",
        },
    )


def _plain(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        reason + "\n", status_code=status, media_type="text/plain; charset=utf-8", headers=headers
    )


def _error_response(error: DavError) -> Response:
    if error.condition:
        return Response(
            davxml.error_body(error.condition),
            status_code=error.status,
            media_type=_XML,
            headers=error.headers,
        )
    return _plain(error.status, error.reason, error.headers)


def _content_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None or "chunked" in request.headers.get("transfer-encoding", "").lower():
        return None
    try:
        size = int(declared)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if size < 0:
        raise BadRequest("invalid Content-Length")
    return size


def _upload_mime(name: str, declared: str | None) -> str | None:
    """The name decides (clients send junk types), unless it says nothing."""
    from roost.vfs.mime import DEFAULT_MIME, guess_mime

    guessed = guess_mime(name)
    if guessed == DEFAULT_MIME and declared:
        declared = declared.split(";")[0].strip().lower()
        if "/" in declared and len(declared) < 128:
            return declared
    return guessed


def _win32_time(text: str) -> str | None:
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _conditional(request: Request, doc: FileDoc) -> int | None:
    """304/412 from If-None-Match, If-Match, If-Modified-Since; None to go on."""
    if_match = request.headers.get("if-match")
    if (
        if_match
        and if_match.strip() != "*"
        and not any(etags_match(tag, doc.etag) for tag in if_match.split(","))
    ):
        raise DavError(412, "If-Match does not match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match:
        if if_none_match.strip() == "*" or any(
            etags_match(tag, doc.etag) for tag in if_none_match.split(",")
        ):
            return 304
        return None
    since = request.headers.get("if-modified-since")
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if doc.updated_datetime.replace(microsecond=0) <= moment:
            return 304
    return None


def _check_write_preconditions(request: Request, doc: FileDoc | None) -> None:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and if_none_match.strip() == "*" and doc is not None:
        raise DavError(412, "the resource exists (If-None-Match: *)")
    if_match = request.headers.get("if-match")
    if if_match:
        if doc is None:
            raise DavError(412, "the resource does not exist (If-Match)")
        if if_match.strip() != "*" and not any(
            etags_match(tag, doc.etag) for tag in if_match.split(",")
        ):
            raise DavError(412, "If-Match does not match")


__all__ = ["DAV_METHODS", "DavServer", "options_response"]
