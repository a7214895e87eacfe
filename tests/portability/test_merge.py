"""Importing into an instance that has data of its own: nothing of it is lost; a dry run
says what would change and writes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from roost.instances import Instance
from roost.portability import export_instance, import_archive
from roost.services import Services
from roost.vfs import QuotaExceeded
from tests.portability.support import (
    CONTACTS,
    documents,
    leaves,
    populate,
    put_contact,
    put_file,
    read_content,
    snapshot,
)

NewInstance = Callable[..., Awaitable[Instance]]


async def _archive(services: Services, new_instance: NewInstance, tmp_path: Path) -> Path:
    source = await new_instance("src")
    await populate(services, source, "a")
    archive = tmp_path / "a.tar.gz"
    await export_instance(services.couch, services.vfs, source, archive)
    return archive


async def _lived_in(services: Services, new_instance: NewInstance) -> Instance:
    """An instance with its own `shared` contact, report.pdf and Photos folder."""
    target = await new_instance("dst")
    await put_contact(services, target, "shared", {"fn": "Mine"})
    await put_contact(services, target, "mine-only", {"fn": "Only here"})
    await put_file(services, target, "/", "report.pdf", b"my own report")
    await put_file(services, target, "/Photos", "cat.jpg", b"my cat")
    return target


async def test_import_into_an_instance_with_data_loses_none_of_it(
    services: Services, new_instance: NewInstance, tmp_path: Path
) -> None:
    archive = await _archive(services, new_instance, tmp_path)
    target = await _lived_in(services, new_instance)
    before = await documents(services, target)

    report = await import_archive(services.couch, services.vfs, target, archive)

    after = await documents(services, target)
    # Every revision the instance had is still a leaf or an ancestor of one.
    for database, docs in before.items():
        for doc_id, old_leaves in docs.items():
            kept = {leaf["_rev"] for leaf in after[database][doc_id]}
            for leaf in old_leaves:
                assert leaf["_rev"] in kept, (database, doc_id)
    # Both histories of `shared`: the instance's and the archive's, as two branches.
    shared = await leaves(services, target.db(CONTACTS), "shared")
    assert sorted(leaf["fn"] for leaf in shared) == ["Mine", "Shared a"]
    assert (await services.documents.get(target, CONTACTS, "mine-only"))["fn"] == "Only here"

    # Name clashes are renamed; the instance's own entries keep their names and bytes.
    mine = await services.vfs.lookup(target, "/report.pdf")
    assert await read_content(services, target, mine) == b"my own report"
    theirs = await services.vfs.lookup(target, "/report (imported).pdf")
    assert await read_content(services, target, theirs) == b"a report"
    cat = await services.vfs.lookup(target, "/Photos/cat.jpg")
    assert await read_content(services, target, cat) == b"my cat"
    beach = await services.vfs.lookup(target, "/Photos (imported)/2024/beach.jpg")
    assert await read_content(services, target, beach) == bytes(range(256)) * 300
    folder = await services.vfs.lookup(target, "/Photos (imported)/2024")
    assert folder.path == "/Photos (imported)/2024"
    assert sorted(report.renamed) == [
        ("/Photos", "/Photos (imported)"),
        ("/report.pdf", "/report (imported).pdf"),
    ]
    # The renamed file keeps the archive's history under one more revision.
    history = await leaves(services, target.db("io.cozy.files"), theirs.id)
    assert len(history) == 1 and history[0]["_revisions"]["start"] == 2

    # And a second import changes nothing more.
    settled = await snapshot(services, target)
    await import_archive(services.couch, services.vfs, target, archive)
    assert await snapshot(services, target) == settled


async def test_dry_run_writes_nothing_and_counts_what_would_change(
    services: Services, new_instance: NewInstance, tmp_path: Path
) -> None:
    archive = await _archive(services, new_instance, tmp_path)
    target = await _lived_in(services, new_instance)
    before = await snapshot(services, target)

    planned = await import_archive(services.couch, services.vfs, target, archive, dry_run=True)

    assert await snapshot(services, target) == before
    contacts = planned.databases["io-cozy-contacts"]
    assert (contacts.new, contacts.updated, contacts.unchanged) == (2, 1, 0)
    assert planned.databases["io-cozy-permissions"].new == 1
    assert planned.databases["io-roost-app_passwords"].new == 1
    # report.pdf, beach.jpg, notes.txt, old.txt, empty.txt; Photos, 2024, Documents.
    assert planned.files_new == 8
    assert planned.files_unchanged == 2  # the instance's own root and trash
    assert sorted(planned.renamed) == [
        ("/Photos", "/Photos (imported)"),
        ("/report.pdf", "/report (imported).pdf"),
    ]
    assert planned.blobs_to_store == 7
    text = "\n".join(planned.lines())
    assert "io-cozy-contacts: 2 new, 1 updated, 0 unchanged" in text

    # What the dry run announced is what the import does.
    done = await import_archive(services.couch, services.vfs, target, archive)
    assert done.to_json() == planned.to_json()


async def test_dry_run_into_a_fresh_instance_counts_everything_new(
    services: Services, new_instance: NewInstance, tmp_path: Path
) -> None:
    archive = await _archive(services, new_instance, tmp_path)
    target = await new_instance("dst")
    before = await snapshot(services, target)
    planned = await import_archive(services.couch, services.vfs, target, archive, dry_run=True)
    assert await snapshot(services, target) == before == ({}, {})
    assert planned.files_new == 10 and planned.files_unchanged == 0
    assert planned.databases["io-cozy-contacts"].new == 3


async def test_an_import_over_the_quota_is_refused_before_writing(
    services: Services, new_instance: NewInstance, tmp_path: Path
) -> None:
    archive = await _archive(services, new_instance, tmp_path)
    target = await new_instance("dst", quota_bytes=1000)
    await put_file(services, target, "/", "small.txt", b"x" * 100)
    before = await snapshot(services, target)
    with pytest.raises(QuotaExceeded, match="exceed the disk quota"):
        await import_archive(services.couch, services.vfs, target, archive)
    assert await snapshot(services, target) == before
