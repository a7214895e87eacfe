"""The blob-store port's contract, held by both stores: the local disk and S3 (a real
SeaweedFS). Each test runs on each store, under a key prefix (or directory) of its own."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from roost.vfs.blob_store import BlobStore
from roost.vfs.blobs import LocalBlobStore
from roost.vfs.errors import BlobMissing, ChecksumMismatch, IncompleteUpload, QuotaExceeded
from roost.vfs.s3_blobs import S3BlobStore
from tests.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3

DOMAIN = "alice.roost.test"
MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "files")
        return
    server: SeaweedS3 = request.getfixturevalue("seaweed")
    yield S3BlobStore(
        endpoint=server.endpoint,
        bucket=server.bucket,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        key_prefix=f"contract-{secrets.token_hex(4)}/",
    )


async def chunks_of(data: bytes, size: int = 300_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def failing_after(data: bytes, error: Exception) -> AsyncIterator[bytes]:
    async for chunk in chunks_of(data):
        yield chunk
    raise error


async def read_all(blobs: BlobStore, file_id: str, internal_id: str) -> bytes:
    reader = await blobs.open(DOMAIN, file_id, internal_id)
    try:
        return b"".join([chunk async for chunk in reader.read(0, reader.size)])
    finally:
        reader.close()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize("size", [0, 5000, 20 * MiB + 17])
async def test_staged_bytes_become_a_blob_with_their_checksums(blobs: BlobStore, size: int) -> None:
    data = os.urandom(size)
    staged = await blobs.stage(chunks_of(data), expected_size=size)
    assert (staged.size, staged.md5sum, staged.sha256) == (
        size,
        md5_b64(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert not await blobs.exists(DOMAIN, "file1", "v1")
    await blobs.commit(staged, DOMAIN, "file1", "v1")
    assert await blobs.exists(DOMAIN, "file1", "v1")
    assert await read_all(blobs, "file1", "v1") == data
    assert await blobs.temporaries() == []


async def test_ranges_read_exactly_their_bytes(blobs: BlobStore) -> None:
    data = os.urandom(3 * MiB + 5)
    async with await blobs.stage(chunks_of(data)) as staged:
        await blobs.commit(staged, DOMAIN, "ranged", "v1")
    reader = await blobs.open(DOMAIN, "ranged", "v1")
    try:
        assert reader.size == len(data)
        for start, length in [(0, 1), (10, 100), (MiB - 3, MiB + 7), (len(data) - 5, 5)]:
            got = b"".join([chunk async for chunk in reader.read(start, length)])
            assert got == data[start : start + length]
    finally:
        reader.close()


async def test_a_stream_that_fails_leaves_nothing(blobs: BlobStore) -> None:
    # Past one multipart part on S3, so a part was sent before the failure.
    with pytest.raises(ConnectionResetError):
        await blobs.stage(failing_after(os.urandom(9 * MiB), ConnectionResetError("gone")))
    assert await blobs.temporaries() == []
    assert await blobs.blob_count(DOMAIN) == 0


async def test_quota_size_and_checksum_refusals_leave_nothing(blobs: BlobStore) -> None:
    data = os.urandom(200_000)
    with pytest.raises(QuotaExceeded):
        await blobs.stage(chunks_of(data), room=100_000)
    with pytest.raises(IncompleteUpload):
        await blobs.stage(chunks_of(data), expected_size=len(data) + 1)
    with pytest.raises(IncompleteUpload):
        await blobs.stage(chunks_of(data), expected_size=len(data) - 1)
    with pytest.raises(ChecksumMismatch):
        await blobs.stage(chunks_of(data), expected_md5=md5_b64(b"other"))
    assert await blobs.temporaries() == []
    assert await blobs.blob_count(DOMAIN) == 0


async def test_discarded_content_is_never_a_blob(blobs: BlobStore) -> None:
    staged = await blobs.stage(chunks_of(b"draft"))
    assert len(await blobs.temporaries()) == 1
    await staged.discard()
    assert await blobs.temporaries() == []
    assert await blobs.blob_count(DOMAIN) == 0


async def test_links_removals_and_missing_blobs(blobs: BlobStore) -> None:
    async with await blobs.stage(chunks_of(b"original")) as staged:
        await blobs.commit(staged, DOMAIN, "source", "v1")
    await blobs.link(DOMAIN, "source", "v1", "copy", "c1")
    await blobs.write_empty(DOMAIN, "source", "v2")
    assert await read_all(blobs, "copy", "c1") == b"original"
    assert await read_all(blobs, "source", "v2") == b""
    await blobs.remove_all(DOMAIN, "source")
    assert await read_all(blobs, "copy", "c1") == b"original"
    with pytest.raises(BlobMissing):
        await blobs.open(DOMAIN, "source", "v1")
    await blobs.remove(DOMAIN, "copy", "c1")
    await blobs.remove(DOMAIN, "copy", "c1")  # removing twice is not an error
    assert await blobs.blob_count(DOMAIN) == 0


async def test_the_sweep_removes_stale_temporaries_only(blobs: BlobStore) -> None:
    staged = await blobs.stage(chunks_of(b"left behind by a crash"))
    assert await blobs.sweep_temps(max_age=3600) == 0
    assert await blobs.temporaries() == [staged.location]
    assert await blobs.sweep_temps(max_age=-1) == 1
    assert await blobs.temporaries() == []


async def test_unsafe_addresses_are_refused(blobs: BlobStore) -> None:
    for file_id, internal_id in [("../up", "v1"), ("ok", ".."), ("a/b", "v1")]:
        with pytest.raises(ValueError, match="unsafe"):
            await blobs.exists(DOMAIN, file_id, internal_id)
