"""`roost serve` with every store request counted: which method, which database, which
endpoint. Run as `python bench/store_trace.py OUTPUT.json serve --port N`; the counts are
written to OUTPUT.json when the server stops (and whenever `SIGUSR1` arrives, so a bench
can read them between phases). Nothing in Roost itself is changed for this: the tracer
wraps `CouchClient.request` and `CouchClient.stream` from outside.
"""

from __future__ import annotations

import atexit
import json
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from roost.couch import CouchClient

_counts: Counter[str] = Counter()


def _shape(method: str, path: str) -> str:
    """`PUT names/{doc}`: the database's doctype part and the endpoint, ids elided."""
    parts = path.split("?", 1)[0].lstrip("/").split("/", 1)
    db = re.sub(r"^.*?%2F", "", parts[0])  # the instance prefix is not interesting
    rest = parts[1] if len(parts) > 1 else ""
    endpoint = rest if rest.startswith("_") else ("{doc}" if rest else "")
    return f"{method} {db}/{endpoint.split('/', 1)[0]}"


def install(output: Path) -> None:
    original_request = CouchClient.request
    original_stream = CouchClient.stream

    async def request(self: CouchClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
        _counts[_shape(method, path)] += 1
        return await original_request(self, method, path, **kwargs)

    @asynccontextmanager
    async def stream(
        self: CouchClient, method: str, path: str, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        _counts[_shape(method, path) + " (streamed)"] += 1
        async with original_stream(self, method, path, **kwargs) as response:
            yield response

    CouchClient.request = request  # type: ignore[method-assign]
    CouchClient.stream = stream  # type: ignore[method-assign]

    def dump(*_: object) -> None:
        output.write_text(json.dumps(dict(_counts.most_common()), indent=1))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        dump()

    atexit.register(dump)
    signal.signal(signal.SIGUSR1, on_signal)


if __name__ == "__main__":
    install(Path(sys.argv[1]))
    from roost.cli import main

    sys.argv = ["roost", *sys.argv[2:]]
    main()
