"""Fixtures for the importers: the apps built and compiled once, installed through the
stack's install path, files dropped through the `/files` API, and the real job runner.

Building needs the guest toolchains (tests/apps/conftest.py says which); the compiled
`.cwasm` artifacts are shared with the runtime tests' cache (`.cache/apps-cwasm`) so a
rerun, or CI with that folder restored, compiles nothing.
"""

from __future__ import annotations

import asyncio
import functools
import io
import tarfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.banks.categoriser_app import SLUG as CATEGORISER
from roost.config import Config
from roost.instances import Instance
from roost.jobs import DONE, ERRORED, JobDoc
from roost.permissions import ROOT_DIR_ID
from roost.services import Services
from tests.apps.conftest import EXAMPLES, compiled_into
from tests.apps.stack_helpers import install
from tests.conftest import PASSPHRASE
from tests.thumbnails.conftest import settle_events
from tests.web.files_support import FilesApi, IssueToken, files_api

IMPORTERS = ("import-bank", "import-contacts-calendars", "import-consumption")
LEDGER = "io.roost.imports"
DEADLINE_SECONDS = 180.0


@pytest.fixture(scope="session")
def importers_compiled(config: Config) -> Path:
    """Every importer and the categoriser app (which Banks installs by itself) built,
    compiled once into the shared cache, and the artifacts placed in the stack's cache so
    that installing compiles nothing more."""
    return compiled_into(config, *IMPORTERS, CATEGORISER)


@functools.cache
def packaged(slug: str) -> bytes:
    """The importer's `.tar.gz` as a person would download it, made once per session and
    compressed fast (gzip's best level takes half a minute on 25 MB of wasm)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name in ("manifest.json", "app.wasm"):
            tar.add(EXAMPLES / slug / name, arcname=f"{slug}/{name}")
    return buf.getvalue()


@pytest.fixture
async def running_jobs(services: Services) -> AsyncIterator[Services]:
    """The session's services with their job runner polling (as `roost serve` does)."""
    await services.jobs.start()
    yield services
    await services.jobs.stop()


@dataclass
class Drive:
    """The person's side: install an importer, make folders, drop files."""

    http: httpx.AsyncClient
    files: FilesApi
    services: Services
    instance: Instance

    async def install(self, slug: str) -> dict[str, Any]:
        return await install(self.http, packaged(slug))

    async def folder(self, path: str) -> str:
        """The id of the folder at `path`, made level by level when missing."""
        dir_id, so_far = ROOT_DIR_ID, ""
        for name in path.strip("/").split("/"):
            so_far += "/" + name
            response = await self.files.mkdir(name, dir_id=dir_id)
            if response.status_code == 409:
                response = await self.files.metadata(so_far)
            assert response.status_code in (200, 201), response.text
            dir_id = str(response.json()["data"]["id"])
        return dir_id

    async def drop(self, dir_id: str, name: str, content: bytes) -> str:
        return await self.files.upload_ok(name, content, dir_id=dir_id)

    async def replace(self, file_id: str, content: bytes) -> None:
        response = await self.files.overwrite(file_id, content)
        assert response.status_code == 200, response.text

    async def docs(self, doctype: str) -> list[dict[str, Any]]:
        result = await self.services.documents.find(
            self.instance, doctype, {"selector": {}, "limit": 1000}
        )
        return [d for d in result.get("docs", []) if not str(d["_id"]).startswith("_design/")]

    async def ledger(self, slug: str, file_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.services.documents.get_or_none(
            self.instance, LEDGER, f"{slug}:{file_id}"
        )
        return found

    async def runs(self, slug: str, file_id: str) -> list[JobDoc]:
        """The finished runs of `slug` about `file_id`, once none of them is pending."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            await settle_events(self.services)
            listed = await self.services.jobs.list_jobs(self.instance, worker="app")
            mine = [
                job
                for job in listed
                if job.message.get("slug") == slug
                and (job.message.get("event") or {}).get("doc", {}).get("_id") == file_id
            ]
            if mine and all(job.state in (DONE, ERRORED) for job in mine):
                return sorted(mine, key=lambda job: job.queued_at)
            if time.monotonic() > deadline:
                raise AssertionError(f"{slug} runs on {file_id}: {[j.state for j in mine]}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def drive(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    running_jobs: Services,
    importers_compiled: Path,
) -> Drive:
    login = await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    assert login.status_code < 400, login.text
    files = await files_api(client, instance, issue_token, "io.cozy.files")
    return Drive(client, files, running_jobs, instance)
