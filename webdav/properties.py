"""Properties: the live ones computed for PROPFIND, and dead ones stored by PROPPATCH."""

from __future__ import annotations

import base64
from typing import TypeVar
from xml.sax.saxutils import escape

from starlette.responses import Response

from . import davxml
from .access import allow
from .call import Call
from .conditions import check_if, check_locks
from .dates import created_datetime, dates, http_date, iso_date, updated_datetime, win32_time
from .davxml import DAV, MS_NS, OC_NS, clark
from .errors import XML, DavError
from .locks import Lock
from .paths import href_for
from .ports import Entry

I = TypeVar("I")  # noqa: E741

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
# Live properties a PROPPATCH may not set: every allprop one but the display name, and the
# computed quota, checksum and size ones.
_PROTECTED = (frozenset(_ALLPROP) - {_DISPLAYNAME}) | {
    _QUOTA_USED,
    _QUOTA_AVAILABLE,
    _OC_CHECKSUMS,
    _OC_SIZE,
}
_SUPPORTEDLOCK_XML = (
    "<D:supportedlock>"
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry></D:supportedlock>"
)


class PropRenderer:
    """Writes the `<D:response>` of each resource of a PROPFIND."""

    def __init__(self, wanted: davxml.PropfindRequest) -> None:
        self.wanted = wanted
        self.locks: list[Lock] = []
        self.quota_used: int | None = None
        self.quota_available: int | None = None

    async def prepare(self, call: Call[I]) -> None:
        """Read once what some property of some entry needs (locks, usage)."""
        names = set(self.wanted.names)
        if self.wanted.mode == "allprop" or _LOCKDISCOVERY in names:
            self.locks = await call.all_locks()
        if names & {_QUOTA_USED, _QUOTA_AVAILABLE}:
            usage = await call.tree.usage(call.instance)
            self.quota_used = usage.used
            self.quota_available = usage.available

    def response(self, entry: Entry, segments: tuple[str, ...]) -> str:
        if self.wanted.mode == "allprop" and not self.wanted.names and not self.locks:
            return self._allprop(entry, segments)
        href = href_for(segments, collection=entry.is_dir)
        found: list[str] = []
        missing: list[str] = []
        mode = self.wanted.mode
        dead = entry.dav_properties
        if mode == "propname":
            names = [n for n in _ALLPROP if self._live(n, entry, segments) is not None]
            names.extend(dead)
            found = [davxml.open_tag(name, empty=True) for name in names]
        else:
            names = list(_ALLPROP) + list(dead) if mode == "allprop" else []
            names.extend(name for name in self.wanted.names if name not in names)
            for name in names:
                value = dead.get(name) if name in dead else self._live(name, entry, segments)
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

    def _allprop(self, entry: Entry, segments: tuple[str, ...]) -> str:
        """The common case (what Windows, rclone and file managers ask), in one string: a
        2,000-entry listing must not cost tens of function calls per entry."""
        http, updated = dates(entry.updated_at)
        if entry.created_at and entry.created_at != entry.updated_at:
            _, created = dates(entry.created_at)
        else:
            created = updated  # an upload's two dates are usually one
        if entry.is_dir:
            kind = "<D:resourcetype><D:collection/></D:resourcetype>"
        else:
            kind = (
                f"<D:resourcetype/><D:getcontentlength>{entry.size}</D:getcontentlength>"
                f"<D:getcontenttype>{escape(entry.mime)}</D:getcontenttype>"
            )
        extra = "".join(entry.dav_properties.values())
        return (
            f"<D:response><D:href>{escape(href_for(segments, collection=entry.is_dir))}</D:href>"
            f"<D:propstat><D:prop>{kind}<D:getetag>{escape(entry.etag)}</D:getetag>"
            f"<D:getlastmodified>{http}</D:getlastmodified>"
            f"<D:creationdate>{created}</D:creationdate>"
            f"<D:displayname>{escape(entry.name)}</D:displayname>"
            f"{_SUPPORTEDLOCK_XML}<D:lockdiscovery/>{extra}</D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        )

    def _live(self, name: str, entry: Entry, segments: tuple[str, ...]) -> str | None:
        if name == _RESOURCETYPE:
            return (
                "<D:resourcetype><D:collection/></D:resourcetype>"
                if entry.is_dir
                else "<D:resourcetype/>"
            )
        if name == _ETAG:
            return f"<D:getetag>{escape(entry.etag)}</D:getetag>"
        if name == _LASTMODIFIED:
            return f"<D:getlastmodified>{http_date(updated_datetime(entry))}</D:getlastmodified>"
        if name == _CREATIONDATE:
            return f"<D:creationdate>{iso_date(created_datetime(entry))}</D:creationdate>"
        if name == _DISPLAYNAME:
            return f"<D:displayname>{escape(entry.name)}</D:displayname>"
        if name == _SUPPORTEDLOCK:
            return _SUPPORTEDLOCK_XML
        if name == _LOCKDISCOVERY:
            path = "/" + "/".join(segments)
            active = [lock for lock in self.locks if lock.covers(path)]
            return (
                "<D:lockdiscovery>"
                + "".join(activelock(lock) for lock in active)
                + ("</D:lockdiscovery>")
            )
        if not entry.is_dir:
            if name == _CONTENTLENGTH:
                return f"<D:getcontentlength>{entry.size}</D:getcontentlength>"
            if name == _CONTENTTYPE:
                return f"<D:getcontenttype>{escape(entry.mime)}</D:getcontenttype>"
            if name == _OC_CHECKSUMS and entry.md5sum:
                md5_hex = base64.b64decode(entry.md5sum).hex()
                return f"<oc:checksums><oc:checksum>MD5:{md5_hex}</oc:checksum></oc:checksums>"
            if name == _OC_SIZE:
                return f"<oc:size>{entry.size}</oc:size>"
        elif name in (_QUOTA_USED, _QUOTA_AVAILABLE):
            value = self.quota_used if name == _QUOTA_USED else self.quota_available
            if value is None:
                return None
            tag = "quota-used-bytes" if name == _QUOTA_USED else "quota-available-bytes"
            return f"<D:{tag}>{value}</D:{tag}>"
        return None


def activelock(lock: Lock) -> str:
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


async def proppatch(call: Call[I]) -> Response:
    body = await call.read_xml()
    entry = await call.resolve(call.path)
    if entry is None:
        raise DavError(404, "not found")
    await allow(call, "PUT", entry)
    await check_locks(call, [call.path])
    await check_if(call)
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
                    mtime = win32_time(davxml.element_text(update.element))
            else:
                set_properties.pop(update.name, None)
                removed.append(update.name)
            statuses.append((update.name, 200))
        updated = await call.tree.set_dead_properties(
            call.instance, entry, set_properties=set_properties, remove=removed
        )
        if mtime is not None:
            # Windows Explorer sends the file's real mtime this way after an upload.
            await call.tree.set_updated_at(call.instance, updated, mtime)
    by_status: dict[int, list[str]] = {}
    for name, status in statuses:
        by_status.setdefault(status, []).append(davxml.open_tag(name, empty=True))
    href = call.path.href(collection=entry.is_dir)
    body_xml = (
        davxml.MULTISTATUS_OPEN
        + f"<D:response><D:href>{escape(href)}</D:href>"
        + "".join(davxml.propstat(props, status) for status, props in by_status.items())
        + "</D:response>"
        + davxml.MULTISTATUS_CLOSE
    )
    return Response(body_xml, status_code=207, media_type=XML)
