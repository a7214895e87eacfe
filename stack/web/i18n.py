"""French and English for the pages: the person's language, gettext and formats.

The catalogues themselves are `roost.catalogues`' (shared with the notifications).

The language of a page is, in order: the owner's choice (the `roost_lang` cookie set by
`POST /settings/language`), then the browser's `Accept-Language`, then English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from babel import Locale, negotiate_locale
from babel.dates import format_datetime
from babel.numbers import format_decimal
from starlette.requests import Request

from roost.catalogues import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "LOCALE_DIR",
    "PageLanguage",
    "language_of",
    "translations",
]

LANGUAGE_COOKIE: Final = "roost_lang"
_UNITS: Final = ("B", "KB", "MB", "GB", "TB")
_UNITS_FR: Final = ("o", "Ko", "Mo", "Go", "To")


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    header = request.headers.get("accept-language", "")
    preferred = []
    for part in header.split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag and tag != "*":
            preferred.append(tag)
    found = negotiate_locale(preferred, list(LANGUAGES), sep="_")
    if found is None:
        # `fr_FR` alone does not match `fr` in negotiate_locale: compare primary tags too.
        found = next((t.split("_")[0] for t in preferred if t.split("_")[0] in LANGUAGES), None)
    return found or DEFAULT_LANGUAGE


@dataclass(frozen=True)
class PageLanguage:
    """What a template needs to speak one language: gettext and number/date formats."""

    code: str

    def gettext(self, message: str, **values: object) -> str:
        text = translations(self.code).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        text = translations(self.code).ngettext(singular, plural, count)
        return text % {"count": count, **values}

    def size(self, size: int | None) -> str:
        """Bytes for a person: `1.4 MB`, `1,4 Mo`."""
        if size is None:
            return ""
        units = _UNITS_FR if self.code == "fr" else _UNITS
        value = float(size)
        unit = 0
        while value >= 1000 and unit < len(units) - 1:
            value /= 1000
            unit += 1
        pattern = "#,##0" if unit == 0 or value >= 100 else "#,##0.#"
        return f"{format_decimal(value, format=pattern, locale=self.code)}\u00a0{units[unit]}"

    def datetime(self, iso: str | None) -> str:
        from roost.vfs.filedoc import parse_time

        moment = parse_time(iso) if iso else None
        if moment is None:
            return ""
        return format_datetime(moment, format="medium", locale=Locale.parse(self.code))
