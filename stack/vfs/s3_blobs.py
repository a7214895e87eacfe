"""The S3 blob store: file bytes as objects of an S3-compatible store (AWS S3, SeaweedFS,
MinIO, Garage, Ceph RGW …), shared by every stack process of a fleet.

Keys: `{prefix}{domain}/{id[:2]}/{id}/{internal_id}` for blobs and `{prefix}.tmp/{random}` for
uploads in progress. An upload streams to a temporary key (a multipart upload past
`_PART_BYTES`, so memory stays at a few parts), hashed on the way; `commit` copies it to the
blob's key on the server side and deletes the temporary. No object under a blob's key ever
holds partial bytes, and a blob's key is only written once the upload is whole and checked;
the file document is saved after that, so a reader never finds a document without its bytes.
Temporaries of a crash or an outage are swept by age (`sweep_temps`, run at start-up and
hourly by the stack); incomplete multipart uploads are aborted by the client on failure, and a
bucket lifecycle rule (AbortIncompleteMultipartUpload) is the backstop — docs/scaling.md.

The client is obstore (Rust `object_store`): typed, no dependency tree, multipart and retries
built in; measured against aiobotocore in docs/scaling.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from roost.vfs.blob_store import STALE_TEMP_SECONDS, StagedContent, UploadLimits, batched
from roost.vfs.errors import BlobMissing, BlobStoreUnavailable, ChecksumMismatch

# Parts of a multipart upload; S3 wants at least 5 MiB for every part but the last.
_PART_BYTES: Final = 8 * 1024 * 1024
# Chunks are hashed in a worker thread once this much is gathered (hashlib releases the GIL).
_HASH_BATCH: Final = 1024 * 1024
# Up to this size a batch is hashed inline: a thread hop costs more than the work.
_INLINE_HASH_BYTES: Final = 64 * 1024
_READ_CHUNK: Final = 1024 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TEMP_DIR: Final = ".tmp/"
T = TypeVar("T")


def _safe(part: str) -> str:
    if not _SAFE_ID.match(part) or ".." in part:
        raise ValueError(f"unsafe key component {part!r}")
    return part


class S3BlobStore:
    def __init__(
        self,
        *,
        endpoint: str | None,
        bucket: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str = "us-east-1",
        key_prefix: str = "",
        timeout_seconds: float = 30.0,
    ) -> None:
        options: dict[str, Any] = {
            "timeout": f"{int(timeout_seconds)}s",
            "connect_timeout": "5s",
        }
        if endpoint and endpoint.startswith("http://"):
            options["allow_http"] = True
        config: dict[str, Any] = {"region": region}
        if endpoint:
            config["endpoint"] = endpoint
            # Self-hosted stores (SeaweedFS, MinIO) serve buckets as paths, not host names.
            config["virtual_hosted_style_request"] = False
        if access_key_id:
            config["access_key_id"] = access_key_id
        if secret_access_key:
            config["secret_access_key"] = secret_access_key
        # A short retry budget: an outage must become a 503 within seconds, not minutes.
        retry = {
            "max_retries": 2,
            "retry_timeout": timedelta(seconds=timeout_seconds),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=2),
                "base": 2,
            },
        }
        self.bucket = bucket
        self.prefix = key_prefix
        self.store = S3Store(
            bucket,
            config=config,  # type: ignore[arg-type]
            client_options=options,  # type: ignore[arg-type]
            retry_config=retry,  # type: ignore[arg-type]
        )

    def key(self, domain: str, file_id: str, internal_id: str) -> str:
        return f"{self._file_prefix(domain, file_id)}{_safe(internal_id)}"

    def _file_prefix(self, domain: str, file_id: str) -> str:
        file_id = _safe(file_id)
        return f"{self.prefix}{_safe(domain)}/{file_id[:2]}/{file_id}/"

    async def stage(
        self,
        chunks: AsyncIterable[bytes],
        *,
        expected_size: int | None = None,
        room: int | None = None,
        expected_md5: str | None = None,
    ) -> StagedContent:
        temp = f"{self.prefix}{_TEMP_DIR}{int(time.time())}-{secrets.token_hex(12)}"
        limits = UploadLimits(expected_size, room)
        md5 = hashlib.md5(usedforsecurity=False)
        sha256 = hashlib.sha256()

        def hash_batch(data: bytes) -> None:
            md5.update(data)
            sha256.update(data)

        # What the client's stream raised (a disconnect, a quota or size refusal) is raised
        # as such, not taken for a store failure, whatever the client library wraps it in.
        source_error: list[BaseException] = []

        async def hashed() -> AsyncIterator[bytes]:
            try:
                async for data in batched(chunks, limits, _HASH_BATCH):
                    if len(data) > _INLINE_HASH_BYTES:
                        await asyncio.to_thread(hash_batch, data)
                    else:
                        hash_batch(data)
                    yield data
            except BaseException as error:
                source_error.append(error)
                raise

        stream = hashed()
        # The first part is gathered before choosing: a body smaller than a part goes in one
        # PUT; a larger one becomes a multipart upload of `_PART_BYTES` parts, aborted by the
        # client library if the stream fails.
        head: list[bytes] = []
        gathered = 0
        try:
            async for data in stream:
                head.append(data)
                gathered += len(data)
                if gathered >= _PART_BYTES:
                    break
            else:
                await _store_call(
                    functools.partial(obstore.put_async, self.store, temp, b"".join(head))
                )
                head = []
            if head:
                await _store_call(
                    lambda: obstore.put_async(
                        self.store,
                        temp,
                        _chain(head, stream),
                        use_multipart=True,
                        chunk_size=_PART_BYTES,
                        max_concurrency=4,
                    )
                )
        except BaseException as failure:
            await self._forget(temp)
            if source_error and source_error[0] is not failure:
                raise source_error[0] from None
            raise
        md5sum = base64.b64encode(md5.digest()).decode()
        staged = StagedContent(temp, limits.size, md5sum, sha256.hexdigest(), self._forget)
        if expected_md5 is not None and expected_md5 != md5sum:
            await staged.discard()
            raise ChecksumMismatch("the content does not match its Content-MD5")
        return staged

    async def _forget(self, key: str) -> None:
        """Remove an object if the store answers; else the sweep will."""
        # Shielded: a client that goes away must not cut the clean-up short.
        with contextlib.suppress(BaseError, OSError):
            await asyncio.shield(obstore.delete_async(self.store, key))

    async def commit(
        self, staged: StagedContent, domain: str, file_id: str, internal_id: str
    ) -> None:
        source = staged.take()
        target = self.key(domain, file_id, internal_id)
        try:
            await _store_call(lambda: obstore.copy_async(self.store, source, target))
        finally:
            await self._forget(source)

    async def link(
        self, domain: str, source_id: str, source_internal: str, file_id: str, internal_id: str
    ) -> None:
        source = self.key(domain, source_id, source_internal)
        target = self.key(domain, file_id, internal_id)
        await _store_call(lambda: obstore.copy_async(self.store, source, target))

    async def write_empty(self, domain: str, file_id: str, internal_id: str) -> None:
        key = self.key(domain, file_id, internal_id)
        await _store_call(lambda: obstore.put_async(self.store, key, b""))

    async def open(self, domain: str, file_id: str, internal_id: str) -> _ObjectReader:
        key = self.key(domain, file_id, internal_id)
        meta = await _store_call(lambda: obstore.head_async(self.store, key))
        return _ObjectReader(self.store, key, int(meta["size"]))

    async def exists(self, domain: str, file_id: str, internal_id: str) -> bool:
        key = self.key(domain, file_id, internal_id)
        try:
            await _store_call(lambda: obstore.head_async(self.store, key))
        except BlobMissing:
            return False
        return True

    async def remove(self, domain: str, file_id: str, internal_id: str) -> None:
        key = self.key(domain, file_id, internal_id)
        await _store_call(lambda: obstore.delete_async(self.store, key))

    async def remove_all(self, domain: str, file_id: str) -> None:
        keys = await self._keys(self._file_prefix(domain, file_id))
        if keys:
            await _store_call(lambda: obstore.delete_async(self.store, keys))

    async def _keys(self, prefix: str, *, older_than: float | None = None) -> list[str]:
        keys: list[str] = []

        async def collect() -> None:
            async for page in obstore.list(self.store, prefix):
                for meta in page:
                    if older_than is None or meta["last_modified"].timestamp() < older_than:
                        keys.append(str(meta["path"]))

        await _store_call(collect)
        return keys

    async def sweep_temps(self, max_age: float = STALE_TEMP_SECONDS) -> int:
        """Remove temporaries older than `max_age`: an upload still running on another stack
        is younger (a stack gives up on an upload long before an hour)."""
        stale = await self._keys(f"{self.prefix}{_TEMP_DIR}", older_than=time.time() - max_age)
        if stale:
            await _store_call(lambda: obstore.delete_async(self.store, stale))
        return len(stale)

    async def temporaries(self) -> list[str]:
        return await self._keys(f"{self.prefix}{_TEMP_DIR}")

    async def internal_ids(self, domain: str, file_id: str) -> list[str]:
        prefix = self._file_prefix(domain, file_id)
        return sorted(key[len(prefix) :] for key in await self._keys(prefix))

    async def blob_count(self, domain: str) -> int:
        return len(await self._keys(f"{self.prefix}{_safe(domain)}/"))

    def local_path(self, domain: str, file_id: str, internal_id: str) -> Path | None:
        return None


async def _chain(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for data in head:
        yield data
    async for data in rest:
        yield data


class _ObjectReader:
    """Ranges of one object, each a streamed ranged GET."""

    def __init__(self, store: S3Store, key: str, size: int) -> None:
        self.store = store
        self.key = key
        self.size = size

    async def read(self, start: int, length: int) -> AsyncIterator[bytes]:
        if length <= 0:
            return
        result = await _store_call(
            lambda: obstore.get_async(
                self.store, self.key, options={"range": (start, start + length)}
            )
        )
        stream = result.stream(min_chunk_size=_READ_CHUNK)
        try:
            async for chunk in stream:
                yield bytes(chunk)
        except BaseError as error:
            raise BlobStoreUnavailable(
                f"the object store failed mid-read: {_brief(error)}"
            ) from None

    def close(self) -> None:
        return None


async def _store_call(call: Callable[[], Awaitable[T]]) -> T:
    """One request to the store, its failures turned into the VFS's errors."""
    try:
        return await call()
    except NotFoundError:
        raise BlobMissing("the file's content is missing") from None
    except FileNotFoundError:
        raise BlobMissing("the file's content is missing") from None
    except (BaseError, OSError, TimeoutError) as error:
        raise BlobStoreUnavailable(f"the object store did not answer: {_brief(error)}") from None


def _brief(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
