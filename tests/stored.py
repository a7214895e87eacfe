"""What the store holds, read straight from CouchDB rather than through the API under test:
a refusal test compares it before and after to show the refused request wrote nothing."""

from __future__ import annotations

from roost.instances import Instance
from roost.services import Services

FILES = "io.cozy.files"


async def stored_revs(services: Services, instance: Instance, doctype: str) -> dict[str, str]:
    """Every live document of `doctype` as id → current rev (any write changes one)."""
    listing = await services.couch.all_docs(instance.db(doctype))
    return {row["id"]: row["value"]["rev"] for row in listing["rows"]}


async def stored_databases(services: Services, instance: Instance) -> list[str]:
    """The instance's databases (a refused request for a new doctype must create none)."""
    return await services.couch.databases_under(instance.prefix)
