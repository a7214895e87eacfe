"""The French and English catalogues, with no HTTP in sight.

The catalogues are `web/locale/{lang}/LC_MESSAGES/*.po` — `messages.po` for the shell and the
first spaces, one more file per later space (`banks.po`, `store.po`…), merged into one
catalogue; they are compiled in memory once, on first use, with Babel (no `.mo` file to keep
in step with its `.po`). English is the source language: its catalogue is empty and a
message is its own translation.

The pages (`roost.web.i18n`) and the words the stack says outside any page — notifications
and their e-mails (`roost.notifications.words`) — read the same catalogues; this module sits
outside `roost.web` so that the domain never imports the HTTP layer.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES: Final = ("en", "fr")
DEFAULT_LANGUAGE: Final = "en"
LOCALE_DIR: Final = Path(__file__).parent / "web" / "locale"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of `language` (English: the identity)."""
    sources = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    if language == DEFAULT_LANGUAGE or not sources:
        return NullTranslations()
    catalog = None
    for po in sources:
        with po.open("rb") as source:
            part = read_po(source, locale=language)
        if catalog is None:
            catalog = part
            continue
        for message in part:
            if message.id and message.id not in catalog:
                catalog[message.id] = message
    assert catalog is not None
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)
