"""Egress patterns: which network origins a connector or app may reach.

A pattern is an origin, `scheme://host[:port]` with scheme `https` (or `http`, meant for local
test servers), no path, query, fragment or credentials. The leftmost label may be `*`:
`https://*.example.org` matches every subdomain of example.org, never example.org itself.
Hosts are compared lower-cased and IDNA-encoded; the default port of the scheme is filled in.
Everything not matched by a pattern is unreachable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import InvalidRule

__all__ = [
    "Origin",
    "egress_allows",
    "egress_subset",
    "normalise_egress_pattern",
    "parse_egress_pattern",
    "parse_url_origin",
    "pattern_covers",
]

DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_FORBIDDEN = re.compile(r"[\s\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Origin:
    """A parsed origin or pattern. For a wildcard pattern `host` is the parent domain."""

    scheme: str
    host: str
    port: int
    wildcard: bool = False

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    @property
    def is_ip(self) -> bool:
        return self.host.startswith("[") or _is_ipv4(self.host)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _normalise_hostname(host: str) -> str:
    """Lower-case, IDNA-encode and check a DNS host name or IP literal. Raises ValueError."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError("unterminated IPv6 literal")
        address = ipaddress.IPv6Address(host[1:-1])
        return f"[{address.compressed}]"
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise ValueError("empty host")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"host is not a valid internationalised name: {exc}") from None
    if len(ascii_host) > 253:
        raise ValueError("host name too long")
    labels = ascii_host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # Looks like an IPv4 address: only the canonical dotted quad is accepted.
        try:
            return str(ipaddress.IPv4Address(ascii_host))
        except ValueError:
            raise ValueError(f"{host!r} looks like an IPv4 address but is not one") from None
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValueError(f"invalid host label {label!r}")
    return ascii_host


def _split_authority(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 literal")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest == "":
            return host, None
        if not rest.startswith(":"):
            raise ValueError("garbage after IPv6 literal")
        return host, rest[1:]
    if ":" in authority:
        host, port = authority.rsplit(":", 1)
        return host, port
    return authority, None


def _parse(text: str, *, pattern: bool) -> Origin:
    if not isinstance(text, str):
        raise ValueError("not a string")
    if _FORBIDDEN.search(text):
        raise ValueError("whitespace, backslashes and control characters are not allowed")
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise ValueError("the scheme must be https:// or http://")
    if pattern:
        if rest.endswith("/"):
            rest = rest[:-1]
        if any(c in rest for c in "/?#"):
            raise ValueError("a pattern is an origin only: no path, query or fragment")
        authority = rest
    else:
        end = len(rest)
        for c in "/?#":
            index = rest.find(c)
            if index >= 0:
                end = min(end, index)
        authority = rest[:end]
    if "@" in authority:
        raise ValueError("credentials (user@) are not allowed")
    host, port_text = _split_authority(authority)
    if port_text is None:
        port = DEFAULT_PORTS[scheme]
    else:
        if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
            raise ValueError(f"invalid port {port_text!r}")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} out of range")
    wildcard = False
    if host.startswith("*."):
        if not pattern:
            raise ValueError("a URL host cannot be a wildcard")
        wildcard = True
        host = host[2:]
    if "*" in host:
        raise ValueError("'*' is only allowed as the whole leftmost label: https://*.example.org")
    normalised = _normalise_hostname(host)
    if wildcard:
        if normalised.startswith("[") or _is_ipv4(normalised):
            raise ValueError("a wildcard cannot apply to an IP address")
        if normalised.count(".") < 1:
            raise ValueError("a wildcard needs a domain with at least two labels (*.example.org)")
    return Origin(scheme, normalised, port, wildcard)


def parse_egress_pattern(pattern: str) -> Origin:
    """Parse an egress pattern, raising `InvalidRule` with the reason."""
    try:
        return _parse(pattern, pattern=True)
    except ValueError as exc:
        raise InvalidRule(f"invalid egress pattern {pattern!r}: {exc}") from None


def normalise_egress_pattern(pattern: str) -> str:
    """The canonical spelling of a pattern (lower-case, IDNA, default port dropped)."""
    return str(parse_egress_pattern(pattern))


def parse_url_origin(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL, or None when it is unusable or has credentials."""
    try:
        return _parse(url, pattern=False)
    except ValueError:
        return None


def _host_matches(pattern: Origin, host: str, *, host_is_ip: bool) -> bool:
    if not pattern.wildcard:
        return host == pattern.host
    return not host_is_ip and host.endswith("." + pattern.host)


def egress_allows(patterns: Sequence[str], url: str) -> bool:
    """Whether `url` may be fetched under `patterns`. Unparseable patterns match nothing."""
    origin = parse_url_origin(url)
    if origin is None:
        return False
    for text in patterns:
        try:
            pattern = _parse(text, pattern=True)
        except ValueError:
            continue
        if (
            pattern.scheme == origin.scheme
            and pattern.port == origin.port
            and _host_matches(pattern, origin.host, host_is_ip=origin.is_ip)
        ):
            return True
    return False


def pattern_covers(parent: str, child: str) -> bool:
    """True when every URL allowed by pattern `child` is allowed by pattern `parent`."""
    try:
        p = _parse(parent, pattern=True)
        c = _parse(child, pattern=True)
    except ValueError:
        return False
    if p.scheme != c.scheme or p.port != c.port:
        return False
    if not c.wildcard:
        return _host_matches(p, c.host, host_is_ip=c.is_ip)
    if not p.wildcard:
        return False
    return c.host == p.host or c.host.endswith("." + p.host)


def egress_subset(child: Iterable[str], parent: Iterable[str]) -> bool:
    parents = list(parent)
    return all(any(pattern_covers(p, c) for p in parents) for c in child)
