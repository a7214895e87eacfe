"""`BankService`: what Banks does with the person's accounts and operations.

Categories come from a sandboxed service app, not from the stack: `categorise-operations`
(examples/apps, its model in examples/apps/sdk/roost_categoriser.py) runs in WebAssembly on
new operations — whatever wrote them: an importer app, a connector, a replicated phone, the
`/data` API — retrains from the person's corrections at each run and writes its guesses; it
holds only its grant, and nothing leaves the box. `categoriser_app.py` makes sure every
instance has it installed; the person never installs it.

The `banks` job worker runs on changes of operations and accounts (an `@event` trigger
debounced by `TRIGGER_DEBOUNCE`: a statement of 10,000 operations is one job, told of every
change):

1. the alerts (`alerts.py`) are checked: an operation larger than a rule's amount when it
   arrives, a health reimbursement once the operation is categorised (when it arrives
   categorised, or when the categoriser's write reaches it), and the balances (below); they
   raise notifications through `roost.notifications`;
2. a little later (`RECURRENCE_DELAY`, once per burst) the sums are computed again
   (`summary.py`), the balances checked against the low-balance alerts, and the recurring
   series (`recurring.py`) searched again and stored as `io.cozy.bank.recurrence` documents.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from roost.banks.accounts import Account, Accounts, balance_of
from roost.banks.alerts import (
    REIMBURSEMENT,
    STATE_FIELD,
    TRANSACTION_GREATER,
    AccountBalance,
    Alert,
    balance_alerts,
    operation_alerts,
    rules_of,
    with_rule,
    without_rule,
)
from roost.banks.categories import CATEGORIES
from roost.banks.categoriser_app import SLUG as CATEGORISER
from roost.banks.categoriser_app import AppInstalls, CategoriserApp
from roost.banks.doctypes import (
    ACCOUNTS_DOCTYPE,
    OPERATIONS_DOCTYPE,
    RECURRENCE_DOCTYPE,
    SETTINGS_DOCTYPE,
    SETTINGS_ID,
)
from roost.banks.operations import Operation, Operations
from roost.banks.recurring import Recurrence, detect
from roost.banks.reimbursements import Reimbursements
from roost.banks.summary import Summaries
from roost.couch import CouchClient
from roost.documents import DocumentService
from roost.errors import BadRequest, Conflict, NotFound, RoostError
from roost.instances import Instance, InstanceService
from roost.jobs import JobDoc, JobService
from roost.jobs.own_triggers import OwnTrigger
from roost.notifications import Notifications

log = logging.getLogger("roost.banks")

WORKER: Final = "banks"
# One trigger per instance, with a fixed id so two processes creating it make one.
TRIGGER_ID: Final = "io.roost.banks"
TRIGGER_ARGUMENTS: Final = (
    f"{OPERATIONS_DOCTYPE}:CREATED,UPDATED {ACCOUNTS_DOCTYPE}:CREATED,UPDATED"
)
TRIGGER_DEBOUNCE: Final = "1s"
#: Operations read per store request when a job looks at its changes.
READ_PAGE: Final = 1000
RECURRENCE_DELAY: Final = 2.0
RECURRENCE_WINDOW_DAYS: Final = 400
_RECURRENCE_FIELDS: Final = [
    "label",
    "amount",
    "account",
    "relationships",
    "manualCategoryId",
    "localCategoryId",
    "localCategoryProba",
    "cozyCategoryId",
    "cozyCategoryProba",
    "automaticCategoryId",
]


@dataclass(frozen=True)
class AlertRuleView:
    kind: str
    id: int
    value: float
    account: str | None


class BankService:
    def __init__(
        self,
        couch: CouchClient,
        documents: DocumentService,
        jobs: JobService,
        notifications: Notifications,
        instances: InstanceService,
        apps: AppInstalls | None = None,
    ) -> None:
        self.couch = couch
        self.instances = instances
        self.documents = documents
        self.jobs = jobs
        self.notifications = notifications
        self.accounts = Accounts(couch)
        self.operations = Operations(couch)
        self.summaries = Summaries(couch)
        self.reimbursements = Reimbursements(couch)
        self.trigger = OwnTrigger(
            jobs, TRIGGER_ID, "@event", TRIGGER_ARGUMENTS, WORKER, debounce=TRIGGER_DEBOUNCE
        )
        self.categoriser = CategoriserApp(apps, jobs) if apps is not None else None
        self._refresh_dirty: dict[str, Instance] = {}
        self._refresh_tasks: dict[str, asyncio.Task[None]] = {}

    # -- the job -------------------------------------------------------------------------

    def attach_jobs(self) -> None:
        """Register the `banks` worker in this process's job runner."""
        self.jobs.register_worker(
            WORKER,
            self.run_job,
            concurrency=2,
            timeout_seconds=60.0,
            max_attempts=3,
            backoff_seconds=1.0,
            # One at a time per instance: each run reads and writes the alert state.
            per_instance=1,
        )

    async def ensure_trigger(self, instance: Instance) -> None:
        """Make sure the instance has its Banks trigger and the categoriser app (checked
        once per process)."""
        await self.trigger.ensure(instance)
        if self.categoriser is not None:
            await self.categoriser.ensure(instance)

    async def on_startup(self) -> None:
        """Give every instance its trigger (instances made by an older Roost have none)."""
        try:
            instances = await self.instances.list()
        except RoostError as error:
            log.warning("Banks triggers not checked", extra={"fields": {"error": error.reason}})
            return
        for instance in instances:
            try:
                await self.ensure_trigger(instance)
            except RoostError as error:
                log.warning(
                    "Banks trigger not made",
                    extra={"fields": {"domain": instance.domain, "error": error.reason}},
                )

    async def run_job(self, instance: Instance, job: JobDoc) -> dict[str, Any]:
        changes = _changes_of(job.message)
        if not changes:
            raise NotFound("the job names no operation or account (an @event)")
        operations: dict[str, set[str]] = {}
        accounts = False
        for doctype, verb, doc_id in changes:
            if doctype == OPERATIONS_DOCTYPE:
                operations.setdefault(doc_id, set()).add(verb)
            elif doctype == ACCOUNTS_DOCTYPE:
                accounts = True
        if operations:
            await self.operations.ensure_corrections_index(instance)
        told = await self.operations_changed(instance, operations) if operations else 0
        if accounts:
            # A balance the bank gave (a statement's closing balance): the alerts look now.
            told += await self.check_balances(instance)
        # The sums, the balances' alerts and the recurring series follow once the burst of
        # operations (a statement) is in: `RECURRENCE_DELAY` after the last one.
        self.schedule_refresh(instance)
        return {"operations": len(operations), "alerts": told}

    async def operations_changed(self, instance: Instance, changes: dict[str, set[str]]) -> int:
        """Tell the alerts the changed operations raise (`changes`: id → event verbs)."""
        rules = [rule for rule in rules_of(await self.settings(instance)) if rule.enabled]
        if not any(rule.kind in (TRANSACTION_GREATER, REIMBURSEMENT) for rule in rules):
            return 0
        db = instance.db(OPERATIONS_DOCTYPE)
        ids = sorted(changes)
        told = 0
        for start in range(0, len(ids), READ_PAGE):
            answer = await self.couch.all_docs(
                db, keys=ids[start : start + READ_PAGE], params={"include_docs": True}
            )
            for row in answer.get("rows", []):
                doc = row.get("doc")
                if not isinstance(doc, dict):
                    continue  # deleted meanwhile
                kinds = _alert_kinds(doc, changes.get(str(doc["_id"]), set()))
                chosen = [rule for rule in rules if rule.kind in kinds]
                if chosen:
                    told += await self._tell(
                        instance, operation_alerts(chosen, Operation.from_doc(doc))
                    )
        return told

    async def _tell(self, instance: Instance, alerts: list[Alert]) -> int:
        for alert in alerts:
            await self.notifications.create(
                instance,
                source="banks",
                category="alert",
                title=alert.title,
                message=alert.message,
                link=alert.link,
            )
        return len(alerts)

    async def balances(self, instance: Instance) -> list[AccountBalance]:
        accounts = await self.accounts.all(instance)
        sums = (await self.summaries.current(instance)).by_account if accounts else {}
        return [
            AccountBalance(account.id, account.label, balance_of(account, sums), account.currency)
            for account in accounts
        ]

    async def check_balances(
        self, instance: Instance, settings: dict[str, Any] | None = None
    ) -> int:
        """Tell the low balances that crossed a rule's line; the state is written back."""
        for _ in range(3):
            current = settings if settings is not None else await self.settings(instance)
            settings = None
            rules = rules_of(current)
            if not any(rule.kind == "balanceLower" and rule.enabled for rule in rules):
                return 0
            state = current.get(STATE_FIELD)
            known = (
                {k: v for k, v in state.items() if isinstance(v, str)}
                if isinstance(state, dict)
                else {}
            )
            alerts, new_state = balance_alerts(rules, await self.balances(instance), known)
            if new_state == known:
                return 0
            try:
                await self._save_settings(instance, {**current, STATE_FIELD: new_state})
            except Conflict:
                continue  # the person changed an alert meanwhile: look again
            return await self._tell(instance, alerts)
        raise Conflict("the Banks settings kept changing; the job will try again")

    # -- settings and alerts ---------------------------------------------------------------

    async def settings(self, instance: Instance) -> dict[str, Any]:
        doc = await self.couch.get_doc_or_none(instance.db(SETTINGS_DOCTYPE), SETTINGS_ID)
        return doc if doc is not None else {"_id": SETTINGS_ID}

    async def _save_settings(self, instance: Instance, doc: dict[str, Any]) -> None:
        body = {key: value for key, value in doc.items() if key not in ("_id", "_rev")}
        db = instance.db(SETTINGS_DOCTYPE)
        previous = await self.couch.get_doc_or_none(db, SETTINGS_ID)
        if previous is not None and previous.get("_rev") != doc.get("_rev"):
            raise Conflict("Document update conflict: the revision is stale")
        if previous is None:
            prepared = self.documents.prepare_new(
                SETTINGS_DOCTYPE, body, app_slug=None, doc_id=SETTINGS_ID
            )
        else:
            prepared = self.documents.prepare_update(
                SETTINGS_DOCTYPE,
                SETTINGS_ID,
                {**body, "_rev": previous["_rev"]},
                previous,
                app_slug=None,
            )
        await self.documents.save(instance, SETTINGS_DOCTYPE, prepared)

    async def alert_rules(self, instance: Instance) -> list[AlertRuleView]:
        return [
            AlertRuleView(rule.kind, rule.id, rule.value, rule.account)
            for rule in rules_of(await self.settings(instance))
            if rule.enabled
        ]

    async def add_alert(
        self, instance: Instance, kind: str, value_text: str, account_id: str | None
    ) -> None:
        """BadRequest (nothing written) for an unknown kind, a non-number or an account
        that does not exist."""
        if account_id and await self.accounts.get(instance, account_id) is None:
            raise BadRequest("there is no such account")
        await self.ensure_trigger(instance)
        for _ in range(3):
            current = await self.settings(instance)
            try:
                await self._save_settings(
                    instance, with_rule(current, kind, value_text, account_id or None)
                )
            except Conflict:
                continue
            # A new low-balance rule looks at today's balances at once.
            await self.check_balances(instance)
            return
        raise Conflict("the Banks settings kept changing; try again")

    async def remove_alert(self, instance: Instance, kind: str, rule_id: int) -> None:
        current = await self.settings(instance)
        await self._save_settings(instance, without_rule(current, kind, rule_id))

    # -- corrections -------------------------------------------------------------------------

    async def correct_category(
        self, instance: Instance, operation_id: str, category_id: str, rev: str | None = None
    ) -> dict[str, Any]:
        """The person's category for an operation (`manualCategoryId`, Cozy's field); the
        local model learns it at its next run. NotFound / BadRequest write nothing."""
        if category_id not in CATEGORIES:
            raise BadRequest(f"{category_id[:40]!r} is not one of Cozy's category ids")
        if not operation_id or operation_id.startswith("_"):
            raise NotFound("missing")
        previous = await self.documents.get(instance, OPERATIONS_DOCTYPE, operation_id)
        if rev is not None and rev != previous.get("_rev"):
            raise Conflict("Document update conflict: the revision is stale")
        body = {**previous, "manualCategoryId": category_id}
        updated = self.documents.prepare_update(
            OPERATIONS_DOCTYPE, operation_id, body, previous, app_slug=None
        )
        saved = await self.documents.save(instance, OPERATIONS_DOCTYPE, updated)
        self.jobs.notify_change(instance, OPERATIONS_DOCTYPE, "UPDATED", saved)
        self.schedule_refresh(instance)
        return saved

    # -- recurrences ---------------------------------------------------------------------

    def schedule_refresh(self, instance: Instance) -> None:
        """Soon, once for a burst of operations: sum them again, tell the balances that
        crossed an alert's line, search the recurring series again."""
        self._refresh_dirty[instance.domain] = instance
        task = self._refresh_tasks.get(instance.domain)
        if task is None or task.done():
            self._refresh_tasks[instance.domain] = asyncio.get_running_loop().create_task(
                self._refresh_later(instance.domain)
            )

    async def _refresh_later(self, domain: str) -> None:
        while domain in self._refresh_dirty:
            await asyncio.sleep(RECURRENCE_DELAY)
            instance = self._refresh_dirty.pop(domain, None)
            if instance is None:
                return
            try:
                await self.refresh(instance)
            except Exception:
                log.exception("Banks sums and series not refreshed", extra={"fields": {}})

    async def refresh(self, instance: Instance) -> None:
        await self.operations.warm(instance)
        await self.summaries.compute(instance)
        await self.check_balances(instance)
        await self.refresh_recurrences(instance)

    async def settle(self) -> None:
        """Wait for the refreshes scheduled and the categoriser installs started so far
        (tests, shutdown)."""
        if self.categoriser is not None:
            await self.categoriser.settle()
        while any(not task.done() for task in self._refresh_tasks.values()):
            await asyncio.gather(*self._refresh_tasks.values(), return_exceptions=True)

    async def refresh_recurrences(
        self, instance: Instance, today: date | None = None
    ) -> list[Recurrence]:
        """Search the last RECURRENCE_WINDOW_DAYS of operations; store what is found (and
        forget series Roost found before that are no longer there)."""
        day = today or datetime.now(UTC).date()
        first = (day - timedelta(days=RECURRENCE_WINDOW_DAYS)).isoformat()
        docs = await self.operations.since(instance, first, _RECURRENCE_FIELDS)
        found = detect(docs, day)
        db = instance.db(RECURRENCE_DOCTYPE)
        existing = await self.couch.all_docs(db, params={"include_docs": True})
        previous = {
            row["id"]: row["doc"]
            for row in existing.get("rows", [])
            if isinstance(row.get("doc"), dict) and row["doc"].get("createdByRoost") is True
        }
        writes: list[dict[str, Any]] = []
        for recurrence in found:
            doc = recurrence.to_doc()
            old = previous.pop(recurrence.id, None)
            if old is not None:
                if "manualLabel" in old:
                    doc["manualLabel"] = old["manualLabel"]
                if all(old.get(key) == value for key, value in doc.items()):
                    continue
                doc["_rev"] = old["_rev"]
            writes.append(doc)
        for gone in previous.values():
            writes.append({"_id": gone["_id"], "_rev": gone["_rev"], "_deleted": True})
        if writes:
            await self.couch.bulk_docs(db, writes)
        return found

    async def recurrences(self, instance: Instance) -> list[dict[str, Any]]:
        answer = await self.couch.all_docs(
            instance.db(RECURRENCE_DOCTYPE), params={"include_docs": True, "limit": 500}
        )
        docs = [
            row["doc"]
            for row in answer.get("rows", [])
            if isinstance(row.get("doc"), dict) and not str(row["id"]).startswith("_design/")
        ]
        docs.sort(key=lambda doc: (doc.get("status") != "ongoing", -abs(_amount(doc)), doc["_id"]))
        return docs

    async def account(self, instance: Instance, account_id: str) -> Account | None:
        return await self.accounts.get(instance, account_id)

    async def aclose(self) -> None:
        if self.categoriser is not None:
            await self.categoriser.aclose()
        for task in self._refresh_tasks.values():
            task.cancel()
        await asyncio.gather(*self._refresh_tasks.values(), return_exceptions=True)


def _changes_of(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(doctype, verb, id) of each change a job is about: a debounced trigger's `events`,
    else its one `event`."""
    events = message.get("events")
    if isinstance(events, dict) and isinstance(events.get("changes"), list):
        if events.get("complete") is False:
            log.warning("Banks job told of part of its changes only")
        return [
            (str(c.get("doctype")), str(c.get("verb")), str(c.get("id")))
            for c in events["changes"]
            if isinstance(c, dict) and c.get("id")
        ]
    event = message.get("event")
    if isinstance(event, dict) and isinstance(event.get("doc"), dict):
        doc_id = event["doc"].get("_id")
        if isinstance(doc_id, str):
            return [(str(event.get("doctype")), str(event.get("verb")), doc_id)]
    return []


def _alert_kinds(doc: dict[str, Any], verbs: set[str]) -> set[str]:
    """Which operation alerts a change may raise: "larger than" when the operation arrives;
    "reimbursement" once it is categorised — on arrival when its writer categorised it,
    else when the categoriser's write reaches it (the categoriser writes an operation once)."""
    metadata = doc.get("cozyMetadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    writers = [w for w in metadata.get("updatedByApps") or [] if isinstance(w, dict)]
    by_categoriser = any(w.get("slug") == CATEGORISER for w in writers)
    last = writers[-1] if writers else {}
    categoriser_wrote_last = last.get("slug") == CATEGORISER and last.get("date") == metadata.get(
        "updatedAt"
    )
    kinds: set[str] = set()
    if "CREATED" in verbs:
        kinds.add(TRANSACTION_GREATER)
        if doc.get("toCategorize") is False and not by_categoriser:
            kinds.add(REIMBURSEMENT)
    if "UPDATED" in verbs and categoriser_wrote_last:
        kinds.add(REIMBURSEMENT)
    return kinds


def _amount(doc: dict[str, Any]) -> float:
    amounts = doc.get("amounts")
    if isinstance(amounts, list) and amounts and isinstance(amounts[0], int | float):
        return float(amounts[0])
    return 0.0
