"""Collect in a real browser: the bank connector (real wasm component) configured from its
form, run against the loopback fake bank, its run and data shown; a wrong password shown as
such in Collect and on Home, notified once for a failure streak; bad input saves nothing."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from roost.appstore.accounts import ACCOUNTS_DOCTYPE
from roost.appstore.collect import Collect
from roost.config import Config
from roost.instances import Instance
from roost.jobs import JobDoc
from roost.notifications import NOTIFICATIONS_DOCTYPE
from roost.services import Services
from tests.apps.conftest import EXAMPLES, build, cwasm_cache_dir
from tests.apps.servers import FakeBank, Server, serve
from tests.apps.stack_helpers import package
from tests.conftest import PASSPHRASE
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the connector

SLUG = "bank-connector"


@pytest.fixture(scope="module")
def bank_connector_built(config: Config) -> Path:
    build(EXAMPLES / SLUG)
    # Reuse compiled artifacts of earlier runs (same engine, same keys).
    target = config.cache_dir / "apps"
    target.mkdir(parents=True, exist_ok=True)
    source = cwasm_cache_dir()
    if source.is_dir():
        for path in source.glob("*.cwasm"):
            if not (target / path.name).exists():
                shutil.copyfile(path, target / path.name)
    return EXAMPLES / SLUG


@pytest.fixture
def bank() -> Iterator[Server]:
    with serve(FakeBank) as server:
        yield server


async def install_connector(services: Services, instance: Instance, bank: Server) -> None:
    """Installed as the Store will (consent given); its one allowed host is the fake bank."""
    read = await services.apps.read(package(SLUG, manifest_changes={"egress": [bank.url]}))
    await services.apps.install(instance, read, consent=True)


async def connector_jobs(services: Services, instance: Instance) -> list[JobDoc]:
    """The connector's jobs (the instance's other apps, such as Banks' categoriser, have
    their own)."""
    jobs = await services.jobs.list_jobs(instance, worker="app")
    return [job for job in jobs if job.message.get("slug") == SLUG]


async def run_queued_jobs(services: Services, instance: Instance, count: int = 1) -> list[JobDoc]:
    """Be the stack process that runs jobs (the live server runs none), until `count` jobs
    were queued and all are finished."""
    for _ in range(1200):  # bounded: polls, never a timed assertion
        await services.jobs.poll_once()
        jobs = await connector_jobs(services, instance)
        if len(jobs) >= count and all(job.finished for job in jobs):
            return jobs
        await asyncio.sleep(0.05)
    pytest.fail("the connector's job never finished")


async def notifications_of(services: Services, instance: Instance) -> list[dict[str, Any]]:
    found = await services.couch.find(
        instance.db(NOTIFICATIONS_DOCTYPE), {"selector": {}, "limit": 100}
    )
    return list(found.get("docs", []))


async def accounts_of(services: Services, instance: Instance) -> list[dict[str, Any]]:
    found = await services.couch.find(
        instance.db(ACCOUNTS_DOCTYPE), {"selector": {"account_type": SLUG}, "limit": 100}
    )
    return list(found.get("docs", []))


async def test_configure_run_and_see_the_data_it_brought(
    page: Page,
    browser: Browser,
    site: Site,
    services: Services,
    bank: Server,
    bank_connector_built: Path,
) -> None:
    await install_connector(services, site.instance, bank)
    await sign_in(page, site)
    await page.goto(site.url("/collect"))
    await expect(page.get_by_role("heading", name="Your connectors")).to_be_visible()
    await page.get_by_role("link", name="Bank connector").click()
    await page.wait_for_url(site.url(f"/collect/{SLUG}"))
    # What it may do, in plain words, without identifiers or rule syntax.
    access = page.locator("section[aria-labelledby=access-title]")
    await expect(access).to_contain_text("your bank operations")
    await expect(access).to_contain_text(f"127.0.0.1:{bank.port}")
    assert "io.cozy" not in await access.inner_text()
    await expect(page.locator("section[aria-labelledby=schedule-title]")).to_contain_text(
        "Every day around 05:00 (UTC)"
    )
    await expect(page.get_by_text("It has not run yet.")).to_be_visible()

    # Bad input: a clear message by the field, nothing saved, the password not sent back.
    form = page.locator("details.new-account form")
    await form.get_by_label("Customer number").fill(FakeBank.LOGIN)
    await form.get_by_label("Password").fill(FakeBank.PASSWORD)
    await form.get_by_label("Bank address").fill("bank dot example")
    await form.get_by_role("button", name="Add this account").click()
    await expect(page.get_by_text("Enter a web address starting with https://.")).to_be_visible()
    assert await accounts_of(services, site.instance) == []
    assert FakeBank.PASSWORD not in await page.content()
    await assert_accessible(page)

    form = page.locator("details.new-account form")
    await expect(form.get_by_label("Customer number")).to_have_value(FakeBank.LOGIN)
    await form.get_by_label("Password").fill(FakeBank.PASSWORD)
    await form.get_by_label("Bank address").fill(bank.url)
    await form.get_by_label("Name of this account").fill("My bank")
    await form.get_by_role("button", name="Add this account").click()
    await expect(page.get_by_role("heading", name="My bank")).to_be_visible()
    stored = await accounts_of(services, site.instance)
    assert len(stored) == 1 and FakeBank.PASSWORD not in json.dumps(stored)
    assert FakeBank.PASSWORD not in await page.content()

    # Run now: "Running…" while queued, then the outcome and the data, without a reload.
    await page.get_by_role("button", name="Run now").click()
    await expect(page.locator("#runs-region")).to_contain_text("Running…")
    jobs = await run_queued_jobs(services, site.instance)
    assert [job.state for job in jobs] == ["done"]
    assert jobs[0].result["data"]["io.cozy.bank.operations"]["created"] == 6
    runs = page.locator("#runs-region")
    await expect(runs).to_contain_text("Done")
    operations = runs.get_by_role("link", name="6 bank operations")
    await expect(operations).to_have_attribute("href", "/banks")
    await expect(runs.get_by_role("link", name="2 bank accounts")).to_be_visible()
    await expect(runs).not_to_contain_text("Running…")
    assert FakeBank.PASSWORD not in await page.content()
    await assert_accessible(page)
    assert await notifications_of(services, site.instance) == []

    # The list says when it last ran; a phone shows the connector's page whole.
    await page.goto(site.url("/collect"))
    await expect(page.locator(".connector-card")).to_contain_text("Last run")
    await assert_accessible(page)
    phone = await new_context(browser, viewport=PHONE)
    try:
        small = await phone.new_page()
        await sign_in(small, site)
        await small.goto(site.url(f"/collect/{SLUG}"))
        await expect(small.locator("#runs-region")).to_contain_text("6 bank operations")
        await small.locator("#runs").scroll_into_view_if_needed()
        await screenshot(small, "collect-phone")
        await assert_accessible(small)
    finally:
        await phone.close()


async def test_a_wrong_password_is_said_in_collect_and_on_home_and_notified_once(
    page: Page, site: Site, services: Services, bank: Server, bank_connector_built: Path
) -> None:
    await install_connector(services, site.instance, bank)
    await services.apps.accounts.create(
        site.instance,
        SLUG,
        {"login": FakeBank.LOGIN, "password": "not-the-password", "bank_url": bank.url},
        label="My bank",
    )
    await sign_in(page, site)
    await page.goto(site.url(f"/collect/{SLUG}"))
    for count in (1, 2):  # two failing runs in a row
        await page.get_by_role("button", name="Run now").click()
        await run_queued_jobs(services, site.instance, count)
        await expect(page.get_by_role("button", name="Run now")).to_be_enabled()
    jobs = await connector_jobs(services, site.instance)
    # A wrong password is not retried: the bank saw one login per run.
    assert sorted((job.state, job.attempts) for job in jobs) == [("errored", 1), ("errored", 1)]
    assert [hit[1] for hit in bank.hits].count("/api/login") == 2
    runs = page.locator("#runs-region .run")
    await expect(runs).to_have_count(2)
    await expect(runs.first).to_contain_text("Wrong password")
    await expect(runs.first).to_contain_text("Check them in the account below.")
    await assert_accessible(page)
    await page.locator("#runs").scroll_into_view_if_needed()
    await screenshot(page, "collect-desktop")

    notes = await notifications_of(services, site.instance)
    assert [(n["category"], n["link"], n["title"]) for n in notes] == [
        ("connector_failed", f"/collect/{SLUG}", "Bank connector: Wrong password")
    ]

    # Its scheduled run waits for the person: the bank sees no third wrong password.
    (trigger,) = [
        t for t in await services.jobs.list_triggers(site.instance) if t.message.get("slug") == SLUG
    ]
    await services.jobs.enqueue(site.instance, "app", trigger.message, trigger_id=trigger.id)
    jobs = await run_queued_jobs(services, site.instance, 3)
    (scheduled,) = [job for job in jobs if job.trigger_id == trigger.id]
    assert scheduled.state == "done" and "waiting for the person" in scheduled.result["skipped"]
    assert [hit[1] for hit in bank.hits].count("/api/login") == 2
    await page.reload()
    await expect(page.locator("#runs-region .run")).to_have_count(2)
    await expect(page.get_by_text("Its scheduled runs wait until you fix")).to_be_visible()

    await page.goto(site.url("/"))
    failure = page.locator(".connector-failure")
    await expect(failure).to_contain_text("Wrong password")
    await failure.get_by_role("link", name="Fix it in Collect").click()
    await page.wait_for_url(site.url(f"/collect/{SLUG}"))

    # Fixed, it works (the streak ends); failing again starts a new streak: one more.
    account = (await accounts_of(services, site.instance))[0]
    edit = page.locator(".account details")
    await edit.locator("summary").click()
    await expect(edit.get_by_label("Customer number")).to_have_value(FakeBank.LOGIN)
    await expect(edit.get_by_label("Password")).to_have_value("")
    await edit.get_by_label("Password").fill(FakeBank.PASSWORD)
    async with page.expect_navigation():
        await edit.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#runs-region .run")).to_have_count(2)
    await page.get_by_role("button", name="Run now").click()
    await run_queued_jobs(services, site.instance, 4)
    await expect(page.locator("#runs-region .run").first).to_contain_text("Done")
    opened = await services.apps.accounts.credentials(site.instance, account["_id"], SLUG)
    assert opened["password"] == FakeBank.PASSWORD and opened["bank_url"] == bank.url
    await services.apps.accounts.update(
        site.instance, SLUG, account["_id"], {**opened, "password": "wrong again"}
    )
    await page.get_by_role("button", name="Run now").click()
    await run_queued_jobs(services, site.instance, 5)
    await expect(page.locator("#runs-region .run").first).to_contain_text("Wrong password")
    assert len(await notifications_of(services, site.instance)) == 2


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_a_run_finishing_while_the_runs_are_read_is_still_pending_or_already_shown(
    site: Site,
    services: Services,
    bank: Server,
    bank_connector_built: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the page asks every second while a run is pending: whichever way the run and
    the reading interleave, the answer says "still running" or shows the run, never the
    previous run with nothing pending (the page would stop asking and show the old one)."""
    await install_connector(services, site.instance, bank)
    await services.apps.accounts.create(
        site.instance,
        SLUG,
        {"login": FakeBank.LOGIN, "password": FakeBank.PASSWORD, "bank_url": bank.url},
        label="My bank",
    )
    collect = Collect(services.apps, services.vfs)
    job = await collect.run_now(site.instance, SLUG, None)
    read_pending, read_recent = collect.pending, services.apps.connector_runs.recent
    between: list[str] = []

    async def then_run_it() -> None:
        if not between:  # after the first of the two reads, the whole run happens
            between.append("ran")
            await run_queued_jobs(services, site.instance, 1)

    async def pending(*args: Any) -> Any:
        found = await read_pending(*args)
        await then_run_it()
        return found

    async def recent(*args: Any) -> Any:
        found = await read_recent(*args)
        await then_run_it()
        return found

    monkeypatch.setattr(collect, "pending", pending)
    monkeypatch.setattr(services.apps.connector_runs, "recent", recent)
    section = await collect.runs(site.instance, SLUG)
    assert between == ["ran"]
    assert section.running or [r.run.job_id for r in section.runs] == [job.id]


async def test_forms_refuse_bad_input_and_forgeries_and_change_nothing(
    client: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    bank: Server,
    bank_connector_built: Path,
) -> None:
    await install_connector(services, instance, bank)
    assert (await client.post("/auth/login", json={"passphrase": PASSPHRASE})).status_code < 400
    page = await client.get(f"/collect/{SLUG}")
    assert page.status_code == 200
    token = _csrf(page.text)
    good = {"csrf_token": token, "login": "alice", "password": "p4ss", "bank_url": bank.url}

    # A forged form (no token) is refused; nothing saved.
    forged = await client.post(f"/collect/{SLUG}/accounts", data={**good, "csrf_token": "x"})
    assert forged.status_code == 403
    missing = await client.post(f"/collect/{SLUG}/accounts", data={"csrf_token": token})
    assert missing.status_code == 400
    assert "Fill in this field." in missing.text and "p4ss" not in missing.text
    bad_mail = await client.post(
        f"/collect/{SLUG}/accounts", data={**good, "bank_url": "javascript:alert(1)"}
    )
    assert bad_mail.status_code == 400 and "Enter a web address" in bad_mail.text
    assert "p4ss" not in bad_mail.text
    assert await accounts_of(services, instance) == []
    # Unknown connector, unknown account: 404, nothing made.
    assert (await client.get("/collect/no-such-thing")).status_code == 404
    nowhere = await client.post("/collect/no-such-thing/accounts", data=good)
    assert nowhere.status_code == 404
    assert (await client.post(f"/collect/{SLUG}/accounts/nope", data=good)).status_code == 404
    assert await accounts_of(services, instance) == []

    saved = await client.post(f"/collect/{SLUG}/accounts", data=good)
    assert saved.status_code == 303
    (account,) = await accounts_of(services, instance)
    shown = await client.get(f"/collect/{SLUG}")
    assert "p4ss" not in shown.text and "alice" in shown.text
    # In French too: the page's words and the domain's (schedule, what it may touch).
    french = await client.get(f"/collect/{SLUG}", headers={"Accept-Language": "fr-FR,fr"})
    for words in (
        "Ce qu'il peut faire",
        "Chaque jour vers 05:00 (UTC)",
        "vos opérations bancaires",
    ):
        assert words in french.text.replace("&#39;", "'"), words
    # Editing with an empty password keeps it; a bad edit changes nothing.
    edit = f"/collect/{SLUG}/accounts/{account['_id']}"
    kept = await client.post(edit, data={**good, "login": "bob", "password": ""})
    assert kept.status_code == 303
    opened = await services.apps.accounts.credentials(instance, account["_id"], SLUG)
    assert opened == {"login": "bob", "password": "p4ss", "bank_url": bank.url}
    refused = await client.post(edit, data={**good, "login": ""})
    assert refused.status_code == 400
    assert await services.apps.accounts.credentials(instance, account["_id"], SLUG) == opened
    # Run now on a missing account: 404, no job queued.
    run = await client.post(f"/collect/{SLUG}/run", data={"csrf_token": token, "account": "x"})
    assert run.status_code == 404
    assert await services.jobs.list_jobs(instance, worker="app") == []
    # Deleting is a form too: forged refused, real one deletes.
    gone = f"{edit}/delete"
    assert (await client.post(gone, data={"csrf_token": "x"})).status_code == 403
    assert len(await accounts_of(services, instance)) == 1
    assert (await client.post(gone, data={"csrf_token": token})).status_code == 303
    assert await accounts_of(services, instance) == []
