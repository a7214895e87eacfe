"""Saved CSV column mappings: how to read one bank's CSV export.

OFX, CAMT.053 and QIF say what each value is; a bank's CSV export does not: its columns are
named as the bank likes ("Date opération", "Débit euros"…). The import-bank app guesses the
usual French and English names, and for anything else reads the person's saved mappings,
`io.roost.bank.csvmappings` documents (schema in `roost/doctypes/schemas`):

    {"name": "Ma banque",
     "columns": {"date": "Jour", "label": "Opération", "debit": "Sorties",
                 "credit": "Entrées", "valueDate": "Jour de valeur"},
     "delimiter": ";", "decimalComma": true, "dayFirst": true,
     "account": {"number": "00012345678", "label": "Compte courant"}}

The first mapping whose columns are all in a file's header is used (the app's
`csv_statements.py`). Here: the form the Banks page posts, checked field by field (a form
with a problem saves nothing and says why, per field), and the saved mappings' storage,
through the documents service (schema checked, `cozyMetadata` stamped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from roost.documents import DocumentService
from roost.errors import BadRequest, NotFound
from roost.instances import Instance

__all__ = [
    "AMOUNT_COLUMNS",
    "MAPPINGS_DOCTYPE",
    "SEPARATORS",
    "CsvMappings",
    "MappingFormInvalid",
    "SavedMapping",
    "mapping_from_form",
]

MAPPINGS_DOCTYPE: Final = "io.roost.bank.csvmappings"
#: The separators the form offers: its value → the character.
SEPARATORS: Final[Mapping[str, str]] = {"semicolon": ";", "comma": ",", "tab": "\t"}
#: Form field → the mapping's column role, in the order the form shows them.
COLUMNS: Final[Mapping[str, str]] = {
    "date_column": "date",
    "label_column": "label",
    "amount_column": "amount",
    "debit_column": "debit",
    "credit_column": "credit",
    "value_date_column": "valueDate",
}
AMOUNT_COLUMNS: Final = ("amount", "debit", "credit")
MAX_TEXT: Final = 100
MAX_MAPPINGS: Final = 50
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

# Problems are English message ids (the page translates them, `banks.po`).
FILL_IN: Final = "Fill in this field."
TOO_LONG: Final = "This is too long."
UNTYPABLE: Final = "This holds characters that cannot be typed."
NO_AMOUNT: Final = "Name the amount column, or the debit and credit columns."
TWICE: Final = "Each column may be named once."
FROM_THE_LIST: Final = "Choose one from the list."


class MappingFormInvalid(BadRequest):
    """Some fields are wrong; ``problems`` maps a form field to why (an English message id)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__(
            "the CSV mapping was not saved: "
            + "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        )


def _text(fields: Mapping[str, str], name: str, problems: dict[str, str]) -> str:
    value = fields.get(name, "").strip()
    if len(value) > MAX_TEXT:
        problems[name] = TOO_LONG
    elif _CONTROL.search(value):
        problems[name] = UNTYPABLE
    return value


def mapping_from_form(fields: Mapping[str, str]) -> dict[str, Any]:
    """The mapping document's body from the Banks page's form, or MappingFormInvalid."""
    problems: dict[str, str] = {}
    columns: dict[str, str] = {}
    for field, role in COLUMNS.items():
        value = _text(fields, field, problems)
        if value:
            columns[role] = value
        elif role in ("date", "label"):
            problems[field] = FILL_IN
    if not any(role in columns for role in AMOUNT_COLUMNS) and "amount_column" not in problems:
        problems["amount_column"] = NO_AMOUNT
    seen: dict[str, str] = {}
    for field, role in COLUMNS.items():
        if role in columns:
            key = columns[role].casefold()
            if key in seen and field not in problems:
                problems[field] = TWICE
            seen.setdefault(key, field)
    separator = SEPARATORS.get(fields.get("separator", ""))
    if separator is None:
        problems["separator"] = FROM_THE_LIST
    date_order = fields.get("date_order", "")
    if date_order not in ("day", "month"):
        problems["date_order"] = FROM_THE_LIST
    name = _text(fields, "name", problems)
    number = _text(fields, "account_number", problems)
    label = _text(fields, "account_label", problems)
    if problems:
        raise MappingFormInvalid(problems)
    body: dict[str, Any] = {
        "columns": columns,
        "delimiter": separator,
        "decimalComma": fields.get("decimal_comma") == "on",
        "dayFirst": date_order == "day",
    }
    if name:
        body["name"] = name
    account = {key: value for key, value in (("number", number), ("label", label)) if value}
    if account:
        body["account"] = account
    return body


@dataclass(frozen=True)
class SavedMapping:
    id: str
    name: str
    columns: Mapping[str, str]
    separator: str  # a key of SEPARATORS ("" when the file's own is guessed)
    decimal_comma: bool
    day_first: bool
    account: Mapping[str, str]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> SavedMapping:
        def strings(value: object) -> dict[str, str]:
            if not isinstance(value, Mapping):
                return {}
            return {str(k): v for k, v in value.items() if isinstance(v, str) and v}

        delimiter = doc.get("delimiter")
        separator = next((k for k, v in SEPARATORS.items() if v == delimiter), "")
        return cls(
            id=str(doc["_id"]),
            name=str(doc.get("name") or ""),
            columns=strings(doc.get("columns")),
            separator=separator,
            decimal_comma=doc.get("decimalComma") is True,
            day_first=doc.get("dayFirst") is not False,
            account=strings(doc.get("account")),
        )


class CsvMappings:
    """The saved mappings of each instance."""

    def __init__(self, documents: DocumentService) -> None:
        self.documents = documents

    async def _docs(self, instance: Instance) -> list[dict[str, Any]]:
        found = await self.documents.find(
            instance, MAPPINGS_DOCTYPE, {"selector": {}, "limit": MAX_MAPPINGS + 1}
        )
        return [
            doc
            for doc in found.get("docs", [])
            if isinstance(doc, dict) and not str(doc.get("_id", "")).startswith("_design/")
        ]

    async def all(self, instance: Instance) -> list[SavedMapping]:
        """Oldest first: the order in which the importer tries them."""
        docs = await self._docs(instance)
        docs.sort(key=lambda doc: str((doc.get("cozyMetadata") or {}).get("createdAt") or ""))
        return [SavedMapping.from_doc(doc) for doc in docs]

    async def save(self, instance: Instance, body: Mapping[str, Any]) -> SavedMapping:
        if len(await self._docs(instance)) >= MAX_MAPPINGS:
            raise BadRequest(f"at most {MAX_MAPPINGS} CSV mappings; remove one first")
        doc = self.documents.prepare_new(MAPPINGS_DOCTYPE, dict(body), app_slug=None)
        return SavedMapping.from_doc(await self.documents.save(instance, MAPPINGS_DOCTYPE, doc))

    async def delete(self, instance: Instance, mapping_id: str) -> None:
        """Remove one (NotFound when there is none)."""
        if mapping_id.startswith("_"):
            raise NotFound("missing")
        doc = await self.documents.get(instance, MAPPINGS_DOCTYPE, mapping_id)
        await self.documents.delete(instance, MAPPINGS_DOCTYPE, mapping_id, str(doc["_rev"]))
