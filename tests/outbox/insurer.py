"""A loopback "insurer": a real HTTP server that records every request it receives."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.apps.servers import running


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Insurer(ThreadingHTTPServer):
    daemon_threads = True
    received: list[Received]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def acceptances(self) -> str:
        """Where the example sends an acceptance."""
        return self.origin + "/v1/acceptances"


class _Handler(BaseHTTPRequestHandler):
    server: Insurer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(
            Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        answer = json.dumps({"policy": f"POL-{secrets.token_hex(3)}", "status": "bound"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_PUT = do_GET = _record


@contextmanager
def insurer() -> Iterator[Insurer]:
    server = Insurer(("127.0.0.1", 0), _Handler)
    server.received = []
    with running(server):
        yield server
