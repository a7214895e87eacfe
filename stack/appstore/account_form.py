"""A connector's account form, built from its manifest's ``fields``, and its checking.

Field types (``roost.apps.manifest.FIELD_TYPES``): ``text``, ``password``, ``email``,
``number``, ``date``, ``url`` are shown as inputs of that type; ``hidden`` fields are not
shown (the connector has its own default). A password is never sent back to the page: when
an account is edited, an empty password keeps the stored one. Every value is checked
before anything is saved; a form with a problem saves nothing and says, per field, why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import urlsplit

from roost.apps.manifest import AppManifest
from roost.errors import BadRequest

__all__ = ["AccountForm", "AccountFormInvalid", "FormField", "form_fields", "read_account_form"]

MAX_VALUE_CHARS: Final = 1000
MAX_LABEL_CHARS: Final = 100
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FormField:
    name: str
    type: str  # the <input> type
    label: str
    required: bool

    @property
    def secret(self) -> bool:
        return self.type == "password"


def form_fields(manifest: AppManifest) -> list[FormField]:
    """The inputs of the account form, in the manifest's order (hidden fields left out)."""
    return [
        FormField(f.name, f.type, f.label, f.required)
        for f in manifest.fields
        if f.type != "hidden"
    ]


class AccountFormInvalid(BadRequest):
    """Some fields are wrong; ``problems`` maps a field name to why (an English message id)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__(
            "the account was not saved: "
            + "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        )


@dataclass(frozen=True)
class AccountForm:
    label: str
    credentials: dict[str, Any]


def _problem(field: FormField, value: str) -> str | None:
    if len(value) > MAX_VALUE_CHARS:
        return "This is too long."
    if _CONTROL.search(value):
        return "This holds characters that cannot be typed."
    if field.type == "email" and not _EMAIL.match(value):
        return "Enter an e-mail address such as name@example.org."
    if field.type == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "Enter a web address starting with https://."
    if field.type == "number":
        try:
            float(value)
        except ValueError:
            return "Enter a number."
    if field.type == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "Enter a date as YYYY-MM-DD."
    return None


def read_account_form(
    manifest: AppManifest,
    form: Mapping[str, str],
    *,
    stored: Mapping[str, Any] | None = None,
) -> AccountForm:
    """The label and credentials the form holds; :class:`AccountFormInvalid` otherwise.

    ``stored``: the account's current credentials when it is being edited (an empty
    password then keeps the stored one; hidden fields keep their stored value).
    """
    problems: dict[str, str] = {}
    credentials: dict[str, Any] = {}
    for field in manifest.fields:
        if field.type == "hidden":
            if stored is not None and field.name in stored:
                credentials[field.name] = stored[field.name]
            continue
        raw = form.get(field.name, "")
        value = raw if field.type == "password" else raw.strip()
        if not value:
            if field.type == "password" and stored and stored.get(field.name):
                credentials[field.name] = stored[field.name]
            elif field.required:
                problems[field.name] = "Fill in this field."
            continue
        why = _problem(FormField(field.name, field.type, field.label, field.required), value)
        if why is not None:
            problems[field.name] = why
        else:
            credentials[field.name] = value
    label = form.get("label", "").strip()
    if len(label) > MAX_LABEL_CHARS or _CONTROL.search(label):
        problems["label"] = "Give a shorter name, with letters and digits."
    if problems:
        raise AccountFormInvalid(problems)
    return AccountForm(label or manifest.name, credentials)
