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
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from roost.apps.services import AccessEntry, ServiceError, Services
from roost.permissions import PermissionSet

__all__ = [
    "CURRENT_RUN",
    "HostBudgetExhausted",
    "HostTimeout",
    "LogLine",
    "RunContext",
    "RunLog",
    "current_run",
]

T = TypeVar("T")


class HostTimeout(ServiceError):
    code = "timeout"


class HostBudgetExhausted(ServiceError):
    """The run has used its host-call budget: every further call answers this ``err``."""

    code = "budget_exhausted"


#: Access entries a run keeps at most (aggregated by kind, so a flood is a handful of kinds).
MAX_ACCESS_KINDS = 200


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
    host_calls: int = 10_000
    host_bytes: int = 64 * 1024 * 1024
    calls_made: int = 0
    bytes_moved: int = 0
    #: Budgets the run hit without being stopped (``"host calls"``, ``"host bytes"``).
    marks: set[str] = field(default_factory=set)
    #: One access entry per kind of call (interface, function, verb, doctype, outcome):
    #: a flood of 50,000 refused reads is one entry with ``calls=50000``, not 50,000.
    aggregated: dict[tuple[Any, ...], AccessEntry] = field(default_factory=dict)
    #: Set by the runner when it gives up on a guest blocked past its deadline.
    abandoned: bool = False

    @property
    def calls(self) -> list[AccessEntry]:
        return list(self.aggregated.values())

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def charge_call(self, in_bytes: int) -> None:
        """Count one host call and the bytes it brings in; refuse past the budget."""
        if self.abandoned:
            raise HostTimeout("the run's time is up")
        if self.calls_made >= self.host_calls:
            self.marks.add("host calls")
            raise HostBudgetExhausted(f"the run used its budget of {self.host_calls} host calls")
        self.calls_made += 1
        self.charge_bytes(in_bytes)

    def charge_bytes(self, size: int) -> None:
        if self.bytes_moved + size > self.host_bytes:
            self.marks.add("host bytes")
            self.bytes_moved = self.host_bytes
            raise HostBudgetExhausted(
                f"the run used its budget of {self.host_bytes} bytes through host calls"
            )
        self.bytes_moved += size

    def bridge(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the run's event loop from the worker thread, within the time left."""
        timeout = min(self.remaining(), self.host_call_timeout)
        if timeout <= 0 or self.abandoned:
            coro.close()
            raise HostTimeout("the run's time is up")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HostTimeout(f"the host call took longer than {timeout:.1f} s") from None

    def record(self, entry: AccessEntry) -> None:
        key = (
            entry.interface,
            entry.function,
            entry.verb,
            entry.doctype,
            entry.allowed,
            entry.error,
            entry.egress_host,
        )
        seen = self.aggregated.get(key)
        if seen is None:
            if len(self.aggregated) >= MAX_ACCESS_KINDS:
                key = ("*", "*", "*", "", entry.allowed, "too many kinds", None)
                seen = self.aggregated.get(key)
                if seen is None:
                    self.aggregated[key] = replace(
                        entry, interface="*", function="*", verb="*", doctype="", ids=()
                    )
                    return
            else:
                self.aggregated[key] = entry
                return
        ids = seen.ids if len(seen.ids) >= 20 else (seen.ids + entry.ids)[:20]
        self.aggregated[key] = replace(
            seen,
            calls=seen.calls + entry.calls,
            count=seen.count + entry.count,
            bytes=seen.bytes + entry.bytes,
            ids=ids,
        )


CURRENT_RUN: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "roost_apps_current_run", default=None
)


def current_run() -> RunContext:
    run = CURRENT_RUN.get()
    if run is None:
        raise RuntimeError("no app run in this context")
    return run
