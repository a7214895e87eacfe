"""`roost export` and `roost import` as an operator runs them (click's CliRunner, own services)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from roost.cli import main
from roost.instances import Instance
from roost.services import Services
from tests.conftest import PASSPHRASE, Store
from tests.portability.support import populate, read_content, snapshot

Run = Callable[..., Awaitable[Result]]


@pytest.fixture
def roost(store: Store, db_prefix: str, data_dir: Path, blob_settings: dict[str, str]) -> Run:
    env: dict[str, str | None] = {
        "ROOST_COUCHDB_URL": store.url,
        "ROOST_DB_PREFIX": db_prefix,
        "ROOST_DATA": str(data_dir),
        "ROOST_CONFIG": None,
        # The suite's blob store (S3 under ROOST_TEST_BLOB_STORE=s3), as the server's.
        **{f"ROOST_{key.upper()}": value for key, value in blob_settings.items()},
    }

    async def run(*args: str) -> Result:
        return await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )

    return run


async def test_export_then_import_from_the_command_line(
    services: Services,
    new_instance: Callable[..., Awaitable[Instance]],
    roost: Run,
    tmp_path: Path,
) -> None:
    source = await new_instance("src")
    await populate(services, source, "a")
    archive = tmp_path / "backup.tar.gz"
    exported = await roost("export", source.domain, str(archive))
    assert exported.exit_code == 0, exported.output
    assert f"exported {source.domain} to {archive}" in exported.output
    assert "7 file contents" in exported.output

    domain = f"new{secrets.token_hex(3)}.roost.test"
    planned = await roost("import", domain, str(archive), "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "would import" in planned.output
    assert "io-cozy-contacts: 3 new, 0 updated, 0 unchanged" in planned.output
    assert await services.instances.find(domain) is None  # a dry run creates nothing

    done = await roost("import", domain, str(archive), "--passphrase", PASSPHRASE)
    assert done.exit_code == 0, done.output
    assert "imported" in done.output
    target = await services.instances.get(domain)
    beach = await services.vfs.lookup(target, "/Photos/2024/beach.jpg")
    assert await read_content(services, target, beach) == bytes(range(256)) * 300

    again = await roost("import", domain, str(archive), "--json")
    assert again.exit_code == 0, again.output
    assert '"new": 0' in again.output and '"renamed": []' in again.output


async def test_refusals_are_one_line_and_write_nothing(
    services: Services,
    new_instance: Callable[..., Awaitable[Instance]],
    roost: Run,
    tmp_path: Path,
) -> None:
    source = await new_instance("src")
    await populate(services, source, "a")
    archive = tmp_path / "backup.tar"
    assert (await roost("export", source.domain, str(archive))).exit_code == 0
    data = await asyncio.to_thread(archive.read_bytes)
    truncated = tmp_path / "truncated.tar"
    await asyncio.to_thread(truncated.write_bytes, data[: len(data) // 2])

    before = await snapshot(services, source)
    refused: Any = await roost("import", source.domain, str(truncated))
    assert refused.exit_code == 1
    # stderr also carries the progress bar, redrawn with carriage returns.
    last = refused.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in refused.output
    assert "truncated" in last or "no manifest" in last
    assert await snapshot(services, source) == before

    domain = f"new{secrets.token_hex(3)}.roost.test"
    refused = await roost("import", domain, str(truncated), "--passphrase", PASSPHRASE)
    assert refused.exit_code == 1
    assert await services.instances.find(domain) is None  # no half-made instance

    missing = await roost("export", f"nobody{secrets.token_hex(3)}.roost.test", str(archive))
    assert missing.exit_code == 1 and "no instance is served" in missing.output
    nowhere = await roost("export", source.domain, str(tmp_path / "no" / "such" / "x.tar"))
    assert nowhere.exit_code == 2 and "no such directory" in nowhere.output
