"""The Store in a real browser, on a live Roost whose registries are real signed folders and a
real loopback HTTP server: install a connector through the consent page in plain words, update
without asking when nothing more is asked and with consent when more is, refuse tampered,
unsigned and untrusted packages with nothing changed; axe-core; the phone size in French."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from roost.app import create_app
from roost.appstore.catalogue import Catalogue
from roost.appstore.registry import registry_id
from roost.appstore.signing import SigningKey, generate_key_pair
from roost.banks.categoriser_app import SLUG as CATEGORISER
from roost.config import Config
from roost.embedded_store import free_port
from roost.instances import Instance
from roost.services import Services
from tests.apps.conftest import EXAMPLES, build
from tests.conftest import LiveServer
from tests.pages.conftest import (
    PHONE,
    Site,
    assert_accessible,
    new_context,
    screenshot,
    sign_in,
)
from tests.registry.conftest import (
    WRITE_CONTACTS,
    flip_byte,
    publish,
    store_config,
    write_app,
)

BANK_OPERATIONS = {
    "operations": {
        "type": "io.cozy.bank.operations",
        "verbs": ["GET", "POST"],
        "description": "save your bank operations",
    }
}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Registries:
    root: Path
    component: Path
    key: SigningKey
    good: Path  # a signed folder registry
    served: Path  # the folder behind the loopback HTTP registry
    url: str
    tampered: Path
    unsigned: Path
    untrusted: Path
    config: Config

    def app(self, slug: str, version: str, **manifest: object) -> Path:
        return write_app(self.root / "apps", self.component, slug, version, **manifest)  # type: ignore[arg-type]

    def id(self, location: Path | str) -> str:
        return registry_id(str(location))


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Iterator[Registries]:
    build(EXAMPLES / "doc-stats")  # the 3 KB component every test package holds
    component = EXAMPLES / "doc-stats" / "app.wasm"
    root = tmp_path_factory.mktemp("store")
    key = generate_key_pair(root / "keys" / "trusted.key")
    other = generate_key_pair(root / "keys" / "other.key")
    served = root / "served"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    good, tampered, unsigned, untrusted = (
        root / name for name in ("good", "tampered", "unsigned", "untrusted")
    )
    regs = Registries(
        root,
        component,
        key,
        good,
        served,
        url,
        tampered,
        unsigned,
        untrusted,
        store_config(config, [str(good), url, str(tampered), str(unsigned), str(untrusted)], [key]),
    )
    publish(
        served,
        [
            regs.app(
                "fake-bank",
                "1.0.0",
                type="konnector",
                name="Fake Bank",
                permissions=BANK_OPERATIONS,
                egress=["https://bank.example.com"],
            )
        ],
        key,
    )
    publish(good, [regs.app("birthdays", "1.0.0", name="Birthdays")], key)
    publish(tampered, [regs.app("changed", "1.0.0", name="Changed app")], key)
    flip_byte(tampered / "packages" / "changed-1.0.0.tar.gz")
    publish(unsigned, [regs.app("unsigned", "1.0.0", name="Unsigned app")], None)
    publish(untrusted, [regs.app("stranger", "1.0.0", name="Stranger app")], other)
    yield regs
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def store_server(registries: Registries) -> Iterator[LiveServer]:
    """A live Roost configured with these registries and trusting only `registries.key`."""
    server = LiveServer(create_app(registries.config), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def store_site(
    store_server: LiveServer, new_instance: Callable[..., Awaitable[Instance]]
) -> Site:
    return Site(await new_instance("store"), store_server.port)


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[Page]:
    context = await new_context(browser, viewport=PHONE, locale="fr-FR")
    opened = await context.new_page()
    yield opened
    await context.close()


async def installed(services: Services, instance: Instance) -> dict[str, str]:
    """What the person installed (Banks installs its categoriser on its own)."""
    apps = await services.apps.list_installed(instance)
    return {a.slug: a.version for a in apps if a.slug != CATEGORISER}


def staged(services: Services, instance: Instance) -> list[Path]:
    folder = services.apps.root / "store-staging" / instance.domain
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def test_install_a_connector_from_the_store_through_the_consent_page(
    page: Page, store_site: Site, registries: Registries, services: Services
) -> None:
    await sign_in(page, store_site)
    await page.goto(store_site.url("/store"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Store")
    card = page.locator(".store-card[data-slug='fake-bank']")
    await expect(card.locator(".store-kind")).to_have_text("Connector · version 1.0.0")
    await expect(card).to_contain_text("Not installed")
    await expect(page.locator(".store-card[data-slug='birthdays']")).to_contain_text("App ·")
    # The registries that cannot be trusted are named with the reason; nothing of theirs shows.
    problems = page.locator(".store-problem")
    await expect(problems).to_have_count(2)
    await expect(problems.nth(0)).to_contain_text("is not signed")
    await expect(problems.nth(1)).to_contain_text("which this Roost does not trust")
    await expect(page.locator(".store-card[data-slug='unsigned']")).to_have_count(0)
    await expect(page.locator(".store-card[data-slug='stranger']")).to_have_count(0)
    await assert_accessible(page)

    await card.get_by_role("link", name="Fake Bank").click()
    await page.wait_for_url(store_site.url(f"/store/{registries.id(registries.url)}/fake-bank"))
    await expect(page.locator(".store-kind")).to_have_text(
        "Connector · version 1.0.0 · from Test registry"
    )
    section = page.locator("section.card")
    await expect(section.get_by_role("heading")).to_have_text(
        "If you install it, it will be able to"
    )
    await expect(section.locator(".store-lines li").first).to_have_text(
        "Read and create your bank operations (io.cozy.bank.operations) — save your bank operations"
    )
    await expect(section).to_contain_text("It can send data to: https://bank.example.com")
    await assert_accessible(page)

    await page.get_by_role("button", name="Install…").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Install Fake Bank")
    await expect(page.locator(".store-lines li").first).to_have_text(
        "Read and create your bank operations (io.cozy.bank.operations) — save your bank operations"
    )
    assert await installed(services, store_site.instance) == {}  # not before consent
    await assert_accessible(page)
    await screenshot(page, "store-consent-desktop")
    await page.get_by_role("button", name="Accept and install").click()
    await expect(page.locator("#store-done")).to_have_text("Fake Bank 1.0.0 is installed.")
    assert await installed(services, store_site.instance) == {"fake-bank": "1.0.0"}
    assert staged(services, store_site.instance) == []
    await page.goto(store_site.url("/store"))
    await expect(card).to_contain_text("Installed")


async def test_updates_ask_for_consent_only_when_they_ask_for_more(
    page: Page, store_site: Site, registries: Registries, services: Services
) -> None:
    instance = store_site.instance
    catalogue = Catalogue(registries.config, services.apps)
    good = registries.id(registries.good)
    item = await catalogue.item(instance, good, "birthdays")
    _, package = await catalogue.fetch(item)
    await services.apps.install(instance, package, consent=True)
    update = registries.app("birthdays", "1.1.0", name="Birthdays")
    publish(registries.good, [update], registries.key)

    await sign_in(page, store_site)
    await page.goto(store_site.url("/store"))
    card = page.locator(".store-card[data-slug='birthdays']")
    await expect(card).to_contain_text("Update available (you have 1.0.0)")
    await card.get_by_role("link", name="Birthdays").click()
    await expect(page.locator("section.card")).to_contain_text(
        "It asks for nothing more than the version you have"
    )
    await page.get_by_role("button", name="Update").click()
    # No consent page: straight back with the update done.
    await expect(page.locator("#store-done")).to_have_text("Birthdays is updated to version 1.1.0.")
    assert await installed(services, instance) == {"birthdays": "1.1.0"}

    publish(
        registries.good,
        [registries.app("birthdays", "2.0.0", name="Birthdays", permissions=WRITE_CONTACTS)],
        registries.key,
    )
    await page.goto(store_site.url(f"/store/{good}/birthdays"))
    lines = page.locator(".store-lines li")
    # Only what 2.0.0 asks beyond 1.1.0: creating contacts and calendar events.
    await expect(lines).to_have_text(
        [
            "Read and create your contacts (io.cozy.contacts) — show your contacts' birthdays",
            "Create your calendar events (io.cozy.calendar.events)"
            " — add birthdays to your calendar",
        ]
    )
    await page.get_by_role("button", name="Update").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Update Birthdays")
    await expect(page.locator(".store-lines li")).to_have_count(2)
    assert await installed(services, instance) == {"birthdays": "1.1.0"}
    await assert_accessible(page)
    await page.get_by_role("button", name="Accept and update").click()
    await expect(page.locator("#store-done")).to_have_text("Birthdays is updated to version 2.0.0.")
    assert await installed(services, instance) == {"birthdays": "2.0.0"}


async def test_tampered_unsigned_and_untrusted_packages_are_refused_and_nothing_changes(
    page: Page, store_site: Site, registries: Registries, services: Services
) -> None:
    instance = store_site.instance
    wasm_before = sorted((services.apps.root / "wasm").glob("*.wasm"))
    await sign_in(page, store_site)
    await page.goto(store_site.url("/store"))
    await page.locator(".store-card[data-slug='changed']").get_by_role("link").click()
    await page.get_by_role("button", name="Install…").click()
    error = page.locator("#store-error")
    await expect(error).to_contain_text("This package was refused.")
    await expect(error).to_contain_text(
        "the package changed 1.0.0 does not match its signed checksum: it was changed after signing"
    )
    await expect(error).to_contain_text("Nothing changed in your Roost.")
    await assert_accessible(page)

    for location, slug, reason in (
        (registries.unsigned, "unsigned", "is not signed"),
        (registries.untrusted, "stranger", "which this Roost does not trust"),
    ):
        answer = await page.goto(store_site.url(f"/store/{registries.id(location)}/{slug}"))
        assert answer is not None and answer.status == 422
        await expect(page.locator("#store-error")).to_contain_text(reason)
        await expect(page.locator("#store-error")).to_contain_text("Nothing changed in your Roost.")
        await assert_accessible(page)
        # A forged form post to install it is refused the same way.
        token = await page.evaluate("() => document.querySelector('input[name=csrf_token]').value")
        status, text = await page.evaluate(
            """async ([url, token]) => {
                const body = new URLSearchParams({csrf_token: token});
                const answer = await fetch(url, {method: "POST", body});
                return [answer.status, await answer.text()];
            }""",
            [f"/store/{registries.id(location)}/{slug}/install", token],
        )
        assert status == 422 and reason in text

    assert await installed(services, instance) == {}
    assert staged(services, instance) == []
    assert sorted((services.apps.root / "wasm").glob("*.wasm")) == wasm_before


async def test_the_store_on_a_phone_in_french(
    phone_page: Page, store_site: Site, registries: Registries
) -> None:
    await sign_in(phone_page, store_site)
    await phone_page.goto(store_site.url("/store"))
    await expect(phone_page.get_by_role("heading", level=1)).to_have_text("Store")
    search = phone_page.get_by_label("Trouver une application ou un connecteur")
    await search.fill("bank")
    await expect(phone_page.locator(".store-card:visible")).to_have_count(1)
    await assert_accessible(phone_page)
    await phone_page.get_by_role("heading", level=1).scroll_into_view_if_needed()
    await search.fill("")
    await phone_page.locator(".store-filter").evaluate("e => e.scrollIntoView()")
    await screenshot(phone_page, "store-phone")
    await phone_page.goto(store_site.url(f"/store/{registries.id(registries.url)}/fake-bank"))
    await expect(phone_page.get_by_role("button", name="Installer…")).to_be_visible()
    await assert_accessible(phone_page)
    await screenshot(phone_page, "store-detail-phone")
