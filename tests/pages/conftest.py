"""A real browser on a live Roost: Playwright driving Debian's chromium.

No browser is downloaded: `executable_path` is the system chromium that
`scripts/system-deps.sh` installs. Instances are `*.roost.test` names that chromium resolves
to the live server's loopback address (`--host-resolver-rules`), so each page is on its own
instance's origin, as in production, with host-only cookies.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from roost.instances import Instance
from tests.conftest import PASSPHRASE, LiveServer

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
# The screenshots in docs/screenshots are made by these tests: with ROOST_SCREENSHOTS=docs
# they are written there (to commit them); otherwise into a temporary folder, so a test run
# never dirties the working tree with PNGs that differ only in random names and dates.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("ROOST_SCREENSHOTS") == "docs"
    else Path(tempfile.gettempdir()) / "roost-screenshots"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
# Two shared cores and up to 30 uploads: what "soon" means for `expect`, not a speed claim.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: run scripts/system-deps.sh")
    async with async_playwright() as playwright:
        # `launch` gives chromium a fresh, temporary profile (user-data-dir) every time.
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP *.roost.test 127.0.0.1",
            ],
        )
        yield launched
        await launched.close()


@dataclass
class Site:
    """One instance seen through the browser."""

    instance: Instance
    port: int

    @property
    def origin(self) -> str:
        return f"http://{self.instance.domain}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path


@pytest.fixture
async def site(live_server: LiveServer, new_instance: Callable[..., Awaitable[Instance]]) -> Site:
    return Site(await new_instance("page"), live_server.port)


async def new_context(
    browser: Browser, *, viewport: dict[str, int] = DESKTOP, locale: str = "en-GB"
) -> BrowserContext:
    context = await browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        locale=locale,
        color_scheme="light",
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    return context


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await new_context(browser)
    opened = await context.new_page()
    yield opened
    await context.close()


async def sign_in(page: Page, site: Site, passphrase: str = PASSPHRASE) -> None:
    await page.goto(site.url("/auth/login"))
    await page.get_by_label("Passphrase").or_(page.get_by_label("Phrase de passe")).fill(passphrase)
    await page.locator("form[action='/auth/login'] button[type=submit]").click()
    await page.wait_for_url(site.url("/"))


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.exists():
        pytest.fail("axe-core is missing from node_modules (npm ci)")
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v.get("impact") in ("serious", "critical")
    ]


async def assert_accessible(page: Page) -> None:
    violations = await axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
