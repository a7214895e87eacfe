"""The blob store a configuration names: `blob_store = "local"` (the data directory's disk)
or `"s3"` (an S3-compatible object store shared by a fleet)."""

from __future__ import annotations

from roost.config import Config
from roost.vfs.blob_store import BlobStore
from roost.vfs.blobs import LocalBlobStore


def blob_store_for(config: Config) -> BlobStore:
    if config.blob_store == "s3":
        # Imported here: a one-person box on local disk never loads the S3 client.
        from roost.vfs.s3_blobs import S3BlobStore

        return S3BlobStore(
            endpoint=config.s3_endpoint,
            bucket=config.s3_bucket or "",
            access_key_id=config.s3_access_key_id,
            secret_access_key=config.s3_secret_access_key,
            region=config.s3_region,
            key_prefix=config.s3_key_prefix,
        )
    return LocalBlobStore(config.files_dir)
