"""Fixtures for the Banks suite: Cozy-shaped accounts and operations written the way an
importer or a phone writes them (`_bulk_docs` on the replication API, with a token), and
the stack's job runner started for the tests that follow the `@event` path, with the
categoriser app (`categorise-operations`, a Python guest) built and compiled once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.banks import WORKER
from roost.banks.categoriser_app import SLUG as CATEGORISER
from roost.config import Config
from roost.couch import CouchClient
from roost.instances import Instance
from roost.jobs import DONE, ERRORED, JobDoc
from roost.services import Services
from tests.apps.conftest import compiled_into

BANK_SCOPE = "io.cozy.bank.accounts io.cozy.bank.operations io.cozy.bills"
DEADLINE_SECONDS = 60.0

Seed = Callable[[str, list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]


def account(
    doc_id: str, label: str, *, balance: float | None = None, **fields: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": doc_id,
        "label": label,
        "institutionLabel": "Banque Test",
        "type": "Checkings",
        "currency": "EUR",
        **fields,
    }
    if balance is not None:
        doc["balance"] = balance
    return doc


def operation(
    doc_id: str, label: str, amount: float, day: str, account_id: str = "checking", **fields: Any
) -> dict[str, Any]:
    """An `io.cozy.bank.operations` document as Cozy's konnectors and Roost's importers
    write it: signed amount, ISO date, the account's id in `account`."""
    return {
        "_id": doc_id,
        "label": label,
        "amount": amount,
        "date": f"{day}T00:00:00Z",
        "currency": "EUR",
        "account": account_id,
        **fields,
    }


@pytest.fixture
async def seed(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> Seed:
    token = await issue_token(instance, BANK_SCOPE)

    async def write(doctype: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = await client.post(
            f"/data/{doctype}/_bulk_docs",
            json={"docs": docs},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        answer: list[dict[str, Any]] = response.json()
        assert all("ok" in row or "rev" in row for row in answer), answer
        return answer

    return write


@pytest.fixture(scope="session")
def categoriser_compiled(config: Config) -> Path:
    """The categoriser app built, compiled once into the shared cache, and its artifact in
    the stack's cache: the install Banks makes compiles nothing more."""
    return compiled_into(config, CATEGORISER)


@pytest.fixture
async def running_jobs(services: Services, categoriser_compiled: Path) -> AsyncIterator[Services]:
    """The suite's services with their job runner on, as `roost serve` runs it."""
    await services.jobs.start()
    try:
        yield services
    finally:
        await services.jobs.stop()
        await services.jobs.flush_events()


def _banks_work(job: JobDoc) -> bool:
    return job.worker == WORKER or job.message.get("slug") == CATEGORISER


async def banks_jobs_done(services: Services, instance: Instance) -> list[JobDoc]:
    """Wait until the changes so far are handled: every debounced trigger fired, and every
    Banks and categoriser job finished (each must be done), the writes they made included."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    quiet = 0
    await services.banks.settle()  # the categoriser installed, if it was being
    while True:
        await services.jobs.flush_events()
        jobs = [
            job
            for worker in (WORKER, "app")
            for job in await services.jobs.list_jobs(instance, worker=worker, limit=1000)
            if _banks_work(job)
        ]
        if jobs and all(job.state in (DONE, ERRORED) for job in jobs):
            quiet += 1  # twice in a row: a job's own writes fired no further one
            if quiet == 2:
                assert [job.error for job in jobs if job.state == ERRORED] == []
                return jobs
        else:
            quiet = 0
        if time.monotonic() > deadline:
            raise AssertionError(f"Banks jobs not finished in time: {[j.state for j in jobs]}")
        await asyncio.sleep(0.05)


async def stored(couch: CouchClient, instance: Instance, doctype: str) -> list[dict[str, Any]]:
    answer = await couch.all_docs(instance.db(doctype), params={"include_docs": True})
    return [
        row["doc"]
        for row in answer.get("rows", [])
        if isinstance(row.get("doc"), dict) and not row["id"].startswith("_design/")
    ]


async def banks_settled(services: Services, instance: Instance) -> None:
    """The Banks and categoriser jobs finished, and the refresh they scheduled (sums,
    balance alerts, recurring series) done too."""
    await banks_jobs_done(services, instance)
    await services.banks.settle()
