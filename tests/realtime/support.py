"""A realtime client for the tests: a real websocket (the `websockets` package) to a real
uvicorn server, speaking cozy-stack's protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

# Generous: the store, two event loops and up to eight helpers share two CPU cores.
WAIT = 30.0


class RealtimeClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, method: str, payload: Any = None) -> None:
        await self.ws.send(json.dumps({"method": method, "payload": payload}))

    async def auth(self, secret: str = "") -> None:
        await self.send("AUTH", secret)

    async def subscribe(self, doctype: str, doc_id: str | None = None) -> None:
        payload = {"type": doctype} if doc_id is None else {"type": doctype, "id": doc_id}
        await self.send("SUBSCRIBE", payload)
        await self.barrier()

    async def barrier(self) -> dict[str, Any]:
        """Send an unknown method and wait for its 405: the server handles a socket's
        messages in order, so everything sent before is done (a SUBSCRIBE is in place)."""
        await self.send("BARRIER")
        frame = await self.next(lambda f: f.get("event") == "error")
        return frame

    async def next(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next frame for which `wanted` holds; every frame read is kept in `seen`."""

        async def read() -> dict[str, Any]:
            while True:
                frame: dict[str, Any] = json.loads(await self.ws.recv())
                self.seen.append(frame)
                if wanted(frame):
                    return frame

        return await asyncio.wait_for(read(), WAIT)

    async def event(self, verb: str, doc_id: str) -> dict[str, Any]:
        return await self.next(
            lambda f: f.get("event") == verb and f.get("payload", {}).get("id") == doc_id
        )

    def ids_seen(self) -> set[str]:
        return {f["payload"]["id"] for f in self.seen if f.get("event") != "error"}


@asynccontextmanager
async def realtime_socket(
    port: int,
    domain: str,
    *,
    path: str = "/realtime/",
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[RealtimeClient]:
    """A socket to the live server at 127.0.0.1:`port` with `Host: domain:port`."""
    async with connect(
        f"ws://{domain}:{port}{path}",
        host="127.0.0.1",
        port=port,
        subprotocols=[Subprotocol("io.cozy.websocket")],
        additional_headers=dict(headers or {}),
        open_timeout=WAIT,
    ) as ws:
        yield RealtimeClient(ws)
