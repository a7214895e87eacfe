"""A record of the requests a `CouchClient` sends to the real store (it still sends them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from roost.couch import CouchClient


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    params: Any
    json_body: Any

    @property
    def last_segment(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class StoreRequests:
    """Every request `couch` sends from now on, in order."""

    def __init__(self, couch: CouchClient) -> None:
        self.sent: list[Sent] = []
        send = couch.request

        async def recorded(method: str, path: str, **options: Any) -> httpx.Response:
            self.sent.append(Sent(method, path, options.get("params"), options.get("json_body")))
            return await send(method, path, **options)

        couch.request = recorded  # type: ignore[method-assign]

    def clear(self) -> None:
        self.sent.clear()
