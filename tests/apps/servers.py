"""Small HTTP servers on 127.0.0.1 for fetch tests: a generic one and a fake bank."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse


class _Base(BaseHTTPRequestHandler):
    server_version = "RoostTest/1"
    server: Server  # every handler here is served by `Server` below, with its hits and tokens

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode())


class EchoHandler(_Base):
    """/ok, /big?n=, /chunked?n= (no length), /redirect?to=&code=, /echo (request as JSON)."""

    def _route(self) -> None:
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.hits.append((self.command, self.path, dict(self.headers)))
        if url.path == "/ok":
            self._send(200, b"hello", "text/plain")
        elif url.path == "/big":
            self._send(200, b"x" * int(q.get("n", "1000")), "application/octet-stream")
        elif url.path == "/chunked":
            n = int(q.get("n", "1000"))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(n // 1000):
                self.wfile.write(b"y" * 1000)
            self.close_connection = True
        elif url.path == "/redirect":
            self._send(int(q.get("code", "302")), b"", Location=q["to"])
        elif url.path == "/echo":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            self._json(
                200,
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                },
            )
        else:
            self._json(404, {"error": "no route"})

    do_GET = do_POST = do_PUT = do_DELETE = _route


class FakeBank(_Base):
    """A bank's JSON API.

    POST /api/login, GET /api/accounts, GET /api/accounts/{id}/transactions.
    """

    LOGIN, PASSWORD = "alice", "s3cret"
    ACCOUNTS = [
        {
            "id": "CHK-001",
            "label": "Compte courant",
            "iban": "FR7630006000011234567890189",
            "balance": 1523.42,
            "currency": "EUR",
            "type": "Checkings",
        },
        {
            "id": "SAV-002",
            "label": "Livret A",
            "iban": "FR7630006000019876543210112",
            "balance": 8200.0,
            "currency": "EUR",
            "type": "Savings",
        },
    ]
    TRANSACTIONS = {
        "CHK-001": [
            {"id": "T1", "date": "2026-10-02", "amount": -42.9, "label": "PHARMACIE DU CENTRE"},
            {
                "id": "T2",
                "date": "2026-10-05",
                "amount": 16.1,
                "label": "VIR CPAM PARIS REMB SOINS",
            },
            {"id": "T3", "date": "2026-10-09", "amount": -60.0, "label": "DR MARTIN CONSULTATION"},
            {"id": "T4", "date": "2026-10-20", "amount": 25.0, "label": "HARMONIE MUTUELLE REMB"},
            {"id": "T5", "date": "2026-10-21", "amount": 2400.0, "label": "SALAIRE OCTOBRE"},
        ],
        "SAV-002": [{"id": "S1", "date": "2026-10-31", "amount": 12.5, "label": "INTERETS"}],
    }

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.hits.append(("POST", self.path, dict(self.headers)))
        if self.path != "/api/login":
            self._json(404, {"error": "no route"})
        elif body.get("login") == self.LOGIN and body.get("password") == self.PASSWORD:
            token = secrets.token_hex(8)
            self.server.tokens.add(token)
            self._json(200, {"token": token})
        else:
            self._json(401, {"error": "bad credentials"})

    def do_GET(self) -> None:
        self.server.hits.append(("GET", self.path, dict(self.headers)))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.server.tokens:
            self._json(401, {"error": "login first"})
            return
        parts = self.path.strip("/").split("/")
        if parts == ["api", "accounts"]:
            self._json(200, {"accounts": self.ACCOUNTS})
        elif len(parts) == 4 and parts[:2] == ["api", "accounts"] and parts[3] == "transactions":
            txs = [dict(t, currency="EUR") for t in self.TRANSACTIONS.get(parts[2], [])]
            self._json(200, {"transactions": txs})
        else:
            self._json(404, {"error": "no route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[tuple[str, str, dict[str, str]]]
    tokens: set[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (size-cap tests) are expected

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


AnyServer = TypeVar("AnyServer", bound=ThreadingHTTPServer)


@contextmanager
def running(server: AnyServer) -> Iterator[AnyServer]:
    """`server` serving in a thread of its own until the block ends, then closed."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[Server]:
    server = Server(("127.0.0.1", 0), handler)
    server.hits = []
    server.tokens = set()
    with running(server):
        yield server


def tls_files(tmp: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for ``hostname``: (ca.pem, cert.pem, key.pem)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Roost test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextmanager
def serve_tls(handler: type[BaseHTTPRequestHandler], cert: Path, key: Path) -> Iterator[Server]:
    import ssl

    server = Server(("127.0.0.1", 0), handler)
    server.hits = []
    server.tokens = set()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
