"""What the stack tells the person, said in the instance's language.

A notification is stored as the words the person reads, once: the bell, the Notifications
page and the e-mail show the same text, written when it was raised. So the stack does not
hand `Notifications.create` English sentences but `Words`: an English message id (the key of
the `.po` catalogues, as on the pages) and its values. Values may be words themselves
(`Words`), an amount of money (`Money`) or a day (`Day`), each said the language's way
("1 234,56 EUR", "6 oct. 2026"); anything else is put in as it is (a label, a name).

An app's own `notify` passes plain strings: they are the app's words, kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Protocol

from babel.dates import format_date
from babel.numbers import format_decimal

from roost.catalogues import DEFAULT_LANGUAGE, LANGUAGES, translations

__all__ = ["Day", "Money", "Said", "Text", "Words", "said"]

_AMOUNT: Final = "#,##0.00"


class Said(Protocol):
    """Anything that can be said in one of `LANGUAGES`."""

    def said_in(self, language: str) -> str: ...


@dataclass(frozen=True)
class Money:
    amount: float
    currency: str

    def said_in(self, language: str) -> str:
        # The code after the number ("40.00 EUR") reads the same in both languages and for
        # every currency; only the separators change.
        number = format_decimal(self.amount, format=_AMOUNT, locale=_known(language))
        return f"{number} {self.currency}"


@dataclass(frozen=True)
class Day:
    """A calendar day, given as ISO `YYYY-MM-DD` (anything longer is cut to the day)."""

    iso: str

    def said_in(self, language: str) -> str:
        try:
            day = date.fromisoformat(self.iso[:10])
        except ValueError:
            return self.iso
        return format_date(day, format="medium", locale=_known(language))


@dataclass(frozen=True)
class Words:
    """An English message id with `%(name)s` placeholders, and their values."""

    text: str
    values: Mapping[str, Said | str | int | float] = field(default_factory=dict)

    def said_in(self, language: str) -> str:
        translated = translations(_known(language)).gettext(self.text)
        if not self.values:
            return translated
        return translated % {name: _value(value, language) for name, value in self.values.items()}


#: What a notification's title or message may be: the stack's words, or an app's own text.
Text = Words | str


def said(text: Text, language: str) -> str:
    return text if isinstance(text, str) else text.said_in(language)


def _value(value: Said | str | int | float, language: str) -> str | int | float:
    if isinstance(value, str | int | float):
        return value
    return value.said_in(language)


def _known(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE
