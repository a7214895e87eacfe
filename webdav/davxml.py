"""WebDAV XML: safe parsing of request bodies and fast writing of multistatus answers.

Parsing goes through defusedxml with DTDs forbidden: a billion-laughs or external-entity
body fails at its DOCTYPE, before any expansion, so it costs nothing and answers 400.
Answers are written as strings (not element trees): a 2,000-entry PROPFIND is mostly
string joins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from xml.etree.ElementTree import Element, ParseError, tostring
from xml.sax.saxutils import escape, quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .errors import BadRequest

DAV: Final = "DAV:"
MS_NS: Final = "urn:schemas-microsoft-com:"
OC_NS: Final = "http://owncloud.org/ns"


def clark(namespace: str, name: str) -> str:
    """`{namespace}name`, or just `name` for the empty namespace (ElementTree's spelling)."""
    return f"{{{namespace}}}{name}" if namespace else name


def split_clark(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def parse_body(body: bytes) -> Element | None:
    """The root element of an XML body; None for an empty body; BadRequest if unsafe/invalid."""
    if not body.strip():
        return None
    try:
        root: Element = fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as error:
        raise BadRequest(f"the XML body is refused: {type(error).__name__}") from None
    except (ParseError, ValueError, SyntaxError) as error:
        raise BadRequest(f"the XML body is not well-formed: {error}") from None
    return root


@dataclass
class PropfindRequest:
    """What a PROPFIND asks for: `names` listed, all properties, or property names only."""

    mode: str = "allprop"  # "allprop" | "prop" | "propname"
    names: list[str] = field(default_factory=list)  # Clark names, for "prop" (and include)


def parse_propfind(body: bytes) -> PropfindRequest:
    root = parse_body(body)
    if root is None:
        return PropfindRequest()  # RFC 4918 §9.1: an empty body means allprop
    if root.tag != clark(DAV, "propfind"):
        raise BadRequest("a PROPFIND body must be a DAV:propfind element")
    request = PropfindRequest(mode="")
    for child in root:
        if child.tag == clark(DAV, "allprop"):
            request.mode = "allprop"
        elif child.tag == clark(DAV, "propname"):
            request.mode = "propname"
        elif child.tag == clark(DAV, "prop"):
            request.mode = request.mode or "prop"
            request.names.extend(prop.tag for prop in child)
        elif child.tag == clark(DAV, "include"):
            request.names.extend(prop.tag for prop in child)
    if not request.mode:
        raise BadRequest("a DAV:propfind needs DAV:prop, DAV:allprop or DAV:propname")
    return request


@dataclass(frozen=True)
class PropertyUpdate:
    action: str  # "set" | "remove"
    name: str  # Clark name
    element: Element


def parse_proppatch(body: bytes) -> list[PropertyUpdate]:
    root = parse_body(body)
    if root is None or root.tag != clark(DAV, "propertyupdate"):
        raise BadRequest("a PROPPATCH body must be a DAV:propertyupdate element")
    updates: list[PropertyUpdate] = []
    for instruction in root:
        if instruction.tag not in (clark(DAV, "set"), clark(DAV, "remove")):
            continue
        action = "set" if instruction.tag == clark(DAV, "set") else "remove"
        for prop in instruction:
            if prop.tag != clark(DAV, "prop"):
                continue
            updates.extend(PropertyUpdate(action, element.tag, element) for element in prop)
    if not updates:
        raise BadRequest("the DAV:propertyupdate changes nothing")
    return updates


@dataclass(frozen=True)
class LockRequest:
    scope: str  # "exclusive" | "shared"
    owner: str  # the XML inside DAV:owner, kept as written


def parse_lockinfo(root: Element) -> LockRequest:
    if root.tag != clark(DAV, "lockinfo"):
        raise BadRequest("a LOCK body must be a DAV:lockinfo element")
    scope = ""
    owner = ""
    locktype_ok = False
    for child in root:
        if child.tag == clark(DAV, "lockscope"):
            for option in child:
                if option.tag == clark(DAV, "exclusive"):
                    scope = "exclusive"
                elif option.tag == clark(DAV, "shared"):
                    scope = "shared"
        elif child.tag == clark(DAV, "locktype"):
            locktype_ok = any(option.tag == clark(DAV, "write") for option in child)
        elif child.tag == clark(DAV, "owner"):
            owner = serialize_children(child)
    if not scope or not locktype_ok:
        raise BadRequest("a DAV:lockinfo needs a lockscope and the write locktype")
    return LockRequest(scope=scope, owner=owner)


def serialize_element(element: Element) -> str:
    """An element as a self-contained XML fragment (its namespaces declared on it)."""
    text: str = tostring(element, encoding="unicode", short_empty_elements=True)
    return text


def serialize_children(element: Element) -> str:
    parts = [escape(element.text or "")]
    for child in element:
        parts.append(serialize_element(child))
    return "".join(parts)


def element_text(element: Element) -> str:
    return "".join(element.itertext())


# -- writing ------------------------------------------------------------------------------

_PREFIXES = {DAV: "D", MS_NS: "Z", OC_NS: "oc"}


def open_tag(name: str, *, empty: bool = False) -> str:
    """`<D:getetag>` for known namespaces, `<x:foo xmlns:x="…">` for others."""
    namespace, local = split_clark(name)
    end = "/>" if empty else ">"
    if not namespace:
        return f"<{local}{end}"
    prefix = _PREFIXES.get(namespace)
    if prefix is not None:
        return f"<{prefix}:{local}{end}"
    return f"<x:{local} xmlns:x={quoteattr(namespace)}{end}"


def close_tag(name: str) -> str:
    namespace, local = split_clark(name)
    if not namespace:
        return f"</{local}>"
    prefix = _PREFIXES.get(namespace)
    return f"</{prefix}:{local}>" if prefix is not None else f"</x:{local}>"


def text_element(name: str, value: str) -> str:
    return f"{open_tag(name)}{escape(value)}{close_tag(name)}"


MULTISTATUS_OPEN: Final = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    f'<D:multistatus xmlns:D="DAV:" xmlns:Z="{MS_NS}" xmlns:oc="{OC_NS}">'
)
MULTISTATUS_CLOSE: Final = "</D:multistatus>"

STATUS_LINES: Final = {
    200: "HTTP/1.1 200 OK",
    201: "HTTP/1.1 201 Created",
    204: "HTTP/1.1 204 No Content",
    403: "HTTP/1.1 403 Forbidden",
    404: "HTTP/1.1 404 Not Found",
    409: "HTTP/1.1 409 Conflict",
    412: "HTTP/1.1 412 Precondition Failed",
    423: "HTTP/1.1 423 Locked",
    424: "HTTP/1.1 424 Failed Dependency",
    507: "HTTP/1.1 507 Insufficient Storage",
}


def status_line(status: int) -> str:
    return STATUS_LINES.get(status, f"HTTP/1.1 {status} Status")


def propstat(props: list[str], status: int) -> str:
    return (
        f"<D:propstat><D:prop>{''.join(props)}</D:prop>"
        f"<D:status>{status_line(status)}</D:status></D:propstat>"
    )
