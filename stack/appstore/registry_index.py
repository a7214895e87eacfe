"""A registry's index: what ``index.json`` and ``index.sig`` hold (docs/registry.md).

``index.json``::

    {"format": "roost-registry/1", "name": "Roost examples",
     "packages": [{"slug": "doc-stats", "version": "1.0.0", "type": "webapp",
                   "file": "packages/doc-stats-1.0.0.tar.gz", "size": 3412,
                   "sha256": "…", "signature": "<base64>", "manifest": {…}}]}

``index.sig``: ``{"format": "roost-registry-signature/1", "key": "<key id>",
"signature": "<base64 Ed25519 over the exact bytes of index.json>"}``.

Each package's own signature is over :func:`package_statement` (slug, version, checksum), so a
package file can be checked on its own, and the index signature covers the listing and the
manifests the consent page shows before anything is downloaded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from roost.apps.manifest import AppManifest, ManifestError, parse_manifest

__all__ = [
    "INDEX_FORMAT",
    "SIGNATURE_FORMAT",
    "IndexProblem",
    "IndexSignature",
    "PackageEntry",
    "RegistryIndex",
    "package_statement",
    "parse_index",
    "parse_signature",
    "version_key",
]

INDEX_FORMAT: Final = "roost-registry/1"
SIGNATURE_FORMAT: Final = "roost-registry-signature/1"
MAX_PACKAGES: Final = 5000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FILE = re.compile(r"^packages/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.tar\.gz$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class IndexProblem(ValueError):
    """The index or its signature file is malformed; the message says where."""


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Orders ``1.2.3`` versions; a pre-release (``1.2.3-rc1``) comes before its release."""
    match = _VERSION.match(version)
    if match is None:
        return (0, 0, 0, 0, version)
    major, minor, patch, pre = match.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def package_statement(slug: str, version: str, sha256: str) -> bytes:
    """What a package signature signs: its name, its version and its bytes' checksum."""
    return f"roost-package/1\n{slug}\n{version}\n{sha256}\n".encode()


def _b64(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise IndexProblem(f"{where} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise IndexProblem(f"{where} is not valid base64") from None


@dataclass(frozen=True)
class PackageEntry:
    slug: str
    version: str
    type: str
    file: str
    size: int
    sha256: str
    signature: bytes | None
    manifest: AppManifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def description(self) -> tuple[str, ...]:
        return self.manifest.description

    @property
    def statement(self) -> bytes:
        return package_statement(self.slug, self.version, self.sha256)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slug": self.slug,
            "version": self.version,
            "type": self.type,
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
        }
        if self.signature is not None:
            out["signature"] = base64.b64encode(self.signature).decode("ascii")
        out["manifest"] = self.manifest.to_json()
        return out


@dataclass(frozen=True)
class RegistryIndex:
    name: str
    packages: tuple[PackageEntry, ...]

    def latest(self) -> dict[str, PackageEntry]:
        """The newest version of each slug."""
        best: dict[str, PackageEntry] = {}
        for entry in self.packages:
            held = best.get(entry.slug)
            if held is None or version_key(entry.version) > version_key(held.version):
                best[entry.slug] = entry
        return best

    def to_bytes(self) -> bytes:
        """The canonical file: sorted keys, two-space indent, entries by slug then version,
        so building twice from the same packages gives the same bytes (and signature)."""
        packages = sorted(self.packages, key=lambda e: (e.slug, version_key(e.version)))
        body = {
            "format": INDEX_FORMAT,
            "name": self.name,
            "packages": [p.to_json() for p in packages],
        }
        return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _entry(raw: object, where: str) -> PackageEntry:
    if not isinstance(raw, dict):
        raise IndexProblem(f"{where} is not an object")
    slug, version, kind = raw.get("slug"), raw.get("version"), raw.get("type")
    file, size, sha = raw.get("file"), raw.get("size"), raw.get("sha256")
    if not isinstance(file, str) or not _FILE.match(file):
        raise IndexProblem(f"{where}.file must be packages/<name>.tar.gz")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise IndexProblem(f"{where}.size must be a positive integer")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise IndexProblem(f"{where}.sha256 must be 64 lowercase hex digits")
    listed = raw.get("manifest")
    if not isinstance(listed, dict):
        raise IndexProblem(f"{where}.manifest must be an object")
    try:
        manifest = parse_manifest(listed)
    except ManifestError as exc:
        raise IndexProblem(f"{where}.manifest: {exc}") from None
    if (slug, version, kind) != (manifest.slug, manifest.version, manifest.type):
        raise IndexProblem(f"{where}: slug, version and type differ from its manifest's")
    signature = raw.get("signature")
    return PackageEntry(
        slug=manifest.slug,
        version=manifest.version,
        type=manifest.type,
        file=file,
        size=size,
        sha256=sha,
        signature=None if signature is None else _b64(signature, f"{where}.signature"),
        manifest=manifest,
    )


def parse_index(data: bytes) -> RegistryIndex:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise IndexProblem("index.json is not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != INDEX_FORMAT:
        raise IndexProblem(f'index.json must be an object with "format": "{INDEX_FORMAT}"')
    name = raw.get("name")
    packages = raw.get("packages")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise IndexProblem("index.json needs a name of 1-200 characters")
    if not isinstance(packages, list) or len(packages) > MAX_PACKAGES:
        raise IndexProblem(f"index.json needs a list of at most {MAX_PACKAGES} packages")
    entries = tuple(_entry(p, f"packages[{i}]") for i, p in enumerate(packages))
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if (entry.slug, entry.version) in seen:
            raise IndexProblem(f"{entry.slug} {entry.version} is listed twice")
        seen.add((entry.slug, entry.version))
    return RegistryIndex(name=name.strip(), packages=entries)


@dataclass(frozen=True)
class IndexSignature:
    key_id: str
    signature: bytes

    def to_bytes(self) -> bytes:
        body = {
            "format": SIGNATURE_FORMAT,
            "key": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def parse_signature(data: bytes) -> IndexSignature:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise IndexProblem("index.sig is not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != SIGNATURE_FORMAT:
        raise IndexProblem(f'index.sig must be an object with "format": "{SIGNATURE_FORMAT}"')
    key_id = raw.get("key")
    if not isinstance(key_id, str) or not re.fullmatch(r"[0-9a-f]{16}", key_id):
        raise IndexProblem("index.sig names no key id (16 hex digits)")
    return IndexSignature(key_id=key_id, signature=_b64(raw.get("signature"), "index.sig"))
