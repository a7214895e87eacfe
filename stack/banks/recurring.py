"""Recurring operations (subscriptions, salary, rent): found in the operations themselves.

Operations are grouped by the root of their label (its first telling words: no dates, card
numbers or bank wording), their direction (debit or credit) and account; inside a group, those
whose amount is within 10 % of the group's median amount form a series. A series of at least
three operations is recurring when the days between them are regular — a median gap of
about a week (5–9 days) or a month (26–35 days), with a median absolute deviation of the
gaps under 3 days (weekly) or 5 days (monthly), as Cozy Banks' recurrence service asks.

Pure: the Banks job (`service.py`) reads the operations and stores what this returns as
`io.cozy.bank.recurrence` documents (Cozy's fields, plus Roost's `frequency`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from roost.banks.categories import displayed_category
from roost.banks.operations import account_of

MIN_OCCURRENCES: Final = 3
MIN_AMOUNT: Final = 1.0
AMOUNT_TOLERANCE: Final = 0.10
# (name, smallest median gap, largest median gap, largest median absolute deviation)
FREQUENCIES: Final = (("weekly", 5, 9, 3.0), ("monthly", 26, 35, 5.0))
ROOT_WORDS: Final = 3
_LABEL_WORD: Final = re.compile(r"[a-z][a-z0-9]+")
# How money moved, not what for: the same series reads "PRLV SEPA NETFLIX" or "CB NETFLIX".
_BANK_WORDING: Final = frozenset(
    """cb carte card prlv prelevement sepa vir virement recu emis paiement payment achat
    facture fact du de la le les des et a au aux en sur par pour ref reference mandat ech
    echeance dt ct the of to from inst instant europeen fr eur n no num""".split()
)


@dataclass(frozen=True)
class Recurrence:
    id: str
    label: str
    frequency: str  # "weekly" | "monthly"
    amount: float  # the median amount, signed
    count: int
    first: str  # "YYYY-MM-DD"
    latest: str
    latest_amount: float
    next_expected: str
    status: str  # "ongoing" | "finished"
    category: str
    account: str
    median_gap: float

    def to_doc(self) -> dict[str, Any]:
        """An `io.cozy.bank.recurrence` document (Cozy's field names)."""
        return {
            "_id": self.id,
            "automaticLabel": self.label,
            "amounts": [self.amount],
            "categoryIds": [self.category],
            "status": self.status,
            "stats": {"deltas": {"median": self.median_gap}},
            "latestDate": self.latest,
            "latestAmount": self.latest_amount,
            "accounts": [self.account] if self.account else [],
            "frequency": self.frequency,
            "count": self.count,
            "firstDate": self.first,
            "nextDate": self.next_expected,
            "createdByRoost": True,
        }


def label_root(label: str) -> str:
    """The label's first telling words, folded: what stays the same from month to month."""
    decomposed = unicodedata.normalize("NFKD", label.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    telling = (
        word
        for word in _LABEL_WORD.findall(plain)
        # Dates and card numbers (digits past the first letter, masked XXXX) change each time.
        if word not in _BANK_WORDING and not any(map(str.isdigit, word[1:])) and set(word) != {"x"}
    )
    return " ".join(itertools.islice(telling, ROOT_WORDS))


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _series(operations: list[tuple[date, float, Mapping[str, Any]]]) -> list[list[Any]]:
    """Split a group into series of similar amounts (10 % around the median)."""
    remaining = sorted(operations, key=lambda item: item[0])
    found = []
    while len(remaining) >= MIN_OCCURRENCES:
        middle = statistics.median(abs(amount) for _, amount, _ in remaining)
        near = [
            item for item in remaining if abs(abs(item[1]) - middle) <= middle * AMOUNT_TOLERANCE
        ]
        if len(near) < MIN_OCCURRENCES:
            break
        found.append(near)
        chosen = {id(item) for item in near}
        remaining = [item for item in remaining if id(item) not in chosen]
    return found


def _next_month(day: date) -> date:
    """The same day a month later (the month's last day when it is shorter)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(candidate, day.day))
        except ValueError:
            continue
    return date(year, month, 28)


def detect(docs: Iterable[Mapping[str, Any]], today: date) -> list[Recurrence]:
    groups: dict[tuple[str, str, str], list[tuple[date, float, Mapping[str, Any]]]] = defaultdict(
        list
    )
    for doc in docs:
        day = _day(doc.get("date"))
        amount = doc.get("amount")
        label = doc.get("label")
        if day is None or not isinstance(amount, int | float) or not isinstance(label, str):
            continue
        if abs(amount) < MIN_AMOUNT:
            continue
        root = label_root(label)
        if not root:
            continue
        direction = "credit" if amount > 0 else "debit"
        groups[(root, direction, account_of(doc))].append((day, float(amount), doc))
    found = []
    for (root, direction, account), members in groups.items():
        for series in _series(members):
            days = [day for day, _, _ in series]
            gaps = [(later - earlier).days for earlier, later in itertools.pairwise(days)]
            gaps = [gap for gap in gaps if gap > 0]
            if len(gaps) < MIN_OCCURRENCES - 1:
                continue
            median_gap = statistics.median(gaps)
            spread = statistics.median(abs(gap - median_gap) for gap in gaps)
            frequency = next(
                (
                    name
                    for name, low, high, deviation in FREQUENCIES
                    if low <= median_gap <= high and spread < deviation
                ),
                None,
            )
            if frequency is None:
                continue
            amounts = [amount for _, amount, _ in series]
            latest_day, latest_amount, latest_doc = series[-1]
            next_day = (
                _next_month(latest_day)
                if frequency == "monthly"
                else latest_day + timedelta(days=round(median_gap))
            )
            late = today - latest_day > timedelta(days=round(median_gap * 1.5 + 3))
            categories = Counter(displayed_category(doc) for _, _, doc in series)
            key = f"{root}|{direction}|{account}|{round(statistics.median(amounts))}"
            found.append(
                Recurrence(
                    id="roost-" + hashlib.sha256(key.encode()).hexdigest()[:24],
                    label=str(latest_doc.get("label") or root),
                    frequency=frequency,
                    amount=round(statistics.median(amounts), 2),
                    count=len(series),
                    first=days[0].isoformat(),
                    latest=latest_day.isoformat(),
                    latest_amount=latest_amount,
                    next_expected=next_day.isoformat(),
                    status="finished" if late else "ongoing",
                    category=categories.most_common(1)[0][0],
                    account=account,
                    median_gap=float(median_gap),
                )
            )
    found.sort(key=lambda recurrence: (recurrence.status != "ongoing", -abs(recurrence.amount)))
    return found
