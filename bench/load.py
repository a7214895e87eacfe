"""Driving a server with `bench/load.js`: a light load generator, so that a benchmark
measures the servers and not its own client.

Python's httpx spends 0.8–2 ms of CPU per request (sync or async), as much as a whole
request costs WsgiDAV or PouchDB Server; on a 2-core machine it was the bottleneck of
nginx's small-file figures and of the data API's direct path. Node's HTTP client with
keep-alive spends 0.2–0.4 ms.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LOAD_JS = Path(__file__).resolve().parent / "load.js"


@dataclass(frozen=True)
class Requests:
    """What one path sends, request after request: request i goes to `urls[i % len]`,
    with `bodies[i % len]` (if any); `expect_sha256[i % len]` checks what came back."""

    urls: list[str]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    bodies: list[bytes] | None = None
    expect_sha256: list[str] | None = None


@dataclass(frozen=True)
class Turn:
    seconds: float
    latencies: list[float]  # seconds
    client_cpu: float  # seconds
    statuses: dict[str, int]
    mismatches: int  # bodies that did not match `expect_sha256`


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def drive(requests: Requests, concurrency: int, count: int, *, check: bool = True) -> Turn:
    """`count` requests, `concurrency` at a time. `check`: any answer but 2xx, or a body
    other than expected, raises."""
    spec: dict[str, object] = {
        "urls": requests.urls,
        "method": requests.method,
        "headers": requests.headers,
        "concurrency": concurrency,
        "count": count,
    }
    if requests.bodies is not None:
        spec["bodies_base64"] = [base64.b64encode(body).decode() for body in requests.bodies]
    if requests.expect_sha256 is not None:
        spec["expect_sha256"] = requests.expect_sha256
    done = subprocess.run(
        ["node", str(LOAD_JS)], input=json.dumps(spec).encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench/load.js failed: {done.stderr.decode(errors='replace')}")
    result = json.loads(done.stdout)
    turn = Turn(
        result["seconds"],
        [ms / 1000 for ms in result["latencies_ms"]],
        result["cpu_ms"] / 1000,
        result["statuses"],
        result["mismatches"],
    )
    if check:
        failed = {status: n for status, n in turn.statuses.items() if not status.startswith("2")}
        if failed or turn.mismatches:
            raise RuntimeError(
                f"{requests.method} {requests.urls[0]}…: answers {turn.statuses}, "
                f"{turn.mismatches} bodies not as expected"
            )
    return turn
