"""E-mail of notifications: queued as a job when the person asked for it, sent by the job
to a real (loopback) SMTP server; nothing is sent to someone who did not ask."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from roost.config import Config
from roost.errors import BadRequest
from roost.instances import Instance
from roost.notifications import MAIL_WORKER
from roost.services import Services
from tests.notifications.smtp import Inbox, smtp_inbox  # noqa: F401

DEADLINE_SECONDS = 30.0


@pytest.fixture
async def mailing(config: Config, smtp_inbox: Inbox) -> AsyncIterator[Services]:  # noqa: F811
    """A stack process whose operator configured SMTP, its job runner on."""
    smtp = dataclasses.replace(
        config,
        smtp_host="127.0.0.1",
        smtp_port=smtp_inbox.port,
        smtp_from="roost@box.example",
        smtp_starttls=False,
    )
    built = Services.build(smtp, smtp.couchdb_url or "")
    await built.jobs.start()
    try:
        yield built
    finally:
        await built.aclose()


async def _mail_jobs_done(services: Services, instance: Instance, count: int) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        jobs = await services.jobs.list_jobs(instance, worker=MAIL_WORKER)
        if sum(1 for job in jobs if job.state == "done") >= count:
            return
        assert all(job.state != "errored" for job in jobs), [job.error for job in jobs]
        if time.monotonic() > deadline:
            raise AssertionError("the mail job did not finish in time")
        await asyncio.sleep(0.05)


async def test_a_notification_reaches_the_persons_mailbox(
    mailing: Services,
    instance: Instance,
    smtp_inbox: Inbox,  # noqa: F811
) -> None:
    await mailing.notifications.preferences.set(instance, "alice@example.org", True)
    await mailing.notifications.create(
        instance,
        source="banks",
        category="alert",
        title="Low balance: Compte courant",
        message="The balance of Compte courant is 42.00 EUR.",
        link="/banks?account=checking",
    )
    await _mail_jobs_done(mailing, instance, 1)
    [(recipients, message)] = smtp_inbox.messages
    assert recipients == ["alice@example.org"]
    assert message["Subject"] == "Low balance: Compte courant"
    assert message["From"] == "roost@box.example"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert "42.00 EUR" in body
    assert f"http://{instance.domain}:8080/banks?account=checking" in body


async def test_nothing_is_mailed_to_someone_who_did_not_ask(
    mailing: Services,
    instance: Instance,
    smtp_inbox: Inbox,  # noqa: F811
) -> None:
    await mailing.notifications.preferences.set(instance, "alice@example.org", False)
    await mailing.notifications.create(instance, source="stack", title="Quiet")
    assert await mailing.jobs.list_jobs(instance, worker=MAIL_WORKER) == []
    assert smtp_inbox.messages == []


@pytest.mark.parametrize("address", ["alice", "alice@example", "a b@example.org", "x@y.z\nBcc: e"])
async def test_a_malformed_address_is_refused_and_nothing_is_written(
    services: Services, instance: Instance, address: str
) -> None:
    with pytest.raises(BadRequest):
        await services.notifications.preferences.set(instance, address, True)
    assert (await services.notifications.preferences.get(instance)).address == ""
