"""The person's choice about e-mail: their address and whether they want notifications
mailed. One document, `mail`, in the instance's `io.roost.notifications.settings`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from roost.couch import CouchClient
from roost.errors import BadRequest
from roost.instances import Instance

PREFERENCES_DOCTYPE: Final = "io.roost.notifications.settings"
MAIL_ID: Final = "mail"
# Deliberately simple: one @, no spaces or line breaks, a dot in the domain.
_ADDRESS: Final = re.compile(r"[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,190}\.[^@\s<>,;\"]{2,63}")


@dataclass(frozen=True)
class MailPreference:
    address: str
    enabled: bool


def valid_address(text: str) -> str:
    address = text.strip()
    if not _ADDRESS.fullmatch(address):
        raise BadRequest(f"{address[:60]!r} is not an e-mail address")
    return address


class MailPreferences:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def get(self, instance: Instance) -> MailPreference:
        doc = await self.couch.get_doc_or_none(instance.db(PREFERENCES_DOCTYPE), MAIL_ID)
        if doc is None:
            return MailPreference("", False)
        address = doc.get("address")
        return MailPreference(
            address if isinstance(address, str) else "", doc.get("enabled") is True
        )

    async def set(self, instance: Instance, address: str, enabled: bool) -> MailPreference:
        """BadRequest (nothing written) for an address that is not one, or none when
        e-mail is asked for."""
        cleaned = valid_address(address) if address.strip() else ""
        if enabled and not cleaned:
            raise BadRequest("give an e-mail address to receive notifications by e-mail")
        db = instance.db(PREFERENCES_DOCTYPE)
        current = await self.couch.get_doc_or_none(db, MAIL_ID)
        doc: dict[str, Any] = {
            "_id": MAIL_ID,
            "address": cleaned,
            "enabled": enabled,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        if current is not None:
            doc["_rev"] = current["_rev"]
        await self.couch.put_doc(db, doc)
        return MailPreference(cleaned, enabled)
