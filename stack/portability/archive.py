"""The export archive: a tar (optionally gzip) of NDJSON documents, file bytes and a manifest.

Members, in this order:

    documents/{database}.ndjson   one line per leaf revision: the document with `_revisions`
    blobs/{file_id}/{internal_id} the bytes of a file's content or of one of its versions
    manifest.json                 last: format, counts, and the size and SHA-256 of every member

`{database}` is the database name without the instance prefix (`io-cozy-contacts`), so an
import writes to exactly the same doctype database of another instance.

The reader never trusts the archive: names are checked against the three shapes above (no
absolute paths, no `..`, nothing but regular files), sizes are capped, and every member's
size and SHA-256 are compared with the manifest, which must come last and list exactly the
members seen. `ArchiveRejected` says why in one line.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from roost.portability.errors import ArchiveRejected

FORMAT = "roost-export"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
# A document line larger than CouchDB would store (8 MiB by default, attachments inline
# base64 included) is not something an export of ours can hold.
MAX_LINE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_MEMBER_BYTES = 64 * 1024**3
_CHUNK = 1024 * 1024

_DATABASE = re.compile(r"^[a-z][a-z0-9_$()+-]{0,200}$")
_BLOB_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REV = re.compile(r"^([1-9][0-9]{0,9})-([0-9A-Za-z]{1,64})$")


def documents_member(database: str) -> str:
    return f"documents/{database}.ndjson"


def blob_member(file_id: str, internal_id: str) -> str:
    return f"blobs/{file_id}/{internal_id}"


def is_gzip_name(path: Path) -> bool:
    return path.name.endswith((".gz", ".tgz"))


@dataclass(frozen=True)
class MemberName:
    """A checked member name: `kind` is "documents", "blob" or "manifest"."""

    kind: str
    database: str = ""
    file_id: str = ""
    internal_id: str = ""


def parse_member_name(name: str) -> MemberName:
    """The meaning of a member name, or ArchiveRejected (path traversal included)."""
    if name.startswith("/") or "\\" in name or "\0" in name:
        raise ArchiveRejected(f"unsafe member name {name[:80]!r}")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveRejected(f"unsafe member name {name[:80]!r}")
    if name == MANIFEST_NAME:
        return MemberName("manifest")
    if len(parts) == 2 and parts[0] == "documents" and parts[1].endswith(".ndjson"):
        database = parts[1][: -len(".ndjson")]
        if _DATABASE.match(database):
            return MemberName("documents", database=database)
    if (
        len(parts) == 3
        and parts[0] == "blobs"
        and all(_BLOB_PART.match(p) and ".." not in p for p in parts[1:])
    ):
        return MemberName("blob", file_id=parts[1], internal_id=parts[2])
    raise ArchiveRejected(f"unexpected member {name[:80]!r}: not part of a Roost export")


def check_document_line(line: bytes, where: str) -> dict[str, Any]:
    """One NDJSON line: a document with `_id`, `_rev` and a `_revisions` that agrees."""
    try:
        doc = json.loads(line)
    except ValueError:
        raise ArchiveRejected(f"{where}: a line is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ArchiveRejected(f"{where}: a line is not a JSON object")
    doc_id, rev, revisions = doc.get("_id"), doc.get("_rev"), doc.get("_revisions")
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > 512:
        raise ArchiveRejected(f"{where}: a document has no valid _id")
    # Design documents run JavaScript inside the store: an archive never installs one.
    if doc_id.startswith("_"):
        raise ArchiveRejected(f"{where}: the reserved id {doc_id[:40]!r} cannot be imported")
    match = _REV.match(rev) if isinstance(rev, str) else None
    if match is None:
        raise ArchiveRejected(f"{where}: document {doc_id[:40]!r} has no valid _rev")
    if (
        not isinstance(revisions, dict)
        or revisions.get("start") != int(match.group(1))
        or not isinstance(revisions.get("ids"), list)
        or not revisions["ids"]
        or revisions["ids"][0] != match.group(2)
        or len(revisions["ids"]) > revisions["start"]
        or not all(isinstance(i, str) and i for i in revisions["ids"])
    ):
        raise ArchiveRejected(
            f"{where}: document {doc_id[:40]!r} has a _revisions that does not match its _rev"
        )
    if doc.get("_deleted"):
        raise ArchiveRejected(f"{where}: document {doc_id[:40]!r} is a deletion")
    return doc


# -- the manifest ------------------------------------------------------------------------


@dataclass
class ManifestMember:
    name: str
    size: int
    sha256: str
    documents: int | None = None  # lines of a documents member


@dataclass
class Manifest:
    domain: str
    created_at: str
    members: list[ManifestMember] = field(default_factory=list)

    def by_name(self) -> dict[str, ManifestMember]:
        return {member.name: member for member in self.members}

    def to_json(self) -> dict[str, Any]:
        documents = {
            parse_member_name(m.name).database: m.documents
            for m in self.members
            if m.documents is not None
        }
        blobs = [m for m in self.members if m.name.startswith("blobs/")]
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "domain": self.domain,
            "created_at": self.created_at,
            "counts": {
                "documents": documents,
                "blobs": len(blobs),
                "blob_bytes": sum(m.size for m in blobs),
            },
            "members": [
                {"name": m.name, "size": m.size, "sha256": m.sha256}
                | ({"documents": m.documents} if m.documents is not None else {})
                for m in self.members
            ],
        }

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except ValueError:
            raise ArchiveRejected("the manifest is not valid JSON") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArchiveRejected("this is not a Roost export (the manifest names no format)")
        if data.get("version") != FORMAT_VERSION:
            raise ArchiveRejected(f"unsupported export version {data.get('version')!r}")
        members = data.get("members")
        if not isinstance(members, list):
            raise ArchiveRejected("the manifest lists no members")
        manifest = cls(domain=str(data.get("domain", "")), created_at=str(data.get("created_at")))
        for entry in members:
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("name"), str)
                or not isinstance(entry.get("size"), int)
                or not isinstance(entry.get("sha256"), str)
            ):
                raise ArchiveRejected("the manifest has a malformed member entry")
            count = entry.get("documents")
            if count is not None and (not isinstance(count, int) or count < 0):
                raise ArchiveRejected("the manifest has a malformed document count")
            manifest.members.append(
                ManifestMember(entry["name"], entry["size"], entry["sha256"], count)
            )
        return manifest


_DAMAGED = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError)


# -- writing -----------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """Reads a file while hashing it (tarfile copies members through `read`)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.source.read(len(buffer))
        except _DAMAGED as error:
            raise ArchiveRejected(
                f"the archive is truncated or damaged ({_short(error)})"
            ) from None
        buffer[: len(data)] = data
        self.sha256.update(data)
        return len(data)


class ArchiveWriter:
    """Writes members one after the other into `{path}.part`, renamed into place by `finish`.

    Blocking (tarfile and disk); the exporter calls it from a worker thread.
    """

    def __init__(self, path: Path, *, domain: str, created_at: str) -> None:
        self.path = path
        self.temp = path.with_name(path.name + ".part")
        self._file: BinaryIO = open(self.temp, "wb")
        # zlib's default level: tarfile's stream mode would use 9, several times slower
        # for a few percent (photos and videos do not compress anyway).
        self._gzip = (
            gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=6)
            if is_gzip_name(path)
            else None
        )
        self._tar = tarfile.open(
            fileobj=self._gzip or self._file, mode="w|", format=tarfile.PAX_FORMAT
        )
        self.manifest = Manifest(domain=domain, created_at=created_at)

    def add_file(self, name: str, source: Path, *, documents: int | None = None) -> None:
        parse_member_name(name)
        size = source.stat().st_size
        info = self._info(name, size)
        with open(source, "rb") as handle:
            reader = _HashingReader(handle)
            self._tar.addfile(info, reader)
        self.manifest.members.append(
            ManifestMember(name, size, reader.sha256.hexdigest(), documents)
        )

    def finish(self) -> Manifest:
        raw = json.dumps(self.manifest.to_json(), indent=1, sort_keys=True).encode()
        self._tar.addfile(self._info(MANIFEST_NAME, len(raw)), io.BytesIO(raw))
        self._tar.close()
        if self._gzip is not None:
            self._gzip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.temp.replace(self.path)
        return self.manifest

    def abort(self) -> None:
        for closable in (self._tar, self._gzip, self._file):
            with contextlib.suppress(Exception):
                if closable is not None:
                    closable.close()
        self.temp.unlink(missing_ok=True)

    @staticmethod
    def _info(name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o600
        info.mtime = int(time.time())
        return info


# -- reading -----------------------------------------------------------------------------


@dataclass
class Member:
    """One member being read: read its bytes from `stream` (hashed on the way)."""

    name: str
    meaning: MemberName
    size: int
    stream: _HashingReader
    expected: ManifestMember | None = None

    def check(self) -> None:
        """Read to the end and compare with the expected manifest entry (if any): call it
        before acting on what was read."""
        while self.stream.read(_CHUNK):
            pass
        if self.expected is not None:
            actual = ManifestMember(self.name, self.size, self.stream.sha256.hexdigest())
            _compare(actual, self.expected)


class ArchiveReader:
    """Iterate to get every member but the manifest, checked; at the end of the iteration
    all of them are checked against the manifest, then available as `manifest`.

    The caller reads each member's `stream` (what it leaves unread is read here, to hash
    it) and must treat nothing as verified until the iteration ends without ArchiveRejected.
    With `expected` (the manifest of an earlier, complete pass), `Member.check()` compares
    a member with it as soon as it has been read.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
        expected: Manifest | None = None,
    ) -> None:
        self.path = path
        self.max_member_bytes = max_member_bytes
        self.expected = expected
        self.manifest: Manifest | None = None

    def __iter__(self) -> Iterator[Member]:
        path, max_member_bytes, expected = self.path, self.max_member_bytes, self.expected
        seen: dict[str, ManifestMember] = {}
        manifest: Manifest | None = None
        expected_members = expected.by_name() if expected is not None else {}
        try:
            tar = tarfile.open(path, mode="r|*")
        except FileNotFoundError:
            raise ArchiveRejected(f"no such file: {path}") from None
        except _DAMAGED as error:
            raise ArchiveRejected(f"not a readable tar archive ({_short(error)})") from None
        try:
            with tar:
                while True:
                    try:
                        info = tar.next()
                    except _DAMAGED as error:
                        raise ArchiveRejected(
                            f"the archive is truncated or damaged ({_short(error)})"
                        ) from None
                    if info is None:
                        break
                    meaning = parse_member_name(info.name)
                    if not info.isfile():
                        raise ArchiveRejected(
                            f"member {info.name[:80]!r} is not a regular file (links and "
                            "devices are refused)"
                        )
                    if info.name in seen or (manifest is not None):
                        raise ArchiveRejected(
                            f"member {info.name[:80]!r} is duplicated or follows the manifest"
                        )
                    limit = MAX_MANIFEST_BYTES if meaning.kind == "manifest" else max_member_bytes
                    if info.size > limit:
                        raise ArchiveRejected(f"member {info.name[:80]!r} is larger than allowed")
                    try:
                        source = tar.extractfile(info)
                        if source is None:  # pragma: no cover - regular files always have one
                            raise ArchiveRejected(f"member {info.name[:80]!r} cannot be read")
                        stream = _HashingReader(source)
                        if meaning.kind == "manifest":
                            raw = stream.read()
                            if len(raw) != info.size:
                                raise ArchiveRejected("the archive is truncated (in the manifest)")
                            manifest = Manifest.from_json(raw)
                            continue
                        member = Member(
                            info.name, meaning, info.size, stream, expected_members.get(info.name)
                        )
                        if expected is not None and member.expected is None:
                            raise ArchiveRejected(
                                f"member {info.name[:80]!r} is not listed in the manifest"
                            )
                        yield member
                        while stream.read(_CHUNK):
                            pass
                    except _DAMAGED as error:
                        raise ArchiveRejected(
                            f"the archive is truncated or damaged in {info.name[:80]!r} "
                            f"({_short(error)})"
                        ) from None
                    entry = ManifestMember(info.name, info.size, stream.sha256.hexdigest())
                    if expected is not None:
                        _compare(entry, expected_members.get(info.name))
                    seen[info.name] = entry
        except _DAMAGED as error:
            raise ArchiveRejected(
                f"the archive is truncated or damaged ({_short(error)})"
            ) from None
        if manifest is None:
            raise ArchiveRejected("the archive has no manifest (truncated, or not a Roost export)")
        listed = manifest.by_name()
        for name in sorted(set(listed) - set(seen)):
            raise ArchiveRejected(f"member {name[:80]!r} listed in the manifest is missing")
        for name, entry in seen.items():
            _compare(entry, listed.get(name))
        self.manifest = manifest


def _compare(entry: ManifestMember, listed: ManifestMember | None) -> None:
    if listed is None:
        raise ArchiveRejected(f"member {entry.name[:80]!r} is not listed in the manifest")
    if listed.size != entry.size:
        raise ArchiveRejected(
            f"member {entry.name[:80]!r} has {entry.size} bytes, the manifest says {listed.size}"
        )
    if listed.sha256 != entry.sha256:
        raise ArchiveRejected(f"member {entry.name[:80]!r} does not match its SHA-256 checksum")


def iter_lines(raw: io.RawIOBase | IO[bytes], where: str) -> Iterator[bytes]:
    """Non-empty NDJSON lines, each at most MAX_LINE_BYTES (never a whole member in memory)."""
    stream = io.BufferedReader(raw, _CHUNK) if isinstance(raw, io.RawIOBase) else raw
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            raise ArchiveRejected(f"{where}: a line is longer than {MAX_LINE_BYTES} bytes")
        line = line.strip()
        if line:
            yield line


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:120]
