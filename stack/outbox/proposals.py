"""The proposal document and its states.

One ``io.roost.outbox`` document per proposal, in the instance's database::

    {"_id", "app", "url", "method", "destination" (canonical origin), "headers",
     "body" (UTF-8 text) | "body_base64", "body_sha256", "summary", "reference",
     "state", "created_at", "expires_at", "decided_at", "sent_at", "answer", "error"}

States: ``proposed`` → ``sending`` (the one conditional transition an approval makes) →
``sent`` or ``failed``; ``proposed`` → ``refused``; a ``proposed`` document past its
``expires_at`` is ``expired`` whether or not that was written yet. Nothing but ``sending``
ever leads to a request.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Final

from roost.types import JSONDoc

__all__ = [
    "FINAL_STATES",
    "OUTBOX_DOCTYPE",
    "STATES",
    "app_view",
    "body_bytes",
    "effective_state",
    "parse_time",
]

OUTBOX_DOCTYPE: Final = "io.roost.outbox"
STATES: Final = ("proposed", "sending", "sent", "failed", "refused", "expired")
FINAL_STATES: Final = frozenset({"sent", "failed", "refused", "expired"})


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def effective_state(doc: JSONDoc, now: datetime) -> str:
    """The state as the person and the app see it: a proposal past its time is expired."""
    state = str(doc.get("state", "proposed"))
    if state == "proposed":
        expires = parse_time(doc.get("expires_at"))
        if expires is None or expires <= now:
            return "expired"
    return state


def body_bytes(doc: JSONDoc) -> bytes:
    """Exactly the bytes that leave (or would leave) when the proposal is sent."""
    if isinstance(doc.get("body_base64"), str):
        return base64.b64decode(doc["body_base64"])
    body = doc.get("body")
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else b""


def app_view(doc: JSONDoc, now: datetime) -> dict[str, Any]:
    """What the proposing app reads back (``outbox.get``/``list``)."""
    view: dict[str, Any] = {
        "id": doc["_id"],
        "state": effective_state(doc, now),
        **{
            key: doc.get(key)
            for key in (
                "app",
                "url",
                "method",
                "destination",
                "headers",
                "summary",
                "reference",
                "created_at",
                "expires_at",
                "decided_at",
                "sent_at",
                "answer",
                "error",
            )
        },
    }
    if "body_base64" in doc:
        view["body_base64"] = doc["body_base64"]
    else:
        view["body"] = doc.get("body", "")
    return view
