"""Export → import into a fresh instance gives the same documents, histories and bytes."""

from __future__ import annotations

import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from roost.instances import Instance
from roost.portability import export_instance, import_archive
from roost.portability.contents import FILES_DATABASE, VERSIONS_DATABASE
from roost.services import Services
from roost.vfs import FileDoc
from tests.portability.support import documents, md5, populate, read_content, snapshot

NewInstance = Callable[..., Awaitable[Instance]]


async def test_export_then_import_into_a_fresh_instance_is_identical(
    services: Services, new_instance: NewInstance, tmp_path: Path
) -> None:
    source = await new_instance("src")
    await populate(services, source, "a")
    archive = tmp_path / "a.tar.gz"
    manifest = await export_instance(services.couch, services.vfs, source, archive)
    assert manifest.domain == source.domain
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == "manifest.json"
    assert "documents/io-cozy-contacts.ndjson" in names
    assert not any("io-cozy-sessions" in n or "files-names" in n for n in names)

    target = await new_instance("dst")
    report = await import_archive(services.couch, services.vfs, target, archive)
    assert report.renamed == []
    assert report.databases["io-cozy-contacts"].new == 3

    exported = await documents(services, source)
    imported = await documents(services, target)
    # An app password travels without its hash: listed, and never opening anything.
    for leaves in exported["io-roost-app_passwords"].values():
        for leaf in leaves:
            leaf["secret_sha256"] = ""
    for database, docs in exported.items():
        assert imported.get(database) == docs, database  # bodies, revisions, histories
    [note] = imported["io-cozy-notes"]["a-note"]
    assert note["_attachments"]["pic.png"]["digest"].startswith("md5-")  # bytes came along
    contact = imported["io-cozy-contacts"]
    assert len(contact["a-2"]) == 2  # the conflict came along, both branches
    assert [leaf["_rev"][:2] for leaf in contact["a-1"]] == ["2-"]

    # Every content and every version, byte for byte.
    files = exported[FILES_DATABASE]
    contents = 0
    for file_id, (leaf,) in files.items():
        if leaf.get("type") != "file":
            continue
        doc = FileDoc(leaf)
        data = await read_content(services, target, doc)
        assert md5(data) == doc.md5sum
        assert data == await read_content(services, source, doc)
        contents += 1
        for version in await services.vfs.list_versions(source, file_id):
            copied = await services.vfs.get_version(target, file_id, version.version_id)
            stored = await services.vfs.open_version(target, copied)
            old = b"".join([chunk async for chunk in stored.chunks()])
            assert md5(old) == version.md5sum
            contents += 1
    assert contents == 7  # 5 files (one empty, one trashed) and 2 versions of notes.txt
    assert len(exported[VERSIONS_DATABASE]) == 2

    # The imported tree works through the VFS: paths, listings, trash, usage.
    beach = await services.vfs.lookup(target, "/Photos/2024/beach.jpg")
    assert beach.id in files
    assert [f.name for f in await services.vfs.list_trash(target)] == ["old.txt"]
    assert (await services.vfs.disk_usage(target)).to_json() == (
        await services.vfs.disk_usage(source)
    ).to_json() | {"quota": None}
    passwords = await services.app_passwords.list(target)
    assert [p.label for p in passwords] == ["laptop"]
    assert await services.app_passwords.verify(target, "roost-ap-" + passwords[0].id + "-x") is None


async def test_importing_twice_changes_nothing_the_second_time(
    services: Services, new_instance: NewInstance, tmp_path: Path
) -> None:
    source = await new_instance("src")
    await populate(services, source, "a")
    archive = tmp_path / "a.tar"
    await export_instance(services.couch, services.vfs, source, archive)
    target = await new_instance("dst")
    await import_archive(services.couch, services.vfs, target, archive)
    before = await snapshot(services, target)
    again = await import_archive(services.couch, services.vfs, target, archive)
    assert await snapshot(services, target) == before
    assert again.files_new == again.files_updated == 0
    assert again.blobs_to_store == 0 and again.renamed == []
    assert all(c.new == c.updated == 0 for c in again.databases.values())
    # Re-importing into the instance it came from is a no-op too.
    home = await snapshot(services, source)
    await import_archive(services.couch, services.vfs, source, archive)
    assert await snapshot(services, source) == home
