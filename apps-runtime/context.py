"""The state of one run, reachable from host functions through a ContextVar.

Host functions run in the worker thread that called into the guest; they find the run's
grant, services and event loop here, and bridge to the async services with
``asyncio.run_coroutine_threadsafe(...).result(timeout)``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from roost.apps.services import AccessEntry, ServiceError, Services
from roost.permissions import PermissionSet

__all__ = ["CURRENT_RUN", "HostTimeout", "LogLine", "RunContext", "RunLog", "current_run"]

T = TypeVar("T")


class HostTimeout(ServiceError):
    code = "timeout"


@dataclass(frozen=True)
class LogLine:
    at: float
    level: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "level": self.level, "message": self.message}


class RunLog:
    """The run's log: guest ``log`` calls and captured stdout/stderr, capped in bytes."""

    LEVELS = frozenset({"debug", "info", "warn", "error"})

    def __init__(self, max_bytes: int = 256 * 1024) -> None:
        self.lines: list[LogLine] = []
        self.max_bytes = max_bytes
        self.size = 0
        self.truncated = False
        self._partial: dict[str, bytes] = {}

    def add(self, level: str, message: str) -> None:
        if self.truncated:
            return
        level = level if level in self.LEVELS or level in ("stdout", "stderr") else "info"
        cost = len(message.encode("utf-8", "replace")) + 16
        if self.size + cost > self.max_bytes:
            self.truncated = True
            self.lines.append(LogLine(time.time(), "warn", "log truncated: too much output"))
            return
        self.size += cost
        self.lines.append(LogLine(time.time(), level, message))

    def stream(self, name: str) -> Any:
        """A ``stdout_custom``/``stderr_custom`` callback that splits the stream into lines."""

        def write(chunk: bytes) -> int:
            # Called by wasmtime from the guest's thread: it must never raise.
            try:
                buf = self._partial.get(name, b"") + chunk
                *complete, rest = buf.split(b"\n")
                for line in complete:
                    self.add(name, line.decode("utf-8", "replace"))
                if len(rest) > 8192:
                    self.add(name, rest.decode("utf-8", "replace"))
                    rest = b""
                self._partial[name] = rest
            except Exception:  # pragma: no cover - defensive
                self._partial.pop(name, None)
            return len(chunk)

        return write

    def flush(self) -> None:
        for name, rest in sorted(self._partial.items()):
            if rest:
                self.add(name, rest.decode("utf-8", "replace"))
        self._partial.clear()

    def text(self, name: str) -> str:
        return "\n".join(line.message for line in self.lines if line.level == name)


@dataclass
class RunContext:
    app: str
    grant: PermissionSet
    services: Services
    loop: asyncio.AbstractEventLoop
    deadline: float  # time.monotonic() value
    host_call_timeout: float = 30.0
    job_id: str | None = None
    max_find_limit: int = 1000
    max_file_bytes: int = 16 * 1024 * 1024
    log: RunLog = field(default_factory=RunLog)
    calls: list[AccessEntry] = field(default_factory=list)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def bridge(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the run's event loop from the worker thread, within the time left."""
        timeout = min(self.remaining(), self.host_call_timeout)
        if timeout <= 0:
            coro.close()
            raise HostTimeout("the run's time is up")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HostTimeout(f"the host call took longer than {timeout:.1f} s") from None

    def record(self, entry: AccessEntry) -> None:
        self.calls.append(entry)


CURRENT_RUN: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "roost_apps_current_run", default=None
)


def current_run() -> RunContext:
    run = CURRENT_RUN.get()
    if run is None:
        raise RuntimeError("no app run in this context")
    return run
