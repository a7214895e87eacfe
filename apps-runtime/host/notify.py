"""``roost:app/notify``: notifications to the person."""

from __future__ import annotations

from typing import Any

from roost.apps.context import RunContext
from roost.apps.host.core import Call, HostImpl, enforce, need_service
from roost.apps.services import Invalid

__all__ = ["FUNCTIONS", "NOTIFICATIONS_DOCTYPE"]

NOTIFICATIONS_DOCTYPE = "io.cozy.notifications"


def _notify(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    title, message = args
    enforce(run, "POST", NOTIFICATIONS_DOCTYPE, None, surface="stack")
    notifier = need_service(run.services.notifier, "notify")
    if not title or len(title) > 200 or len(message) > 4000:
        raise Invalid("title must be 1-200 characters and message at most 4000")
    result = run.bridge(notifier.notify(run.app, title, message))
    call.count, call.bytes = 1, len(title) + len(message)
    return result


FUNCTIONS: list[tuple[str, str, HostImpl]] = [("notify", "POST", _notify)]
