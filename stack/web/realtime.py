"""`/realtime/`: the websocket of cozy-stack's realtime protocol (see `roost.realtime`).

Thin: accept (with the `io.cozy.websocket` subprotocol when offered), then three tasks —
read client frames into the session, write what the session queues, re-check the
credentials — until one ends. Nothing here may raise before the socket is accepted: an
exception there would turn the handshake into a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from roost.instances import Instance
from roost.realtime import SUBPROTOCOL, Close, RealtimeSession
from roost.services import Services
from roost.sessions import COOKIE_NAME

log = logging.getLogger("roost.realtime")


async def realtime(websocket: WebSocket) -> None:
    instance: Instance | None = websocket.scope.get("state", {}).get("instance")
    services: Services = websocket.app.state.services
    if instance is None:
        await websocket.close(code=1008, reason="this request is not addressed to an instance")
        return
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    session = RealtimeSession(
        services.realtime,
        services.realtime_auth,
        instance.domain,
        session_cookie=websocket.cookies.get(COOKIE_NAME),
    )
    tasks = [
        asyncio.create_task(_read(websocket, session)),
        asyncio.create_task(_write(websocket, session)),
        asyncio.create_task(session.watch_credentials()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await session.aclose()


async def _read(websocket: WebSocket, session: RealtimeSession) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while session.closing is None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await session.receive(data)
        # Let the writer send the final frames and the close.
        await asyncio.Event().wait()


async def _write(websocket: WebSocket, session: RealtimeSession) -> None:
    try:
        while True:
            item = await session.outgoing()
            if isinstance(item, Close):
                await websocket.close(code=item.code, reason=item.reason)
                return
            await websocket.send_text(item)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return  # the client went away


ROUTES: list[BaseRoute] = [
    WebSocketRoute("/realtime/", realtime),
    WebSocketRoute("/realtime", realtime),
]
