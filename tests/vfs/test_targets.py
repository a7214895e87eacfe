"""Permission targets built by the VFS: ancestry, subtree grants, selectors."""

from __future__ import annotations

from roost.permissions import ROOT_DIR_ID, PermissionSet
from roost.vfs import VFS


async def test_targets_carry_ancestry_and_subtree_grants(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    photos = await vfs.create_dir(instance, root, "Photos")
    year = await vfs.create_dir(instance, photos, "2024")
    file = await upload(instance, year, "a.jpg", b"\xff\xd8")
    outside = await upload(instance, root, "b.txt", b"b")
    targets = vfs.targets(instance)
    target = await targets.for_doc(file)
    assert [a.id for a in target.ancestors] == [year.id, photos.id, ROOT_DIR_ID]
    scoped = PermissionSet.from_inline(f"io.cozy.files:GET:{photos.id}")
    assert scoped.allows("GET", "io.cozy.files", target)
    assert not scoped.allows("GET", "io.cozy.files", await targets.for_doc(outside))
    assert not scoped.allows("POST", "io.cozy.files", target)
    new = await targets.for_new(year, "new.jpg", mime="image/jpeg")
    assert scoped.allows("GET", "io.cozy.files", new)
    assert target.mime == "image/jpeg" and target.class_ == "image"


async def test_lookup_primes_the_target_cache(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    deep = await vfs.make_dirs(instance, "/x/y/z")
    file = await upload(instance, deep, "f", b"f")
    targets = vfs.targets(instance)
    found = await vfs.lookup(instance, "/x/y/z/f", targets=targets)
    assert found.id == file.id
    calls = 0
    original = vfs.documents.get

    async def counting_get(*args, **kwargs):
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    # Counting the real store reads, on purpose: mypy forbids assigning to a method.
    vfs.documents.get = counting_get  # type: ignore[method-assign]
    try:
        target = await targets.for_doc(found)
    finally:
        del vfs.documents.get
    assert calls == 0
    assert len(target.ancestors) == 4 and target.ancestors[-1].id == root.id
