"""The real ``http.fetch``: the only way out of the sandbox.

For every hop (the first request and each redirect) the fetcher:

1. checks the URL against the grant's ``egress`` patterns (``roost.permissions.egress_allows``);
2. resolves the host name itself and refuses loopback, private, link-local, multicast,
   reserved and cloud-metadata addresses - unless the operator allow-lists the host name
   (metadata addresses stay refused even then);
3. connects to the address it checked (the IP is pinned in the URL; the ``Host`` header and
   TLS SNI/certificate check use the original name), so a second DNS answer cannot differ;
4. caps the response body and the total time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from roost.apps.services import EgressDenied, FetchRequest, FetchResponse, ServiceError, TooLarge
from roost.permissions import egress_allows
from roost.permissions.egress import parse_url_origin

__all__ = ["EgressFetcher", "EgressPolicy", "address_refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def _embedded_v4(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def address_refusal(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why ``ip`` may not be contacted, or None. ``allow_private`` lifts all but metadata."""
    inner = _embedded_v4(ip)
    if ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if allow_private:
        return None
    for candidate in (inner, ip) if inner != ip else (ip,):
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.is_unspecified:
            return "an unspecified address"
        if candidate.is_private:
            return "a private address"
        if candidate.is_reserved or not candidate.is_global:
            return "a non-public address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Operator settings (config ``apps.egress_*``)."""

    #: Host names (lower case) allowed to resolve to loopback/private addresses (tests, LAN).
    allow_private_hosts: frozenset[str] = frozenset()
    max_response_bytes: int = 10 * 1024 * 1024
    timeout_seconds: float = 20.0
    max_redirects: int = 5


async def _system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class EgressFetcher:
    """An :class:`~roost.apps.services.HttpFetcher` enforcing egress rules and address checks."""

    def __init__(
        self,
        policy: EgressPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self.policy = policy or EgressPolicy()
        self.resolver = resolver or _system_resolver
        self.verify = verify

    @classmethod
    def allowing(cls, hosts: Collection[str], **kwargs: object) -> EgressFetcher:
        """Shortcut: a default policy with ``hosts`` allow-listed for private addresses."""
        policy = EgressPolicy(allow_private_hosts=frozenset(h.lower() for h in hosts))
        return cls(policy, **kwargs)  # type: ignore[arg-type]

    async def _pick_address(self, host: str, port: int) -> str:
        allow_private = host.strip("[]").lower() in self.policy.allow_private_hosts
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [str(literal)]
        else:
            try:
                candidates = await self.resolver(host, port)
            except OSError as exc:
                raise ServiceError(f"cannot resolve {host}: {exc}", code="fetch_failed") from None
            if not candidates:
                raise ServiceError(f"cannot resolve {host}", code="fetch_failed")
        # Every answer must be acceptable: a name with one private answer is refused whole.
        for text in candidates:
            ip = ipaddress.ip_address(text.split("%")[0])
            why = address_refusal(ip, allow_private=allow_private)
            if why is not None:
                if literal is not None:
                    raise EgressDenied(f"{host} is {why}: refused")
                raise EgressDenied(f"{host} resolves to {ip}, {why}: refused")
        return candidates[0]

    async def fetch(self, request: FetchRequest, egress: Sequence[str]) -> FetchResponse:
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                return await self._fetch(request, egress)
        except TimeoutError:
            raise ServiceError(
                f"no complete answer within {self.policy.timeout_seconds:g} s", code="timeout"
            ) from None

    async def _fetch(self, request: FetchRequest, egress: Sequence[str]) -> FetchResponse:
        method, url, body = request.method.upper(), request.url, request.body
        headers = list(request.headers)
        hosts: list[str] = []
        bytes_out = 0
        first_origin = parse_url_origin(url)
        async with httpx.AsyncClient(
            trust_env=False,
            follow_redirects=False,
            verify=self.verify,
            timeout=httpx.Timeout(self.policy.timeout_seconds),
        ) as client:
            for _hop in range(self.policy.max_redirects + 1):
                origin = parse_url_origin(url)
                if origin is None:
                    raise EgressDenied(f"{url!r} is not an absolute http(s) URL")
                if not egress_allows(egress, url):
                    what = "redirect target" if hosts else "URL"
                    raise EgressDenied(f"{what} {origin} is not in the app's egress list")
                address = await self._pick_address(origin.host, origin.port)
                hosts.append(origin.host)
                target = httpx.URL(url)
                pinned = target.copy_with(host=address)
                default_port = 443 if origin.scheme == "https" else 80
                bare = f"[{target.host}]" if ":" in target.host else target.host
                host_header = bare if origin.port == default_port else f"{bare}:{origin.port}"
                send_headers = [(k, v) for k, v in headers if k.lower() != "host"]
                send_headers.append(("Host", host_header))
                extensions = {"sni_hostname": target.host} if origin.scheme == "https" else {}
                req = client.build_request(
                    method,
                    pinned,
                    headers=send_headers,
                    content=body or None,
                    extensions=extensions,
                )
                bytes_out += len(body)
                try:
                    resp = await client.send(req, stream=True)
                except httpx.HTTPError as exc:
                    raise ServiceError(
                        f"{origin}: {type(exc).__name__}: {exc}", code="fetch_failed"
                    ) from None
                try:
                    location = resp.headers.get("location")
                    if resp.status_code in REDIRECT_CODES and location:
                        next_url = urljoin(url, location)
                        if resp.status_code == 303 or (
                            resp.status_code in (301, 302) and method == "POST"
                        ):
                            method, body = "GET", b""
                        next_origin = parse_url_origin(next_url)
                        if next_origin != origin:
                            headers = [
                                (k, v) for k, v in headers if k.lower() not in SENSITIVE_HEADERS
                            ]
                        url = next_url
                        continue
                    data = await self._read_capped(resp)
                    return FetchResponse(
                        status=resp.status_code,
                        headers=tuple((k, v) for k, v in resp.headers.items()),
                        body=data,
                        url=url,
                        hosts=tuple(hosts),
                        bytes_out=bytes_out,
                    )
                finally:
                    await resp.aclose()
        raise ServiceError(
            f"more than {self.policy.max_redirects} redirects from {first_origin}",
            code="fetch_failed",
        )

    async def _read_capped(self, resp: httpx.Response) -> bytes:
        cap = self.policy.max_response_bytes
        declared = resp.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"the response is {declared} bytes, over the {cap}-byte cap")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise TooLarge(f"the response is over the {cap}-byte cap")
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise ServiceError(f"reading the response failed: {exc}", code="fetch_failed") from None
        return b"".join(chunks)
