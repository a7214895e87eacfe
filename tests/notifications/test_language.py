"""Notifications in the person's language: the person chooses French in the shell, and the
alerts the stack raises later — from a job, with no page asking — are written in French, in
the bell and in the e-mail the loopback SMTP server receives. Every word the stack says in a
notification has its French, with the same placeholders."""

from __future__ import annotations

import ast
import asyncio
import re
import time
from email.header import decode_header, make_header
from pathlib import Path

import httpx

from roost.banks.doctypes import ACCOUNTS_DOCTYPE, OPERATIONS_DOCTYPE
from roost.catalogues import translations
from roost.instances import Instance
from roost.notifications import MAIL_WORKER, NOTIFICATIONS_DOCTYPE, Day, Money, Words
from roost.services import Services
from tests.banks.conftest import Seed, account, banks_settled, operation, seed, stored  # noqa: F401
from tests.conftest import PASSPHRASE
from tests.notifications.smtp import Inbox, smtp_inbox  # noqa: F401
from tests.notifications.test_mail import mailing  # noqa: F401

STACK = Path(__file__).resolve().parents[2] / "stack"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
DEADLINE_SECONDS = 60.0


async def _choose(client: httpx.AsyncClient, language: str = "fr") -> None:
    """What the person does in the shell: sign in, pick a language, Change."""
    login = await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    assert login.status_code < 400, login.text
    home = await client.get("/notifications")
    found = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert found is not None
    chosen = await client.post(
        "/settings/language",
        data={"csrf_token": found.group(1), "language": language, "redirect": "/notifications"},
    )
    assert chosen.status_code == 303, chosen.text


async def _mails(services: Services, instance: Instance, inbox: Inbox, count: int) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        jobs = await services.jobs.list_jobs(instance, worker=MAIL_WORKER)
        assert all(job.state != "errored" for job in jobs), [job.error for job in jobs]
        if sum(1 for job in jobs if job.state == "done") >= count and len(inbox.messages) >= count:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the e-mails did not arrive in time")
        await asyncio.sleep(0.05)  # the SMTP server runs in its own thread


async def test_a_french_instance_is_alerted_and_mailed_in_french(
    mailing: Services,  # noqa: F811
    client: httpx.AsyncClient,
    instance: Instance,
    seed: Seed,  # noqa: F811
    smtp_inbox: Inbox,  # noqa: F811
) -> None:
    assert await mailing.notifications.language.get(instance) == "en"
    await _choose(client)
    assert await mailing.notifications.language.get(instance) == "fr"

    await mailing.notifications.preferences.set(instance, "alice@example.org", True)
    await mailing.banks.ensure_trigger(instance)
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant")])
    await seed(OPERATIONS_DOCTYPE, [operation("pay", "VIR SALAIRE", 1800.0, "2026-03-01")])
    await banks_settled(mailing, instance)
    await mailing.banks.add_alert(instance, "balanceLower", "100", None)
    await mailing.banks.add_alert(instance, "transactionGreater", "1500", None)
    # The rent takes the balance from 1,800 to 50: two alerts.
    await seed(OPERATIONS_DOCTYPE, [operation("rent", "PRLV LOYER MARS", -1750.0, "2026-03-03")])
    await banks_settled(mailing, instance)

    notes = {n["title"]: n for n in await stored(mailing.couch, instance, NOTIFICATIONS_DOCTYPE)}
    assert sorted(notes) == ["Débit de 1\u202f750,00 EUR", "Solde bas : Compte courant"]
    assert notes["Solde bas : Compte courant"]["message"] == (
        "Le solde de Compte courant est de 50,00 EUR, sous votre alerte à 100,00 EUR."
    )
    assert notes["Débit de 1\u202f750,00 EUR"]["message"] == (
        "PRLV LOYER MARS le 3 mars 2026 : plus que votre alerte à 1\u202f500,00 EUR."
    )

    await _mails(mailing, instance, smtp_inbox, 2)
    mails = {
        str(make_header(decode_header(message["Subject"]))): message
        for _, message in smtp_inbox.messages
    }
    assert sorted(mails) == sorted(notes)
    payload = mails["Solde bas : Compte courant"].get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "Le solde de Compte courant est de 50,00 EUR" in payload.decode()


async def test_the_browser_language_at_sign_in_until_the_person_chooses(
    services: Services, client: httpx.AsyncClient, instance: Instance
) -> None:
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    signed = await client.post("/auth/login", json={"passphrase": PASSPHRASE}, headers=french)
    assert signed.status_code < 400
    assert await services.notifications.language.get(instance) == "fr"
    await _choose(client, "en")
    assert await services.notifications.language.get(instance) == "en"
    # A choice stays, whatever browser signs in next.
    again = await client.post("/auth/login", json={"passphrase": PASSPHRASE}, headers=french)
    assert again.status_code < 400
    assert await services.notifications.language.get(instance) == "en"


async def test_an_instance_that_chose_nothing_is_told_in_english(
    services: Services, instance: Instance
) -> None:
    made = await services.notifications.create(
        instance,
        source="banks",
        category="alert",
        title=Words("Low balance: %(account)s", {"account": "Compte courant"}),
        message=Words(
            "The balance of %(account)s is %(balance)s, below your alert at %(limit)s.",
            {
                "account": "Compte courant",
                "balance": Money(-1234.5, "EUR"),
                "limit": Money(0, "EUR"),
            },
        ),
    )
    assert made.title == "Low balance: Compte courant"
    assert made.message == (
        "The balance of Compte courant is -1,234.50 EUR, below your alert at 0.00 EUR."
    )
    assert Day("2026-10-06T00:00:00Z").said_in("en") == "Oct 6, 2026"


def _stack_words() -> set[str]:
    """Every English message id the stack hands to `Words(...)`, read from its source."""
    found: set[str] = set()
    for path in STACK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Words"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_word_the_stack_notifies_has_its_french() -> None:
    words = _stack_words()
    # The alerts, the failing connectors, the outbox and the Store's updates at least.
    assert {
        "Low balance: %(account)s",
        "%(name)s: %(problem)s",
        "%(app)s asks to send a message to %(host)s",
        "%(name)s %(version)s is available",
    } <= words
    french = translations("fr")
    assert [w for w in sorted(words) if french.gettext(w) == w] == []
    for message in words:
        assert _PLACEHOLDER.findall(french.gettext(message)) == _PLACEHOLDER.findall(message)
