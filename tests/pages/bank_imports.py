"""What the browser tests of bank imports share: the `import-bank` app installed, the
watched folder made and files uploaded from the Drive page, and waits for the importer's runs
(this test process runs the jobs) and for what Banks, drawn by the server, then shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from playwright.async_api import FilePayload, Locator, Page, expect

from roost.instances import Instance
from roost.jobs import DONE, ERRORED
from roost.services import Services
from tests.importers.conftest import packaged
from tests.pages.conftest import Site
from tests.pages.test_drive import row
from tests.thumbnails.conftest import settle_events

SLUG = "import-bank"
FOLDER = ("Imports", "Bank statements")
DEADLINE_SECONDS = 240.0


async def make_folders(page: Page, site: Site) -> str:
    """Make "/Imports/Bank statements" with Drive's "New folder", open it; its address."""
    await page.goto(site.url("/drive"))
    for name in FOLDER:
        await page.wait_for_selector("#drive[data-ready=true]")
        await page.get_by_role("button", name="New folder").click()
        await page.get_by_role("dialog").get_by_label("Name").fill(name)
        await page.get_by_role("dialog").get_by_role("button", name="Create").click()
        await page.get_by_role("link", name=name, exact=True).click()
        await expect(page.get_by_role("navigation", name="Folder path")).to_contain_text(name)
    await page.wait_for_selector("#drive[data-ready=true]")
    return page.url


async def install_importer(services: Services, instance: Instance) -> None:
    """Installed as the Store does it, the person having consented."""
    read = await services.apps.read(packaged(SLUG))
    await services.apps.install(instance, read, consent=True)


async def imported(services: Services, instance: Instance, file_ids: list[str]) -> None:
    """Wait until the importer's runs about these files are all finished (the job runner is
    this process: a wait for its work, not a timing), and none of them failed."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        await settle_events(services)
        jobs = [
            job
            for job in await services.jobs.list_jobs(instance, worker="app")
            if job.message.get("slug") == SLUG
            and (job.message.get("event") or {}).get("doc", {}).get("_id") in file_ids
        ]
        about = {(job.message["event"]["doc"]["_id"]) for job in jobs}
        if about == set(file_ids) and all(job.state in (DONE, ERRORED) for job in jobs):
            assert [job.error for job in jobs if job.state == ERRORED] == []
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"import runs: {[(j.state, j.error) for j in jobs]}")
        await asyncio.sleep(0.1)


async def shows(page: Page, condition: Callable[[], Awaitable[bool]]) -> None:
    """Reload the page until `condition` holds on it: Banks is drawn by the server, and the
    importer and the categoriser work in the background."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{page.url} never showed what was awaited")
        await asyncio.sleep(0.3)
        await page.reload()


def operation(page: Page, label: str) -> Locator:
    return page.locator("tr.operation", has=page.get_by_role("link", name=label, exact=True))


async def file_id(page: Page, name: str) -> str:
    found = await row(page, name).get_attribute("data-id")
    assert found, name
    return found


async def upload(page: Page, files: dict[str, bytes]) -> None:
    """The Drive page's "Upload files" button and its file chooser."""
    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name="Upload files").click()
    payloads: list[FilePayload] = [
        {"name": name, "mimeType": "application/octet-stream", "buffer": data}
        for name, data in files.items()
    ]
    await (await chooser.value).set_files(payloads)
