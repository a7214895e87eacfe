"""A `_changes` request as Roost understands it, parsed from query parameters and body.

Nothing here is forwarded: the feed builds its own store requests from these fields.
Parameters Roost has no use for (`_nonce`, `seq_interval`, `att_encoding_info`…) are
ignored, as a replicator may send them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roost.errors import BadRequest
from roost.replication.selector import validate_selector

FEEDS = ("normal", "longpoll", "continuous")
DEFAULT_WAIT_SECONDS = 60.0
MAX_WAIT_SECONDS = 300.0
DEFAULT_HEARTBEAT_SECONDS = 60.0
MIN_HEARTBEAT_SECONDS = 0.2
MAX_SINCE_LENGTH = 2000


@dataclass(frozen=True)
class ChangesQuery:
    feed: str = "normal"
    since: Any = 0
    limit: int | None = None
    include_docs: bool = False
    style: str = "main_only"
    conflicts: bool = False
    attachments: bool = False
    descending: bool = False
    heartbeat: float | None = None
    timeout: float = DEFAULT_WAIT_SECONDS
    doc_ids: frozenset[str] | None = None
    selector: dict[str, Any] | None = None

    @property
    def filtered(self) -> bool:
        return self.doc_ids is not None or self.selector is not None

    @classmethod
    def parse(cls, params: Mapping[str, str], body: Any = None) -> ChangesQuery:
        if body is not None and not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        body = body or {}
        feed = params.get("feed", "normal")
        if feed not in FEEDS:
            raise BadRequest(f"feed must be one of {', '.join(FEEDS)}")
        style = params.get("style", "main_only")
        if style not in ("main_only", "all_docs"):
            raise BadRequest("style must be main_only or all_docs")
        doc_ids, selector = _filter(params, body)
        timeout = _milliseconds(params.get("timeout"), "timeout")
        heartbeat = _heartbeat(params.get("heartbeat"))
        return cls(
            feed=feed,
            since=_since(params.get("since", "0")),
            limit=_limit(params.get("limit")),
            include_docs=_flag(params, "include_docs"),
            style=style,
            conflicts=_flag(params, "conflicts"),
            attachments=_flag(params, "attachments"),
            descending=_flag(params, "descending"),
            heartbeat=heartbeat,
            timeout=min(timeout if timeout is not None else DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS),
            doc_ids=doc_ids,
            selector=selector,
        )


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return value == "true"


def _since(raw: str) -> Any:
    if raw == "now":
        return "now"
    if len(raw) > MAX_SINCE_LENGTH or any(ord(ch) < 32 for ch in raw):
        raise BadRequest("since is not a sequence this server gave")
    if raw.startswith(("[", '"')):
        try:
            return json.loads(raw)
        except ValueError:
            raise BadRequest("since is not a sequence this server gave") from None
    return int(raw) if raw.isdigit() else raw


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if value < 0:
        raise BadRequest("limit must not be negative")
    return max(value, 1)


def _milliseconds(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} is a number of milliseconds") from None
    if value < 0:
        raise BadRequest(f"{name} must not be negative")
    return value / 1000


def _heartbeat(raw: str | None) -> float | None:
    if raw is None or raw == "false":
        return None
    if raw == "true":
        return DEFAULT_HEARTBEAT_SECONDS
    value = _milliseconds(raw, "heartbeat")
    if not value:
        return None
    return max(value, MIN_HEARTBEAT_SECONDS)


def _filter(
    params: Mapping[str, str], body: Mapping[str, Any]
) -> tuple[frozenset[str] | None, dict[str, Any] | None]:
    name = params.get("filter")
    if name is None:
        return None, None
    if name == "_doc_ids":
        raw: Any = body.get("doc_ids")
        if raw is None and "doc_ids" in params:
            try:
                raw = json.loads(params["doc_ids"])
            except ValueError:
                raise BadRequest("doc_ids must be a JSON list of ids") from None
        if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
            raise BadRequest('filter=_doc_ids needs "doc_ids": a list of document ids')
        return frozenset(raw), None
    if name == "_selector":
        raw = body.get("selector")
        if raw is None and "selector" in params:
            try:
                raw = json.loads(params["selector"])
            except ValueError:
                raise BadRequest("selector must be a JSON object") from None
        if raw is None:
            raise BadRequest('filter=_selector needs "selector" in the body')
        return None, validate_selector(raw)
    raise BadRequest(
        "filter must be _doc_ids or _selector: Roost runs no code from design documents"
    )
