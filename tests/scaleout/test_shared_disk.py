"""The start-up check: stacks on one CouchDB with local blob stores on separate disks are
told so; stacks sharing the disk, or using S3, are not."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roost.config import Config
from roost.couch import CouchClient
from roost.shared_disk import DATABASE, MARKER, RECENT, disk_identity, separate_disks


def _stack(config: Config, data_dir: Path, prefix: str) -> Config:
    return dataclasses.replace(config, data_dir=data_dir, db_prefix=prefix, blob_store="local")


async def test_a_second_disk_on_the_same_couchdb_gets_a_warning_naming_the_first(
    config: Config, tmp_path: Path
) -> None:
    prefix = f"{config.db_prefix}{secrets.token_hex(4)}-"  # removed with the run's databases
    couch = CouchClient(config.couchdb_url or "")
    now = datetime.now(UTC)
    try:
        first = _stack(config, tmp_path / "one", prefix)
        second = _stack(config, tmp_path / "two", prefix)
        assert await separate_disks(first, couch, now=now) == []
        [warning] = await separate_disks(second, couch, now=now)
        assert str(first.files_dir) in warning
        assert 'blob_store = "s3"' in warning
        # The first stack, restarted, is told about the second one too.
        assert len(await separate_disks(first, couch, now=now)) == 1
        # A disk not seen for longer than RECENT has left the fleet: no warning.
        later = now + RECENT + timedelta(minutes=1)
        assert await separate_disks(first, couch, now=later) == []
    finally:
        await couch.aclose()


async def test_stacks_sharing_the_disk_or_using_s3_get_no_warning(
    config: Config, tmp_path: Path
) -> None:
    prefix = f"{config.db_prefix}{secrets.token_hex(4)}-"  # removed with the run's databases
    couch = CouchClient(config.couchdb_url or "")
    now = datetime.now(UTC)
    try:
        shared = _stack(config, tmp_path / "shared", prefix)
        assert await separate_disks(shared, couch, now=now) == []
        # A second stack mounting the same disk reads the same identity.
        assert await separate_disks(shared, couch, now=now) == []
        assert (shared.files_dir / MARKER).read_text() == disk_identity(shared.files_dir)
        on_s3 = dataclasses.replace(_stack(config, tmp_path / "s3", prefix), blob_store="s3")
        assert await separate_disks(on_s3, couch, now=now) == []
        listed = await couch.all_docs(f"{prefix}{DATABASE}")
        assert len(listed["rows"]) == 1
    finally:
        await couch.aclose()
