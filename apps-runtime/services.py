"""The seams between the runtime and the stack: Protocols the stack implements.

Guest calls run in a worker thread; these services are ``async`` and run on the stack's
event loop. Host functions bridge with ``asyncio.run_coroutine_threadsafe(coro, loop)``.

A service signals a failure by raising :class:`ServiceError` (or a subclass); the host turns
it into an ``err`` for the guest with its ``code``. Any other exception becomes ``internal``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from roost.permissions import FileTarget

__all__ = [
    "AccessEntry",
    "AccessLogSink",
    "Conflict",
    "DataService",
    "EgressDenied",
    "FetchRequest",
    "FetchResponse",
    "FileService",
    "HttpFetcher",
    "Invalid",
    "NotFound",
    "Notifier",
    "OutboxService",
    "ServiceError",
    "Services",
    "TooLarge",
]

Doc = dict[str, Any]


class ServiceError(Exception):
    """A failure a guest may see. ``code`` is a short machine word, the message is for people."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Invalid(ServiceError):
    code = "invalid"


class TooLarge(ServiceError):
    code = "too_large"


class EgressDenied(ServiceError):
    code = "egress_denied"


class DataService(Protocol):
    """Documents of one instance (the stack binds the instance when it builds the service)."""

    async def get(self, doctype: str, doc_id: str) -> Doc: ...

    async def find(
        self,
        doctype: str,
        selector: Mapping[str, Any],
        *,
        limit: int,
        skip: int = 0,
        sort: Sequence[Any] | None = None,
    ) -> list[Doc]: ...

    async def create(self, doctype: str, doc: Mapping[str, Any], *, app: str) -> Doc: ...

    async def update(self, doctype: str, doc: Mapping[str, Any], *, app: str) -> Doc: ...

    async def delete(self, doctype: str, doc_id: str, rev: str, *, app: str) -> Doc: ...

    async def get_many(self, doctype: str, doc_ids: Sequence[str]) -> dict[str, Doc]:
        """The stored documents among ``doc_ids``, by id (absent ones are left out)."""
        ...

    async def create_many(
        self, doctype: str, docs: Sequence[Mapping[str, Any]], *, app: str
    ) -> list[Doc]:
        """Create ``docs`` in one store request. One row per document, in order:
        ``{"ok": True, "id", "rev"}`` or ``{"id", "error": code, "message"}``."""
        ...

    async def update_many(
        self, doctype: str, updates: Sequence[tuple[Mapping[str, Any], Doc]], *, app: str
    ) -> list[Doc]:
        """Write each ``(new document, stored document)`` pair in one store request; rows as
        for :meth:`create_many`."""
        ...

    async def changes_since(self, doctype: str, since: str, *, limit: int) -> Doc:
        """``{"results": [{"id", "rev"?, "deleted"?, "doc"}], "last_seq": str}``."""
        ...


class FileService(Protocol):
    """The instance's files. Paths are absolute (``/Documents/x.txt``)."""

    async def target(self, path: str) -> FileTarget:
        """The file or directory at ``path`` with its ancestry (raise :class:`NotFound`)."""
        ...

    async def list_dir(self, path: str) -> list[Doc]:
        """The ``io.cozy.files`` documents of a directory's children."""
        ...

    async def read(self, path: str, *, max_bytes: int) -> tuple[Doc, bytes]:
        """A file's document and bytes (raise :class:`TooLarge` past ``max_bytes``)."""
        ...

    async def write(self, path: str, data: bytes, *, mime: str | None, app: str) -> Doc:
        """Create or replace a file; the parent directory must exist."""
        ...


@dataclass(frozen=True)
class FetchRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class FetchResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    url: str
    #: Every host actually contacted (the first and each redirect), for the access log.
    hosts: tuple[str, ...] = ()
    bytes_out: int = 0


class HttpFetcher(Protocol):
    async def fetch(self, request: FetchRequest, egress: Sequence[str]) -> FetchResponse:
        """Raise :class:`EgressDenied` when a hop is not allowed, :class:`TooLarge` on caps."""
        ...


class Notifier(Protocol):
    async def notify(self, app: str, title: str, message: str) -> Doc: ...


class OutboxService(Protocol):
    """The person's outbox, for one instance: proposals wait there for the person's approval.

    The host function has already checked the grant (``POST``/``GET`` on ``io.roost.outbox``)
    and shaped the proposal; the service stores it and tells the person. ``get``/``list``
    answer only proposals of ``app`` (raise :class:`NotFound` for another app's).
    """

    async def propose(self, app: str, proposal: Mapping[str, Any]) -> Doc: ...

    async def get(self, app: str, proposal_id: str) -> Doc: ...

    async def list(
        self, app: str, *, state: str | None, reference: str | None, limit: int
    ) -> list[Doc]: ...


@dataclass(frozen=True)
class AccessEntry:
    """Host calls of one kind in one run, as the access log (``io.roost.access``) records them.

    ``calls`` is how many calls of this kind (interface, function, verb, doctype, outcome)
    the run made; ``count``/``bytes`` are summed over them, ``ids`` keeps the first few.
    """

    at: float
    app: str
    interface: str
    function: str
    verb: str
    doctype: str
    allowed: bool
    count: int = 0
    bytes: int = 0
    ids: tuple[str, ...] = ()
    egress_host: str | None = None
    error: str | None = None
    job_id: str | None = None
    calls: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "calls": self.calls,
            "app": self.app,
            "interface": self.interface,
            "function": self.function,
            "verb": self.verb,
            "doctype": self.doctype,
            "allowed": self.allowed,
            "count": self.count,
            "bytes": self.bytes,
            "ids": list(self.ids),
            "egress_host": self.egress_host,
            "error": self.error,
            "job_id": self.job_id,
        }


class AccessLogSink(Protocol):
    async def record(self, entries: Sequence[AccessEntry]) -> None:
        """Append a run's host calls (called once per run, on the event loop)."""
        ...


@dataclass
class Services:
    """What a run may reach. ``None`` means the service is absent: calls answer ``unavailable``."""

    data: DataService | None = None
    files: FileService | None = None
    http: HttpFetcher | None = None
    notifier: Notifier | None = None
    outbox: OutboxService | None = None
    access_log: AccessLogSink | None = None
    extra: dict[str, Any] = field(default_factory=dict)
