"""A tiny HTTP/1.1 client over a raw socket: request targets are sent exactly as written
(no client normalises `..`, `%2e%2e` or `%2F` away), and bodies can be cut short."""

from __future__ import annotations

import base64
import socket


def raw_request(
    port: int,
    method: str,
    target: str,
    *,
    password: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    auth = base64.b64encode(f"user:{password}".encode()).decode()
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Authorization: Basic {auth}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, rest
