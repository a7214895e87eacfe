"""`/settings/disk-usage`: how much room the files take and how much is left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from roost.permissions import DocumentTarget, PermissionDenied, decide
from roost.web.file_access import FileAccess
from roost.web.files_answers import jsonapi

SETTINGS_DOCTYPE: Final = "io.cozy.settings"
DISK_USAGE_ID: Final = "io.cozy.settings.disk-usage"


async def disk_usage(request: Request) -> Response:
    """GET /settings/disk-usage: for the owner, a grant on the disk-usage setting, or any
    grant on files (an uploader needs to know how much room is left)."""
    access = await FileAccess.of(request)
    if not any(access.holds_some(verb) for verb in ("GET", "POST", "PUT")):
        decision = decide(
            access.principal.permissions,
            "GET",
            SETTINGS_DOCTYPE,
            DocumentTarget({"_id": DISK_USAGE_ID}),
            now=datetime.now(UTC),
            surface="stack",
        )
        if decision.hidden:
            # The setting exists on every instance: no secret to keep, refuse openly.
            raise PermissionDenied(
                "GET", SETTINGS_DOCTYPE, f"no GET permission on this {SETTINGS_DOCTYPE} document"
            )
        decision.enforce()
    usage = await access.vfs.disk_usage(access.instance)
    return jsonapi(
        {
            "data": {
                "type": SETTINGS_DOCTYPE,
                "id": DISK_USAGE_ID,
                "attributes": usage.to_json(),
                "meta": {},
            }
        }
    )
