"""One socket's side of the protocol: AUTH, subscriptions, the bounded queue of frames to
send, and the periodic re-check of its credentials. No websocket library here: the web
handler feeds `receive()` with client frames and writes what `outgoing()` returns."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from roost.errors import StoreUnavailable, Unauthorized
from roost.instances import Instance
from roost.principals import Principal
from roost.realtime.auth import RealtimeAuth
from roost.realtime.gate import FILES_DOCTYPE, EventView, may_subscribe
from roost.realtime.hub import RealtimeHub, TooManyFollowers
from roost.realtime.protocol import (
    CLOSE_POLICY,
    CLOSE_SLOW_CONSUMER,
    ClientMessage,
    ProtocolError,
    error_message,
    parse_client_message,
)

__all__ = ["Close", "RealtimeSession"]


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RealtimeSession:
    def __init__(
        self,
        hub: RealtimeHub,
        auth: RealtimeAuth,
        domain: str,
        *,
        session_cookie: str | None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.hub = hub
        self.auth = auth
        self.domain = domain
        self.session_cookie = session_cookie
        self.now = now
        self.limits = hub.limits
        self.instance: Instance | None = None
        self.principal: Principal | None = None
        self._secret = ""
        self._subscriptions: dict[str, set[str | None]] = {}
        self._frames: collections.deque[str] = collections.deque()
        self._wake = asyncio.Event()
        self._closing: Close | None = None

    # -- what the handler sends --------------------------------------------------------

    @property
    def closing(self) -> Close | None:
        return self._closing

    async def outgoing(self) -> str | Close:
        """The next frame to send, or the `Close` that ends the socket."""
        while True:
            if self._frames:
                return self._frames.popleft()
            if self._closing is not None:
                return self._closing
            self._wake.clear()
            await self._wake.wait()

    def _push(self, frame: str) -> None:
        if self._closing is not None:
            return
        if len(self._frames) >= self.limits.queue_frames:
            self.close(
                CLOSE_SLOW_CONSUMER,
                f"too slow: more than {self.limits.queue_frames} events waiting",
            )
            return
        self._frames.append(frame)
        self._wake.set()

    def close(self, code: int, reason: str, *, last_frame: str | None = None) -> None:
        """End the socket: pending events are dropped; `last_frame` goes out first."""
        if self._closing is not None:
            return
        self._frames.clear()
        if last_frame is not None:
            self._frames.append(last_frame)
        self._closing = Close(code, reason[:120])
        self._wake.set()

    # -- what the client sends -------------------------------------------------------------

    async def receive(self, text: str | bytes) -> None:
        if self._closing is not None:
            return
        try:
            message = parse_client_message(text)
            if message.method == "AUTH":
                await self._auth(message)
            elif self.principal is None:
                self._refuse_auth("the first message must be AUTH")
            elif message.method == "SUBSCRIBE":
                await self._subscribe(message)
            else:
                await self._unsubscribe(message)
        except ProtocolError as error:
            self._push(error.message())

    def _refuse_auth(self, reason: str) -> None:
        self.close(CLOSE_POLICY, reason, last_frame=error_message(401, "unauthorized", reason))

    async def _auth(self, message: ClientMessage) -> None:
        if self.principal is not None:
            raise ProtocolError(400, "bad_request", "this socket is already authenticated")
        try:
            instance, principal = await self.auth.principal(
                self.domain, message.secret, self.session_cookie
            )
        except Unauthorized as error:
            self._refuse_auth(error.reason)
            return
        except StoreUnavailable as error:
            self.close(
                1011, error.reason, last_frame=error_message(503, "unavailable", error.reason)
            )
            return
        self._secret = message.secret
        self.instance, self.principal = instance, principal

    async def _subscribe(self, message: ClientMessage) -> None:
        assert self.principal is not None and self.instance is not None
        doctype = message.doctype
        allowed, reason = may_subscribe(self.principal.permissions, doctype, now=self.now())
        if not allowed:
            raise ProtocolError(
                403, "forbidden", f"can't subscribe to {doctype}: {reason}", doctype
            )
        ids = self._subscriptions.get(doctype)
        if ids is not None and message.doc_id in ids:
            return
        if sum(len(each) for each in self._subscriptions.values()) >= self.limits.subscriptions:
            raise ProtocolError(
                429,
                "too_many_subscriptions",
                f"a socket holds at most {self.limits.subscriptions} subscriptions",
                doctype,
            )
        if ids is None:
            if len(self._subscriptions) >= self.limits.doctypes:
                raise ProtocolError(
                    429,
                    "too_many_subscriptions",
                    f"a socket watches at most {self.limits.doctypes} doctypes",
                    doctype,
                )
            # In place before the follower may deliver anything.
            self._subscriptions[doctype] = {message.doc_id}
            try:
                await self.hub.listen(self, self.instance, doctype, self._offer)
            except TooManyFollowers as error:
                del self._subscriptions[doctype]
                raise ProtocolError(503, "unavailable", str(error), doctype) from None
        else:
            ids.add(message.doc_id)

    async def _unsubscribe(self, message: ClientMessage) -> None:
        assert self.instance is not None
        ids = self._subscriptions.get(message.doctype)
        if ids is None:
            return
        ids.discard(message.doc_id)
        if not ids:
            del self._subscriptions[message.doctype]
            await self.hub.unlisten(self, self.instance, message.doctype)

    # -- events ------------------------------------------------------------------------

    async def _offer(self, view: EventView) -> None:
        principal = self.principal
        if principal is None or self._closing is not None:
            return
        event = view.event
        ids = self._subscriptions.get(event.doctype)
        if not ids:
            return
        if None not in ids and event.doc_id not in ids:
            if event.doctype != FILES_DOCTYPE or not (await view.parent_ids() & ids):
                return
        frame = await view.frame_for(principal.permissions, now=self.now())
        if frame is not None:
            self._push(frame)

    # -- credentials, again and again --------------------------------------------------

    async def watch_credentials(self) -> None:
        """Run while the socket lives: re-authenticate every `revalidate_seconds` (the
        caches behind it hold for `cache_ttl_seconds`), close on a refusal, and close a
        socket that has not authenticated within `auth_seconds`."""
        deadline = asyncio.get_running_loop().time() + self.limits.auth_seconds
        while self._closing is None:
            await asyncio.sleep(min(self.limits.revalidate_seconds, self.limits.auth_seconds))
            if self.principal is None:
                if asyncio.get_running_loop().time() >= deadline:
                    self._refuse_auth(f"no AUTH within {self.limits.auth_seconds:g} seconds")
                    return
                continue
            try:
                instance, principal = await self.auth.principal(
                    self.domain, self._secret, self.session_cookie
                )
            except Unauthorized as error:
                self.close(
                    CLOSE_POLICY,
                    error.reason,
                    last_frame=error_message(401, "unauthorized", error.reason),
                )
                return
            except StoreUnavailable:
                continue  # keep the last answer until the store is back
            self.instance, self.principal = instance, principal

    async def aclose(self) -> None:
        """Leave every follower (the last listener of a database stops it)."""
        instance = self.instance
        doctypes = list(self._subscriptions)
        self._subscriptions.clear()
        if instance is not None:
            for doctype in doctypes:
                await self.hub.unlisten(self, instance, doctype)
