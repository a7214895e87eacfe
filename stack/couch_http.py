"""A lean HTTP/1.1 keep-alive pool for the store's short requests (plain `http://` only).

Why not httpx for these: profiled under a WebDAV small-file load (docs/benchmarks.md), the
httpx client and httpcore's pool took about 80 % of Roost's CPU per request: URL models,
header models, the auth and redirect flows, and — on every request — a `poll()` of each
idle pooled connection with a fresh `extra_info` dict. A store request is always the same
simple shape (one host, JSON in, JSON out, no redirects, no cookies), so this pool writes
the request line itself and parses the answer with `httptools` (the C parser uvicorn
already uses). `CouchClient` still returns `httpx.Response` objects, and keeps httpx for
streamed answers (changes feeds), `HEAD` (a body-less answer the parser cannot tell from
one whose body is to come) and `https://` stores.

The answers are `StoreResponse`s: `httpx.Response`s built without httpx's body machinery
(the whole body is already here, and the store is never asked to compress), whose `json()`
is `roost.fast_json.loads`. Profiled on `GET /data/{doctype}/{id}`, building the response and
decoding its JSON the httpx way was about a seventh of Roost's CPU per request.

A connection idle for longer than `IDLE_SECONDS` is closed instead of reused: Node (the
embedded PouchDB Server) closes idle keep-alive sockets after 5 s, and a request written
just as the server closes would be lost on the way.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from typing import Any, Final, cast

import httptools
import httpx

from roost import fast_json

IDLE_SECONDS: Final = 4.0


class StoreResponse(httpx.Response):
    """A store's whole answer, as the `httpx.Response` callers expect."""

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        # `stream=` keeps httpx from re-reading the body through its decoders; the body is
        # then set as httpx itself sets it once read. A compressed body (never asked for)
        # takes httpx's own path, which decodes it.
        if any(name.lower() == b"content-encoding" for name, _ in headers):
            super().__init__(status_code, headers=headers, content=body)
            return
        super().__init__(status_code, headers=headers, stream=httpx.ByteStream(body))
        self._content = body
        self.is_stream_consumed = True
        self.is_closed = True

    def json(self, **kwargs: Any) -> Any:
        if kwargs:
            return super().json(**kwargs)
        return fast_json.loads(self.content)


class _Answer:
    """One response being parsed (the `httptools` parser's callbacks)."""

    __slots__ = ("body", "complete", "headers", "keep_alive", "parser", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        # Asked here, as uvicorn does: once the message is complete the parser has reset.
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.received = False  # whether any byte of the current answer came
        self.idle_since = 0.0
        self._answer = _Answer()
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio's classes: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._answer.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"the store answered badly: {error}"))
            self.close()
            return
        if self._answer.complete:
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer.complete:
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        self._fail(httpx.ReadError(f"the store closed the connection: {exc or 'end of stream'}"))

    def _fail(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    # -- one exchange ------------------------------------------------------------------

    async def exchange(self, request: bytes, deadline: float) -> _Answer:
        """Send `request`; its answer, or `httpx.ReadTimeout` at `deadline` (loop time)."""
        assert self.transport is not None
        self._answer = answer = _Answer()
        self.received = False
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        # A timer on the loop rather than `asyncio.timeout()`: the same deadline, without
        # its context manager's bookkeeping on every store request.
        timer = loop.call_at(deadline, self._time_out)
        try:
            self.transport.write(request)
            await waiter
        finally:
            timer.cancel()
        if not answer.keep_alive:
            self.close()
        return answer

    def _time_out(self) -> None:
        self._fail(httpx.ReadTimeout("the store did not answer in time"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class StorePool:
    """Keep-alive connections to one `http://host:port` store, at most `max_connections`."""

    def __init__(
        self,
        base_url: str,
        auth: tuple[str, str] | None,
        *,
        timeout: float,
        connect_timeout: float,
        max_connections: int,
    ) -> None:
        url = httpx.URL(base_url)
        self.host = url.host
        self.port = url.port or 80
        self.base_path = url.raw_path.decode("ascii").rstrip("/")
        host_header = self.host if url.port is None else f"{self.host}:{url.port}"
        lines = [f"Host: {host_header}", "Accept: application/json"]
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            lines.append(f"Authorization: Basic {token}")
        self._fixed_headers = "\r\n".join(lines) + "\r\n"
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        """Send one request (`target`: path and query, already encoded); the whole answer."""
        head = [f"{method} {self.base_path}{target} HTTP/1.1\r\n", self._fixed_headers]
        for name, value in headers.items():
            head.append(f"{name}: {value}\r\n")
        if body is not None or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body or b'')}\r\n")
        head.append("\r\n")
        data = "".join(head).encode("latin-1") + (body or b"")
        async with self._slots:
            # The whole exchange (a connection included) within `timeout` of leaving here.
            answer = await self._send(data, asyncio.get_running_loop().time() + self.timeout)
        return StoreResponse(answer.status, answer.headers, b"".join(answer.body))

    async def _send(self, data: bytes, deadline: float) -> _Answer:
        connection = self._reusable()
        if connection is not None:
            try:
                return await self._exchange(connection, data, deadline)
            except httpx.TimeoutException:
                raise
            except httpx.TransportError:
                if connection.received:
                    raise
                # The server closed this idle connection as the request left (nothing of
                # it was answered, nothing was processed): once more on a new connection.
        return await self._exchange(await self._connect(deadline), data, deadline)

    async def _exchange(self, connection: _Connection, data: bytes, deadline: float) -> _Answer:
        try:
            answer = await connection.exchange(data, deadline)
        except BaseException:
            connection.close()
            raise
        if not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        return answer

    def _reusable(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.closed or now - connection.idle_since > IDLE_SECONDS:
                connection.close()
                continue
            return connection
        return None

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + self.connect_timeout)):
                _, connection = await loop.create_connection(_Connection, self.host, self.port)
        except TimeoutError:
            if loop.time() >= deadline:
                raise httpx.ReadTimeout("the store did not answer in time") from None
            raise httpx.ConnectError("cannot connect to the store: timed out") from None
        except OSError as error:
            raise httpx.ConnectError(f"cannot connect to the store: {error}") from error
        return connection

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
