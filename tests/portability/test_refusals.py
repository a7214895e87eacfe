"""A truncated, tampered, lying or unsafe archive is refused with one clear reason, before
anything is written: the instance is shown unchanged."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from roost.instances import Instance
from roost.portability import ArchiveRejected, export_instance, import_archive
from roost.portability.archive import DEFAULT_MAX_MEMBER_BYTES
from roost.services import Services
from tests.portability.support import populate, put_contact, put_file, snapshot

NewInstance = Callable[..., Awaitable[Instance]]
Members = list[tuple[tarfile.TarInfo, bytes]]


@pytest.fixture
async def good_archive(services: Services, new_instance: NewInstance, tmp_path: Path) -> Path:
    source = await new_instance("src")
    await populate(services, source, "a")
    archive = tmp_path / "good.tar"
    await export_instance(services.couch, services.vfs, source, archive)
    return archive


@pytest.fixture
async def target(services: Services, new_instance: NewInstance) -> Instance:
    instance = await new_instance("dst")
    await put_contact(services, instance, "mine", {"fn": "Mine"})
    await put_file(services, instance, "/", "report.pdf", b"mine")
    return instance


def _members(archive: Path) -> Members:
    members: Members = []
    with tarfile.open(archive) as tar:
        for info in tar:
            content = tar.extractfile(info)
            assert content is not None, f"{info.name}: an export holds regular files only"
            members.append((info, content.read()))
    return members


def _write(path: Path, members: Members) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _manifest(members: Members) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(members[-1][1])
    return manifest


async def _refused(
    services: Services,
    target: Instance,
    archive: Path,
    reason: str,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> None:
    before = await snapshot(services, target)
    for dry_run in (True, False):
        with pytest.raises(ArchiveRejected, match=reason) as refused:
            await import_archive(
                services.couch,
                services.vfs,
                target,
                archive,
                dry_run=dry_run,
                max_member_bytes=max_member_bytes,
            )
        assert "\n" not in refused.value.reason
    assert await snapshot(services, target) == before


async def test_a_truncated_archive_is_refused(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path
) -> None:
    data = await asyncio.to_thread(good_archive.read_bytes)
    inside_manifest = data.rindex(b'"format"') + 10
    for cut in (len(data) // 3, inside_manifest, 700):
        truncated = tmp_path / f"cut{cut}.tar"
        truncated.write_bytes(data[:cut])
        await _refused(services, target, truncated, "truncated|no manifest|damaged")
    compressed = tmp_path / "good.tar.gz"
    await export_instance(services.couch, services.vfs, target, compressed)
    half = tmp_path / "half.tar.gz"
    half.write_bytes(compressed.read_bytes()[: compressed.stat().st_size // 2])
    await _refused(services, target, half, "truncated|damaged")


async def test_a_tampered_member_is_refused_by_its_checksum(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path
) -> None:
    members = _members(good_archive)
    index = next(
        i for i, (info, data) in enumerate(members) if info.name.startswith("blobs/") and data
    )
    info, data = members[index]
    members[index] = (info, bytes([data[0] ^ 1]) + data[1:])
    tampered = _write(tmp_path / "tampered.tar", members)
    await _refused(services, target, tampered, "does not match its SHA-256")

    members = _members(good_archive)
    index = next(i for i, (info, _) in enumerate(members) if "contacts" in info.name)
    info, data = members[index]
    members[index] = (info, data.replace(b"Shared a", b"Shared b"))
    await _refused(services, target, _write(tmp_path / "doc.tar", members), "SHA-256")


async def test_a_manifest_that_lies_is_refused(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path
) -> None:
    members = _members(good_archive)
    manifest = _manifest(members)
    for entry in manifest["members"]:
        if entry["name"] == "documents/io-cozy-contacts.ndjson":
            entry["documents"] += 1
    members[-1] = (members[-1][0], json.dumps(manifest).encode())
    await _refused(
        services,
        target,
        _write(tmp_path / "count.tar", members),
        "holds 4 documents, the manifest says 5",
    )

    members = _members(good_archive)
    manifest = _manifest(members)
    manifest["members"] = manifest["members"][1:]  # a member the manifest does not list
    members[-1] = (members[-1][0], json.dumps(manifest).encode())
    await _refused(services, target, _write(tmp_path / "unlisted.tar", members), "not listed")

    members = _members(good_archive)
    manifest = _manifest(members)
    manifest["members"].append({"name": "blobs/x/y", "size": 1, "sha256": "0" * 64})
    members[-1] = (members[-1][0], json.dumps(manifest).encode())
    await _refused(services, target, _write(tmp_path / "extra.tar", members), "is missing")

    members = _members(good_archive)
    no_manifest = _write(tmp_path / "none.tar", members[:-1])
    await _refused(services, target, no_manifest, "no manifest")

    members = _members(good_archive)
    first = next(i for i, (info, _) in enumerate(members) if info.name.startswith("blobs/"))
    # A blob a file document needs, removed from the archive and from the manifest.
    manifest = _manifest(members)
    name = members[first][0].name
    manifest["members"] = [m for m in manifest["members"] if m["name"] != name]
    del members[first]
    members[-1] = (members[-1][0], json.dumps(manifest).encode())
    await _refused(
        services, target, _write(tmp_path / "blobless.tar", members), "are not in the archive"
    )


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "/etc/evil", "blobs/../../evil", "documents/../x.ndjson", "blobs/a/b/c"],
)
async def test_unsafe_member_names_are_refused(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path, name: str
) -> None:
    members = _members(good_archive)
    evil = tarfile.TarInfo(name)
    members.insert(0, (evil, b"owned"))
    await _refused(services, target, _write(tmp_path / "evil.tar", members), "unsafe|unexpected")
    assert not (tmp_path / "evil.txt").exists()


async def test_links_devices_and_oversize_members_are_refused(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path
) -> None:
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.DIRTYPE):
        members = _members(good_archive)
        odd = tarfile.TarInfo("blobs/aa/bb")
        odd.type = kind
        odd.linkname = "/etc/passwd"
        members.insert(0, (odd, b""))
        await _refused(
            services, target, _write(tmp_path / "odd.tar", members), "not a regular file"
        )
    await _refused(services, target, good_archive, "larger than allowed", max_member_bytes=1024)


async def test_a_design_document_is_refused(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path
) -> None:
    members = _members(good_archive)
    index = next(i for i, (info, _) in enumerate(members) if "contacts" in info.name)
    info, data = members[index]
    design = {
        "_id": "_design/evil",
        "_rev": "1-" + "a" * 32,
        "_revisions": {"start": 1, "ids": ["a" * 32]},
        "validate_doc_update": "function () {}",
    }
    members[index] = (info, data + json.dumps(design).encode() + b"\n")
    await _refused(services, target, _write(tmp_path / "design.tar", members), "reserved id")


async def test_not_an_archive_is_refused(
    services: Services, target: Instance, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a tar file at all" * 40)
    await _refused(services, target, junk, "not a readable tar archive|damaged|no manifest")


def _replace(members: Members, name: str, data: bytes) -> Members:
    """Change one member and make the manifest agree: only the content's own claims lie."""
    index = next(i for i, (info, _) in enumerate(members) if info.name == name)
    members[index] = (members[index][0], data)
    manifest = _manifest(members)
    for entry in manifest["members"]:
        if entry["name"] == name:
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    members[-1] = (members[-1][0], json.dumps(manifest).encode())
    return members


async def test_documents_are_checked_like_any_write(
    services: Services, target: Instance, good_archive: Path, tmp_path: Path
) -> None:
    members = _members(good_archive)
    name = "documents/io-cozy-contacts.ndjson"
    data = dict(members)[next(info for info, _ in members if info.name == name)]
    invalid = {
        "_id": "bad",
        "_rev": "1-" + "b" * 32,
        "_revisions": {"start": 1, "ids": ["b" * 32]},
        "fullname": 42,
    }
    manifest = _manifest(members)
    for entry in manifest["members"]:
        if entry["name"] == name:
            entry["documents"] += 1
    members[-1] = (members[-1][0], json.dumps(manifest).encode())
    lying = _replace(members, name, data + json.dumps(invalid).encode() + b"\n")
    await _refused(
        services, target, _write(tmp_path / "schema.tar", lying), "not a valid io.cozy.contacts"
    )

    members = _members(good_archive)
    name = "documents/io-cozy-files.ndjson"
    data = dict(members)[next(info for info, _ in members if info.name == name)]
    lines = [json.loads(line) for line in data.splitlines()]
    report = next(doc for doc in lines if doc.get("name") == "report.pdf")
    report["size"] = str(int(report["size"]) + 1)
    data = b"".join(json.dumps(doc).encode() + b"\n" for doc in lines)
    await _refused(
        services,
        target,
        _write(tmp_path / "size.tar", _replace(members, name, data)),
        "differ in size from its document",
    )
