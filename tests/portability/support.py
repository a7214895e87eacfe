"""Instances with real data, and what an instance holds, read back from the store and disk."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from roost.couch import quote_db, quote_doc_id
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.portability.contents import EXCLUDED_DATABASES
from roost.portability.exporter import instance_databases
from roost.services import Services
from roost.vfs import FileDoc

CONTACTS = "io.cozy.contacts"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def put_file(
    services: Services, instance: Instance, folder: str, name: str, data: bytes
) -> FileDoc:
    parent = await services.vfs.make_dirs(instance, folder)
    staged = await services.vfs.stage(instance, _once(data), size=len(data))
    async with staged:
        return await services.vfs.create_file(instance, parent, name, staged)


async def overwrite(services: Services, instance: Instance, file: FileDoc, data: bytes) -> FileDoc:
    staged = await services.vfs.stage(instance, _once(data), size=len(data))
    async with staged:
        return await services.vfs.overwrite_file(instance, file, staged)


async def put_contact(
    services: Services, instance: Instance, doc_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    doc = services.documents.prepare_new(CONTACTS, body, app_slug=None, doc_id=doc_id)
    return await services.documents.save(instance, CONTACTS, doc)


async def populate(services: Services, instance: Instance, tag: str) -> None:
    """Contacts (one edited, one with a conflict), files in folders, versions, the trash,
    an app password with its permission document."""
    await put_contact(services, instance, "shared", {"fn": f"Shared {tag}"})
    edited = await put_contact(services, instance, f"{tag}-1", {"fn": f"One {tag}"})
    edited = services.documents.prepare_update(
        CONTACTS, edited["_id"], {**edited, "fn": f"One {tag} (edited)"}, edited, app_slug=None
    )
    await services.documents.save(instance, CONTACTS, edited)
    base = await put_contact(services, instance, f"{tag}-2", {"fn": f"Two {tag}"})
    edit = services.documents.prepare_update(
        CONTACTS, base["_id"], {**base, "fn": f"Two {tag} (edited)"}, base, app_slug=None
    )
    await services.documents.save(instance, CONTACTS, dict(edit))
    # A conflict, as a replication from a phone would leave one: another child of rev 1.
    sibling = {
        "_id": base["_id"],
        "_rev": "2-" + "f" * 32,
        "_revisions": {"start": 2, "ids": ["f" * 32, base["_rev"].split("-")[1]]},
        "fn": f"Two {tag} (from the phone)",
    }
    await services.couch.bulk_docs(instance.db(CONTACTS), [sibling], new_edits=False)
    # A document with an attachment, as a PouchDB client may store one.
    await services.couch.put_doc(
        instance.db("io.cozy.notes"),
        {
            "_id": f"{tag}-note",
            "title": "with a picture",
            "_attachments": {
                "pic.png": {"content_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}
            },
        },
    )
    await put_file(services, instance, "/", "report.pdf", f"{tag} report".encode())
    await put_file(services, instance, "/Photos/2024", "beach.jpg", bytes(range(256)) * 300)
    notes = await put_file(services, instance, "/Documents", "notes.txt", b"version one")
    notes = await overwrite(services, instance, notes, b"version two, longer")
    await overwrite(services, instance, notes, f"version three of {tag}".encode())
    old = await put_file(services, instance, "/Documents", "old.txt", b"to the trash")
    await services.vfs.trash(instance, old)
    await put_file(services, instance, "/", "empty.txt", b"")
    await services.app_passwords.create(
        instance, "laptop", PermissionSet.from_inline("io.cozy.files:GET")
    )


async def leaves(services: Services, db: str, doc_id: str) -> list[dict[str, Any]]:
    """Every live leaf revision of a document, with its history, sorted by revision."""
    response = await services.couch.request(
        "GET",
        f"/{quote_db(db)}/{quote_doc_id(doc_id)}",
        params={"open_revs": "all", "revs": True},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    found = [entry["ok"] for entry in response.json() if "ok" in entry]
    return sorted((d for d in found if not d.get("_deleted")), key=lambda d: d["_rev"])


async def documents(
    services: Services, instance: Instance, *, exported_only: bool = True
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """database → id → leaves: everything the instance's databases hold."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for database in await instance_databases(services.couch, instance):
        if exported_only and database in EXCLUDED_DATABASES:
            continue
        db = f"{instance.prefix}/{database}"
        rows = (await services.couch.all_docs(db))["rows"]
        out[database] = {
            row["id"]: await leaves(services, db, row["id"])
            for row in rows
            if not (exported_only and row["id"].startswith("_design/"))
        }
    return out


def blobs_on_disk(services: Services, instance: Instance) -> dict[str, str]:
    """relative path → MD5 (base64) of every blob of the instance."""
    root = services.config.files_dir / instance.domain
    if not root.is_dir():
        return {}
    return {
        str(path.relative_to(root)): md5(path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


async def snapshot(services: Services, instance: Instance) -> tuple[Any, Any]:
    """All databases (design and name documents included) and all blobs: to show that
    nothing changed.

    The stack's own reactions to earlier writes (a picture's thumbnail trigger and job) are
    let to land first, so they are never mistaken for a change made by what is tested.
    """
    await settle(services)
    return await documents(services, instance, exported_only=False), blobs_on_disk(
        services, instance
    )


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


async def read_content(services: Services, instance: Instance, file: FileDoc) -> bytes:
    content = await services.vfs.open(instance, file)
    return b"".join([chunk async for chunk in content.chunks()])


async def settle(services: Services) -> None:
    """Wait for the VFS listeners' announcements and the `@event` jobs they queue."""
    for listener in services.vfs.listeners:
        flush = getattr(listener, "flush", None)
        if flush is not None:
            await flush()
    await services.jobs.flush_events()
