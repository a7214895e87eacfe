"""Bank operations (`io.cozy.bank.operations`): one page at a time, newest first, filtered.

Pages come from the store through Mango indexes on `date` (and `account`, `date`), never by
reading every operation: the first page of 50,000 operations costs one indexed query. The
account and the date range are asked of the store; the words searched (found without case
or accents), the category (a rule over several fields, see
`categories.displayed_category`) and the amount (compared unsigned) are checked here, on
batches, with a bound on how many operations one request may scan — past it the page ends
early and its cursor goes on from where it stopped. A batch is sized from the share of
operations that matched so far: the store's time grows with what it reads (about 0.2 ms
per operation with PouchDB Server), so a search matching one operation in six reads about
what its page needs, not a fixed 500.

Paging is by key, not by Mango bookmark (PouchDB Server has none): a cursor is the date of
the last operation looked at and the ids already looked at on that date.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Final

from roost.banks.categories import CATEGORIES, displayed_category, parent_of
from roost.banks.doctypes import OPERATIONS_DOCTYPE
from roost.couch import CouchClient
from roost.errors import BadRequest
from roost.instances import Instance

PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200
_BATCH: Final = 500  # the most one store query of a checked page reads
# How many operations one page request may look at when filters are checked here.
SCAN_BUDGET: Final = 5000
_MAX_TIES: Final = 2000
MAX_SEARCH_LENGTH: Final = 100
_INDEXES: Final = (
    {
        "index": {"fields": ["date"]},
        "name": "roost-banks-date",
        "ddoc": "roost-banks-date",
        "type": "json",
    },
    {
        "index": {"fields": ["account", "date"]},
        "name": "roost-banks-account-date",
        "ddoc": "roost-banks-account-date",
        "type": "json",
    },
)


def account_of(doc: Mapping[str, Any]) -> str:
    """The operation's account id: Cozy's `account` field, else a `relationships` link."""
    account = doc.get("account")
    if isinstance(account, str):
        return account
    relationships = doc.get("relationships")
    if isinstance(relationships, dict):
        link = relationships.get("account")
        data = link.get("data") if isinstance(link, dict) else None
        if isinstance(data, dict) and isinstance(data.get("_id"), str):
            return str(data["_id"])
    return ""


def category_source(doc: Mapping[str, Any]) -> str:
    """Who chose the displayed category: "manual", "learned", "rules", "bank" or "none"."""
    shown = displayed_category(doc)
    if doc.get("manualCategoryId") == shown:
        return "manual"
    if doc.get("localCategoryId") == shown:
        return "learned"
    if doc.get("cozyCategoryId") == shown:
        return "rules"
    if doc.get("automaticCategoryId") == shown:
        return "bank"
    return "none"


@dataclass(frozen=True)
class Operation:
    id: str
    label: str
    amount: float
    currency: str
    date: str  # "YYYY-MM-DD…" as stored
    account: str
    category: str
    category_source: str
    bills: tuple[str, ...]  # io.cozy.bills ids
    doc: Mapping[str, Any]

    @property
    def day(self) -> str:
        return self.date[:10]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Operation:
        amount = doc.get("amount")
        currency = doc.get("currency")
        bills = doc.get("bills")
        refs = []
        if isinstance(bills, list):
            for ref in bills:
                if isinstance(ref, str) and ref.startswith("io.cozy.bills:"):
                    refs.append(ref.split(":", 1)[1])
        label = doc.get("label")
        return cls(
            id=str(doc["_id"]),
            label=label if isinstance(label, str) else "",
            amount=float(amount) if isinstance(amount, int | float) else 0.0,
            currency=currency if isinstance(currency, str) and len(currency) == 3 else "EUR",
            date=str(doc.get("date") or ""),
            account=account_of(doc),
            category=displayed_category(doc),
            category_source=category_source(doc),
            bills=tuple(refs),
            doc=doc,
        )


def _date(text: str, name: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadRequest(f"{name} must be a date written YYYY-MM-DD, not {text[:40]!r}") from None


def parse_amount(text: str, name: str) -> float:
    """A non-negative amount, with a dot or a comma for the decimals (`12.5`, `12,50`)."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"\d{1,12}([.,]\d{1,2})?", cleaned) is None:
        raise BadRequest(f"{name} must be an amount such as 120 or 49.90, not {text[:40]!r}")
    return float(cleaned.replace(",", "."))


@dataclass(frozen=True)
class OperationFilter:
    account: str | None = None
    category: str | None = None  # a parent id also selects its children
    date_from: str | None = None
    date_to: str | None = None
    amount_min: float | None = None  # unsigned
    amount_max: float | None = None
    words: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> OperationFilter:
        """From the page's query string; BadRequest says which field is wrong."""

        def given(name: str) -> str | None:
            value = params.get(name, "").strip()
            return value or None

        category = given("category")
        if category is not None and category not in CATEGORIES:
            raise BadRequest(f"category must be one of Cozy's category ids, not {category[:40]!r}")
        date_from = given("from")
        date_to = given("to")
        start = _date(date_from, "from") if date_from else None
        end = _date(date_to, "to") if date_to else None
        if start and end and start > end:
            raise BadRequest("the date range ends before it starts")
        low = given("min")
        high = given("max")
        amount_min = parse_amount(low, "min") if low else None
        amount_max = parse_amount(high, "max") if high else None
        if amount_min is not None and amount_max is not None and amount_min > amount_max:
            raise BadRequest("the smallest amount is larger than the largest")
        words = params.get("q", "").strip()
        if len(words) > MAX_SEARCH_LENGTH:
            raise BadRequest(f"the search is at most {MAX_SEARCH_LENGTH} characters")
        return cls(given("account"), category, start, end, amount_min, amount_max, words)

    @property
    def active(self) -> bool:
        return self != OperationFilter()

    @property
    def checked_here(self) -> bool:
        return (
            bool(self.words)
            or self.category is not None
            or (self.amount_min is not None or self.amount_max is not None)
        )

    @cached_property
    def _folded_words(self) -> tuple[str, ...]:
        """The words searched, folded once per filter rather than once per operation."""
        return tuple(_folded(self.words).split())

    def matches_here(self, operation: Operation) -> bool:
        """The conditions checked here (the store checked the account and the dates)."""
        if self.words:
            label = _folded(operation.label)
            if not all(word in label for word in self._folded_words):
                return False
        if self.category is not None:
            if self.category != operation.category and (
                self.category != parent_of(operation.category)
            ):
                return False
        size = abs(operation.amount)
        if self.amount_min is not None and size < self.amount_min:
            return False
        return self.amount_max is None or size <= self.amount_max

    def query(self) -> dict[str, str]:
        """The filter as query-string fields, for links to the next page."""
        fields = {
            "account": self.account or "",
            "category": self.category or "",
            "from": self.date_from or "",
            "to": self.date_to or "",
            "min": _plain(self.amount_min),
            "max": _plain(self.amount_max),
            "q": self.words,
        }
        return {key: value for key, value in fields.items() if value}


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class OperationCursor:
    before: str
    seen: tuple[str, ...] = field(default=())

    def encode(self) -> str:
        return " ".join((self.before, *self.seen))

    @classmethod
    def decode(cls, text: str) -> OperationCursor:
        parts = text.split()
        if not parts or len(parts) > 1 + _MAX_TIES or len(parts[0]) > 40:
            raise BadRequest("after must be the cursor a previous page gave")
        return cls(parts[0], tuple(parts[1:]))


@dataclass(frozen=True)
class OperationPage:
    operations: list[Operation]
    cursor: OperationCursor | None  # None: nothing older
    scanned: int


def _folded(text: str) -> str:
    """Lowercase without accents: "Électricité" is found by "electricite"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _next_batch(missing: int, found: int, scanned: int) -> int:
    """How many operations to ask the store for next: the matches still missing, scaled by
    the share that matched so far (a quarter more, for the margin), within
    [`missing` + 1, `_BATCH`]; all of `_BATCH` while nothing has matched yet."""
    if found == 0:
        return _BATCH
    estimate = math.ceil(missing * scanned / found * 1.25)
    return max(missing + 1, min(_BATCH, estimate))


class Operations:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        self._indexed: set[str] = set()

    async def ensure_indexes(self, instance: Instance) -> None:
        db = instance.db(OPERATIONS_DOCTYPE)
        if db not in self._indexed:
            for index in _INDEXES:
                await self.couch.create_index(db, index)
            self._indexed.add(db)

    async def page(
        self,
        instance: Instance,
        filters: OperationFilter,
        *,
        limit: int = PAGE_SIZE,
        after: OperationCursor | None = None,
    ) -> OperationPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise BadRequest(f"limit must be a number from 1 to {MAX_PAGE_SIZE}")
        await self.ensure_indexes(instance)
        db = instance.db(OPERATIONS_DOCTYPE)
        before = after.before if after else None
        seen = list(after.seen) if after else []
        found: list[Operation] = []
        scanned = 0
        # Unfiltered, a page is the next `limit` (+1 to know if there is more); checked
        # here, twice that to begin with, then what the share matched so far says.
        batch = min(_BATCH, 2 * (limit + 1)) if filters.checked_here else limit + 1
        while True:
            date_bound: dict[str, Any] = {"$gt": ""}
            if filters.date_from:
                date_bound = {"$gte": filters.date_from}
            upper = filters.date_to + "\uffff" if filters.date_to else None
            if before is not None:
                upper = min(upper, before) if upper else before
            if upper is not None:
                date_bound = {**date_bound, "$lte": upper}
            selector: dict[str, Any] = {"date": date_bound}
            sort: list[dict[str, str]] = [{"date": "desc"}]
            index = "roost-banks-date"
            if filters.account:
                selector = {"account": filters.account, **selector}
                sort = [{"account": "desc"}, {"date": "desc"}]
                index = "roost-banks-account-date"
            wanted = batch + len(seen)
            answer = await self.couch.find(
                db, {"selector": selector, "sort": sort, "use_index": index, "limit": wanted}
            )
            docs = answer.get("docs", [])
            full = len(docs) >= wanted
            skip = set(seen)
            fresh = [
                doc for doc in docs if doc["_id"] not in skip and isinstance(doc.get("date"), str)
            ]
            fresh.sort(key=lambda doc: (doc["date"], doc["_id"]), reverse=True)
            for doc in fresh:
                if doc["date"] != before:
                    before, seen = doc["date"], []
                seen.append(str(doc["_id"]))
                scanned += 1
                operation = Operation.from_doc(doc)
                if filters.matches_here(operation):
                    found.append(operation)
                if len(found) >= limit or scanned >= SCAN_BUDGET:
                    more = full or doc is not fresh[-1]
                    cursor = None
                    if more:
                        cursor = OperationCursor(str(doc["date"]), tuple(seen[-_MAX_TIES:]))
                    return OperationPage(found, cursor, scanned)
            if not full or not fresh:
                return OperationPage(found, None, scanned)
            if filters.checked_here:
                batch = _next_batch(limit - len(found), len(found), scanned)

    async def warm(self, instance: Instance) -> None:
        """Bring the page's indexes up to date now (a store builds an index when it is first
        asked): after an import, in the background, rather than on the person's next page."""
        await self.ensure_indexes(instance)
        db = instance.db(OPERATIONS_DOCTYPE)
        for index, selector, sort in (
            ("roost-banks-date", {"date": {"$gt": ""}}, [{"date": "desc"}]),
            (
                "roost-banks-account-date",
                {"account": {"$gt": ""}, "date": {"$gt": ""}},
                [{"account": "desc"}, {"date": "desc"}],
            ),
        ):
            await self.couch.find(
                db, {"selector": selector, "sort": sort, "use_index": index, "limit": 1}
            )

    async def ensure_corrections_index(self, instance: Instance) -> None:
        """The index the categoriser app's query for the person's corrections
        (`manualCategoryId`) uses on CouchDB; apps cannot make indexes themselves."""
        db = instance.db(OPERATIONS_DOCTYPE)
        key = db + " manual"
        if key not in self._indexed:
            await self.couch.create_index(
                db,
                {
                    "index": {"fields": ["manualCategoryId"]},
                    "name": "roost-banks-manual",
                    "ddoc": "roost-banks-manual",
                    "type": "json",
                },
            )
            self._indexed.add(key)

    async def since(
        self, instance: Instance, first_day: str, fields: list[str]
    ) -> list[dict[str, Any]]:
        """Every operation dated `first_day` or later (for the recurrence search)."""
        await self.ensure_indexes(instance)
        db = instance.db(OPERATIONS_DOCTYPE)
        docs: list[dict[str, Any]] = []
        before: str | None = None
        seen: set[str] = set()
        while True:
            bound: dict[str, Any] = {"$gte": first_day}
            if before is not None:
                bound["$lte"] = before
            answer = await self.couch.find(
                db,
                {
                    "selector": {"date": bound},
                    "sort": [{"date": "desc"}],
                    "use_index": "roost-banks-date",
                    "fields": ["_id", "date", *fields],
                    "limit": 2000 + len(seen),
                },
            )
            batch = answer.get("docs", [])
            fresh = [doc for doc in batch if doc["_id"] not in seen]
            docs.extend(fresh)
            if len(batch) < 2000 + len(seen) or not fresh:
                return docs
            before = min(doc["date"] for doc in fresh)
            seen = {doc["_id"] for doc in docs if doc["date"] == before}
