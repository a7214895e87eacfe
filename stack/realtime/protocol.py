"""The cozy-stack realtime protocol: client messages, server messages, limits, close codes.

Client → server (JSON text frames, at most `MAX_MESSAGE_BYTES`, method case-insensitive):

    {"method": "AUTH", "payload": "<token or app password>"}   (or "" with the session cookie)
    {"method": "SUBSCRIBE", "payload": {"type": "<doctype>", "id": "<optional id>"}}
    {"method": "UNSUBSCRIBE", "payload": {"type": "<doctype>", "id": "<optional id>"}}

Server → client:

    {"event": "CREATED" | "UPDATED" | "DELETED", "payload": {"type", "id", "doc"}}
    {"event": "error", "payload": {"status", "code", "title", "source"}}

The error shape and statuses (401, 403, 404, 405) are cozy-stack's (web/realtime/realtime.go);
429 (too many subscriptions) and 400 (malformed message) are Roost's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "CLOSE_POLICY",
    "CLOSE_SLOW_CONSUMER",
    "MAX_MESSAGE_BYTES",
    "SUBPROTOCOL",
    "ClientMessage",
    "ProtocolError",
    "error_message",
    "parse_client_message",
]

SUBPROTOCOL: Final = "io.cozy.websocket"
MAX_MESSAGE_BYTES: Final = 1024

# Closed by policy: bad or missing AUTH, a token revoked or expired, a session ended.
CLOSE_POLICY: Final = 1008
# The client read too slowly and its queue of events filled up ("try again later").
CLOSE_SLOW_CONSUMER: Final = 1013

METHODS: Final = ("AUTH", "SUBSCRIBE", "UNSUBSCRIBE")


class ProtocolError(Exception):
    """A message the server answers with an `error` event (the socket stays open)."""

    def __init__(self, status: int, code: str, title: str, source: Any = None) -> None:
        super().__init__(title)
        self.status = status
        self.code = code
        self.title = title
        self.source = source

    def message(self) -> str:
        return error_message(self.status, self.code, self.title, self.source)


def error_message(status: int, code: str, title: str, source: Any = None) -> str:
    payload: dict[str, Any] = {"status": str(status), "code": code, "title": title}
    if source is not None:
        payload["source"] = source
    return json.dumps({"event": "error", "payload": payload})


@dataclass(frozen=True)
class ClientMessage:
    method: str  # AUTH | SUBSCRIBE | UNSUBSCRIBE
    secret: str = ""  # AUTH: the token or app password ("" = use the session cookie)
    doctype: str = ""  # SUBSCRIBE / UNSUBSCRIBE
    doc_id: str | None = None


def parse_client_message(text: str | bytes) -> ClientMessage:
    """One client frame as a `ClientMessage`, or `ProtocolError` saying what is wrong."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError(400, "bad_request", f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(400, "bad_request", "a message is a JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError(400, "bad_request", "a message is a JSON object")
    method = data.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ProtocolError(405, "method not allowed", f"unknown method {method!r}", method)
    method = method.upper()
    payload = data.get("payload")
    if method == "AUTH":
        if payload is None:
            payload = ""
        if not isinstance(payload, str):
            raise ProtocolError(401, "unauthorized", "AUTH takes a token string as payload")
        return ClientMessage("AUTH", secret=payload.strip())
    if not isinstance(payload, dict):
        raise ProtocolError(404, "not found", "missing type in the payload")
    doctype = payload.get("type")
    if not isinstance(doctype, str) or not doctype:
        raise ProtocolError(404, "not found", "missing type in the payload")
    doc_id = payload.get("id")
    if doc_id is not None and (not isinstance(doc_id, str) or not doc_id):
        raise ProtocolError(400, "bad_request", "id must be a non-empty string", payload)
    return ClientMessage(method, doctype=doctype, doc_id=doc_id)
