"""`roost.couch_http.StorePool` against real sockets: its deadline and its answers."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from roost.couch_http import StorePool


@asynccontextmanager
async def _server(answer: bytes | None) -> AsyncIterator[str]:
    """A loopback HTTP server that sends `answer` to each request (None: never answers)."""
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the pool closed the connection

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()


def _pool(url: str, timeout: float = 5.0) -> StorePool:
    return StorePool(url, None, timeout=timeout, connect_timeout=5.0, max_connections=4)


def _answer(body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *extra]
    head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def test_a_store_that_never_answers_times_out() -> None:
    async with _server(None) as url:
        pool = _pool(url, timeout=0.2)
        with pytest.raises(httpx.ReadTimeout):
            await pool.request("GET", "/db/doc", body=None, headers={})
        pool.close()


async def test_answers_are_read_whole_and_their_json_decoded() -> None:
    body = b'{"_id":"a","n":123456789012345678901234567890,"name":"\xc3\xa9"}'
    async with _server(_answer(body)) as url:
        pool = _pool(url)
        first = await pool.request("GET", "/db/a", body=None, headers={})
        second = await pool.request("GET", "/db/a", body=None, headers={})  # kept alive
        pool.close()
    for response in (first, second):
        assert isinstance(response, httpx.Response)
        assert (response.status_code, response.content) == (200, body)
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"_id": "a", "n": 123456789012345678901234567890, "name": "é"}
        assert response.text == body.decode()


async def test_a_compressed_answer_is_decompressed_as_httpx_does() -> None:
    body = b'{"ok":true}'
    async with _server(_answer(gzip.compress(body), b"Content-Encoding: gzip")) as url:
        pool = _pool(url)
        response = await pool.request("GET", "/", body=None, headers={})
        pool.close()
    assert (response.content, response.json()) == (body, {"ok": True})
