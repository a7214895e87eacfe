"""One registry, read and checked: a folder or an HTTPS URL holding a signed index.

`Registry.index()` fetches ``index.json`` and ``index.sig`` and accepts the index only when
its signature verifies with a trusted key; `Registry.package(entry)` fetches a package's bytes
and accepts them only when their size, SHA-256 and the package's own signature match the
verified index. Every refusal is a :class:`RegistryRefused` whose message says why in words
a person can act on.

Network registries: ``https://`` only (``http://`` only to a loopback address, for tests and
a registry served on the box itself), a timeout on every request, and size caps read while
streaming, so a hostile server cannot make Roost read more than the cap.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

from roost.appstore.registry_index import (
    IndexProblem,
    PackageEntry,
    RegistryIndex,
    parse_index,
    parse_signature,
)
from roost.appstore.signing import PublicKey, TrustedKeys
from roost.bounded_read import read_at_most

__all__ = ["Registry", "RegistryLimits", "RegistryRefused", "registry_id"]

MAX_SIGNATURE_BYTES: Final = 4096


class RegistryRefused(ValueError):
    """Nothing from this registry (or this package) may be installed; the message says why."""


class _TooLarge(RegistryRefused):
    """A file over its cap (a package over its signed size is a changed package)."""


@dataclass(frozen=True)
class RegistryLimits:
    max_index_bytes: int = 8 * 1024 * 1024
    max_package_bytes: int = 128 * 1024 * 1024
    timeout_seconds: float = 30.0


def registry_id(location: str) -> str:
    """A short, stable name for a registry in URLs, from where it is (not what it says)."""
    return hashlib.sha256(location.encode()).hexdigest()[:12]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_location(location: str) -> None:
    """Refuse a URL that is neither https nor http to a loopback address."""
    if "://" not in location:
        return
    parts = urlsplit(location)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise RegistryRefused(
        f"{location}: a network registry must be https:// (plain http only on this machine)"
    )


class Registry:
    """A registry at ``location`` (a folder path or a URL), checked with ``trusted`` keys."""

    def __init__(
        self,
        location: str,
        trusted: TrustedKeys,
        limits: RegistryLimits | None = None,
        *,
        id: str | None = None,
        cache_seconds: float = 0.0,
    ) -> None:
        self.location = location
        self.trusted = trusted
        self.limits = limits or RegistryLimits()
        self.id = id or registry_id(location)
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, RegistryIndex, PublicKey] | None = None
        self._lock = asyncio.Lock()

    @property
    def is_remote(self) -> bool:
        return "://" in self.location

    # -- fetching ------------------------------------------------------------------------

    async def _read(self, name: str, cap: int, *, missing_ok: bool = False) -> bytes | None:
        if self.is_remote:
            return await self._fetch(name, cap, missing_ok=missing_ok)
        return await asyncio.to_thread(self._read_file, name, cap, missing_ok)

    def _read_file(self, name: str, cap: int, missing_ok: bool) -> bytes | None:
        path = Path(self.location) / name
        try:
            with path.open("rb") as fh:
                data = fh.read(cap + 1)
        except FileNotFoundError:
            if missing_ok:
                return None
            raise RegistryRefused(f"the registry {self.location} has no {name}") from None
        except OSError as exc:
            raise RegistryRefused(f"cannot read {path}: {exc.strerror}") from None
        if len(data) > cap:
            raise _TooLarge(f"{name} of {self.location} is larger than {cap} bytes")
        return data

    async def _fetch(self, name: str, cap: int, *, missing_ok: bool) -> bytes | None:
        check_location(self.location)
        base = self.location if self.location.endswith("/") else self.location + "/"
        url = urljoin(base, name)
        timeout = httpx.Timeout(self.limits.timeout_seconds)
        try:
            # No redirects: a registry answers from where it is configured, so an https
            # registry cannot hand the download to a plain-http or private address.
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code == 404 and missing_ok:
                    return None
                if response.status_code != 200:
                    raise RegistryRefused(f"{url} answered {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise _TooLarge(f"{url} is larger than {cap} bytes")
                body = await read_at_most(response.aiter_bytes(), cap)
                if body is None:
                    raise _TooLarge(f"{url} is larger than {cap} bytes")
                return body
        except httpx.TimeoutException:
            raise RegistryRefused(f"{url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise RegistryRefused(f"cannot reach {url}: {type(exc).__name__}") from None

    # -- the verified index ----------------------------------------------------------------

    async def index(self) -> RegistryIndex:
        """The index, its signature checked with a trusted key (cached briefly)."""
        return (await self._verified())[0]

    async def _verified(self) -> tuple[RegistryIndex, PublicKey]:
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_seconds:
                return self._cached[1], self._cached[2]
            index, key = await self._load_index()
            self._cached = (now, index, key)
            return index, key

    async def _load_index(self) -> tuple[RegistryIndex, PublicKey]:
        body = await self._read("index.json", self.limits.max_index_bytes)
        signed = await self._read("index.sig", MAX_SIGNATURE_BYTES, missing_ok=True)
        assert body is not None
        if signed is None:
            raise RegistryRefused(f"the registry {self.location} is not signed")
        try:
            signature = parse_signature(signed)
        except IndexProblem as exc:
            raise RegistryRefused(f"the registry {self.location} is not signed: {exc}") from None
        key = self.trusted.get(signature.key_id)
        if key is None:
            raise RegistryRefused(
                f"the registry {self.location} is signed with key {signature.key_id}, "
                "which this Roost does not trust"
            )
        if not key.verify(signature.signature, body):
            raise RegistryRefused(
                f"the signature of the registry {self.location} does not verify: "
                "its index was changed after signing"
            )
        try:
            return parse_index(body), key
        except IndexProblem as exc:
            raise RegistryRefused(f"the index of {self.location} is malformed: {exc}") from None

    async def package(self, entry: PackageEntry) -> bytes:
        """The package's bytes, refused unless they are exactly what the index signed."""
        what = f"{entry.slug} {entry.version}"
        if entry.signature is None:
            raise RegistryRefused(f"the package {what} is not signed")
        # Package signatures are made with the key that signed the index.
        _, signed_by = await self._verified()
        if not signed_by.verify(entry.signature, entry.statement):
            raise RegistryRefused(f"the signature of the package {what} does not verify")
        if entry.size > self.limits.max_package_bytes:
            raise RegistryRefused(
                f"the package {what} is larger than {self.limits.max_package_bytes} bytes"
            )
        changed = RegistryRefused(
            f"the package {what} does not match its signed checksum: it was changed after signing"
        )
        try:
            data = await self._read(entry.file, entry.size)
        except _TooLarge:
            raise changed from None
        except RegistryRefused as exc:
            raise RegistryRefused(f"the package {what} could not be read: {exc}") from None
        assert data is not None
        digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        if len(data) != entry.size or digest != entry.sha256:
            raise changed
        return data
