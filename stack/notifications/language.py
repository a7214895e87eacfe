"""The instance's language: what the stack says when no page is asking.

A page speaks the language of the browser that asks (`roost.web.i18n.language_of`); a
notification raised by a job — an alert, a failing connector, an update — has no browser
to ask. It is said in the instance's language, kept as Cozy keeps it: the `locale` of the
`io.cozy.settings.instance` document in the instance's `io.cozy.settings` database. The
person sets it when choosing a language in the shell (`POST /settings/language`); until
then it is the language of the browser they signed in with, when that is not English
(`adopt`, at sign-in), else English.
"""

from __future__ import annotations

from typing import Final

from roost.catalogues import DEFAULT_LANGUAGE, LANGUAGES
from roost.couch import CouchClient
from roost.errors import BadRequest, Conflict
from roost.instances import Instance

__all__ = ["INSTANCE_SETTINGS_ID", "SETTINGS_DOCTYPE", "InstanceLanguage"]

SETTINGS_DOCTYPE: Final = "io.cozy.settings"
INSTANCE_SETTINGS_ID: Final = "io.cozy.settings.instance"


class InstanceLanguage:
    """Read and set the `locale` of each instance's settings."""

    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def get(self, instance: Instance) -> str:
        """The instance's language, one of `LANGUAGES` (English when none was chosen)."""
        doc = await self.couch.get_doc_or_none(instance.db(SETTINGS_DOCTYPE), INSTANCE_SETTINGS_ID)
        locale = doc.get("locale") if doc is not None else None
        return locale if isinstance(locale, str) and locale in LANGUAGES else DEFAULT_LANGUAGE

    async def adopt(self, instance: Instance, language: str) -> None:
        """Take `language` (a browser's, at sign-in) when none was chosen yet; English, the
        default, is never written (nothing to remember)."""
        if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
            return
        doc = await self.couch.get_doc_or_none(instance.db(SETTINGS_DOCTYPE), INSTANCE_SETTINGS_ID)
        if doc is None or doc.get("locale") not in LANGUAGES:
            await self.set(instance, language)

    async def set(self, instance: Instance, language: str) -> None:
        """Keep `language` as the instance's; the other settings stay as they are."""
        if language not in LANGUAGES:
            raise BadRequest(f"language must be one of {', '.join(LANGUAGES)}")
        db = instance.db(SETTINGS_DOCTYPE)
        for _ in range(3):
            doc = await self.couch.get_doc_or_none(db, INSTANCE_SETTINGS_ID)
            current = doc or {"_id": INSTANCE_SETTINGS_ID}
            if current.get("locale") == language:
                return
            try:
                await self.couch.put_doc(db, {**current, "locale": language})
            except Conflict:
                continue  # changed meanwhile (another tab, another setting): read again
            return
        raise Conflict("the instance's settings kept changing; try again")
