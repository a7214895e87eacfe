"""The one asynchronous CouchDB client: a pooled `httpx.AsyncClient`, retries, error mapping.

Roost builds every store request itself and never forwards a client's request shape
(PouchDB Server crashes on some shapes; see docs/architecture.md). The same code runs
against the embedded PouchDB Server and against Apache CouchDB 3.x.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from roost import fast_json
from roost.couch_batches import Batcher
from roost.couch_http import StorePool
from roost.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PreconditionFailed,
    RoostError,
    StoreUnavailable,
)

Doc = dict[str, Any]

_SAFE_PREFIX = re.compile(r"[^a-z0-9_$()+-]")
# CouchDB's limit on database names (its shard file names add a suffix).
MAX_DB_NAME_LENGTH = 238
# How long a request keeps retrying while the store is unreachable (e.g. being restarted).
_CONNECT_RETRY_SECONDS = 3.0


def database_name(prefix: str, doctype: str) -> str:
    """`{prefix}/{doctype}` with dots turned into dashes, as cozy-stack names them.

    BadRequest when the name is too long for a store: CouchDB refuses it, and PouchDB
    Server silently cuts it at 255 characters, so two long doctypes would share one
    database (and a grant on one would read the other).
    """
    name = f"{prefix}/{doctype.replace('.', '-')}"
    if len(name) > MAX_DB_NAME_LENGTH:
        raise BadRequest(
            f"the doctype {doctype[:40]}… is too long: its database name would have "
            f"{len(name)} characters, more than {MAX_DB_NAME_LENGTH}"
        )
    return name


def sanitize_prefix(text: str) -> str:
    """A CouchDB-legal database-name fragment: lowercase, starts with a letter."""
    cleaned = _SAFE_PREFIX.sub("-", text.lower().replace(".", "-"))
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "i" + cleaned
    return cleaned


@functools.lru_cache(maxsize=4096)
def quote_db(name: str) -> str:
    # Cached: a name holds a `/` (`prefix_/doctype`), so `quote` takes its slow path, and
    # the same few names are quoted on every store request.
    return quote(name, safe="")


def quote_doc_id(doc_id: str) -> str:
    # `_design/x` and `_local/x` keep their slash; CouchDB routes on it.
    for special in ("_design/", "_local/"):
        if doc_id.startswith(special):
            return special + _quote_segment(doc_id[len(special) :])
    return _quote_segment(doc_id)


def _quote_segment(text: str) -> str:
    # `.` and `..` are left alone by `quote` and then removed by URL normalisation (httpx
    # turns `/db/..` into `/`): the request would reach the server root or the database.
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="")


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    auth = None
    if parts.username is not None:
        from urllib.parse import unquote

        auth = (unquote(parts.username), unquote(parts.password or ""))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth


class CouchClient:
    """Talks to one CouchDB-compatible server. Create once per process; `aclose()` on exit."""

    def __init__(self, url: str, *, timeout: float = 30.0, max_connections: int = 64) -> None:
        base, auth = _split_credentials(url)
        self.base_url = base
        self._client = httpx.AsyncClient(
            base_url=base,
            auth=None if auth is None else httpx.BasicAuth(*auth),
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept": "application/json"},
        )
        self._known_dbs: set[str] = set()
        # Short requests to a plain-HTTP store skip httpx (see roost.couch_http for why).
        self._pool: StorePool | None = None
        if urlsplit(base).scheme == "http":
            self._pool = StorePool(
                base,
                auth,
                timeout=timeout,
                connect_timeout=5.0,
                max_connections=max_connections,
            )

        # Concurrent single-document reads and writes of one database share store requests.
        self._reads: Batcher[str, Doc | None] = Batcher(self._read_batch)
        self._writes: Batcher[Doc, tuple[int, Doc]] = Batcher(self._write_batch)

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.close()
        await self._client.aclose()

    # -- low level ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request; connection failures are retried briefly, then 503."""
        body = content
        send_headers = dict(headers or {})
        if json_body is not None:
            body = fast_json.dumps(json_body, ensure_ascii=True)
            send_headers["Content-Type"] = "application/json"
        deadline = time.monotonic() + _CONNECT_RETRY_SECONDS
        delay = 0.05
        pool = self._pool if method != "HEAD" else None
        target = _target(path, params) if pool is not None else path
        while True:
            try:
                if pool is not None:
                    response = await pool.request(method, target, body=body, headers=send_headers)
                else:
                    response = await self._client.request(
                        method,
                        path,
                        params=_encode_params(params),
                        content=body,
                        headers=send_headers,
                    )
            except httpx.ConnectError as error:
                # Nothing reached the store: any method is safe to resend.
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(f"CouchDB is unreachable: {error}") from error
            except (httpx.ReadError, httpx.RemoteProtocolError) as error:
                # The store may have died mid-request (PouchDB Server does); only reads resend.
                if method not in ("GET", "HEAD") or time.monotonic() + delay > deadline:
                    raise StoreUnavailable(f"CouchDB dropped the connection: {error}") from error
            except httpx.TimeoutException as error:
                raise StoreUnavailable(f"CouchDB timed out: {error}") from error
            except httpx.HTTPError as error:
                raise StoreUnavailable(f"CouchDB request failed: {error}") from error
            else:
                if response.status_code >= 500 and method in ("GET", "HEAD"):
                    if time.monotonic() + delay <= deadline:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 0.5)
                        continue
                return response
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def json_request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = await self.request(
            method, path, json_body=json_body, params=params, headers=headers
        )
        raise_for_couch(response)
        try:
            return response.json()
        except ValueError as error:
            raise StoreUnavailable("CouchDB answered with invalid JSON") from error

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        read_timeout: float | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed response (large `_changes` or `_all_docs`), never fully buffered."""
        body = None if json_body is None else json.dumps(json_body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = self._client.build_request(
            method,
            path,
            params=_encode_params(params),
            content=body,
            headers=headers,
            timeout=(
                httpx.Timeout(read_timeout, connect=5.0)
                if read_timeout
                else httpx.USE_CLIENT_DEFAULT
            ),
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as error:
            raise StoreUnavailable(f"CouchDB is unreachable: {error}") from error
        try:
            if response.status_code >= 400:
                await response.aread()
                raise_for_couch(response)
            yield response
        finally:
            await response.aclose()

    # -- server and databases ----------------------------------------------------------

    async def server_info(self) -> Doc:
        result: Doc = await self.json_request("GET", "/")
        return result

    async def ensure_db(self, db: str) -> None:
        if db in self._known_dbs:
            return
        # No `q`: the cluster's own default applies (`[cluster] q`, set by the operator;
        # docs/scaling.md says why many small per-instance databases want q=1 there).
        response = await self.request("PUT", f"/{quote_db(db)}")
        # 412: it already exists (another process created it); both are fine.
        if response.status_code not in (201, 202, 412):
            raise_for_couch(response)
        self._known_dbs.add(db)

    async def db_exists(self, db: str) -> bool:
        response = await self.request("HEAD", f"/{quote_db(db)}")
        if response.status_code == 404:
            return False
        raise_for_couch(response)
        return True

    async def delete_db(self, db: str) -> None:
        self._known_dbs.discard(db)
        response = await self.request("DELETE", f"/{quote_db(db)}")
        if response.status_code != 404:
            raise_for_couch(response)

    async def all_dbs(self) -> list[str]:
        result: list[str] = await self.json_request("GET", "/_all_dbs")
        return result

    async def databases_under(self, prefix: str) -> list[str]:
        """The databases named `{prefix}/…`, by their real names.

        PouchDB Server drops the `/` from the names `_all_dbs` lists (`p/io-cozy-x` is
        listed, and stored, as `pio-cozy-x`), so a name listed without it is put back
        together and kept only if the store answers for it.
        """
        found: set[str] = set()
        for name in await self.all_dbs():
            if name.startswith(prefix + "/"):
                found.add(name)
            elif name.startswith(prefix) and len(name) > len(prefix) and "/" not in name:
                candidate = f"{prefix}/{name[len(prefix) :]}"
                if await self.db_exists(candidate):
                    found.add(candidate)
        return sorted(found)

    def forget_db(self, db: str) -> None:
        self._known_dbs.discard(db)

    # -- documents ---------------------------------------------------------------------

    async def get_doc(self, db: str, doc_id: str, params: Mapping[str, Any] | None = None) -> Doc:
        """The document, or NotFound (also when the database does not exist yet)."""
        _require_document_id(doc_id)
        result: Doc = await self.json_request(
            "GET", f"/{quote_db(db)}/{quote_doc_id(doc_id)}", params=params
        )
        return result

    async def get_doc_or_none(self, db: str, doc_id: str) -> Doc | None:
        """The document, or None. Concurrent calls for one database share one store
        request (`roost.couch_batches`); `_design/` and `_local/` ids are read alone."""
        if doc_id.startswith("_"):
            try:
                return await self.get_doc(db, doc_id)
            except NotFound:
                return None
        return await self._reads.submit(db, doc_id)

    async def get_docs(self, db: str, doc_ids: list[str]) -> list[Doc | None]:
        """Several documents (None for each missing one), read with the database's other
        single reads waiting (`get_doc_or_none`): one store request for all of them."""
        if any(doc_id.startswith("_") for doc_id in doc_ids):
            return [await self.get_doc_or_none(db, doc_id) for doc_id in doc_ids]
        return await self._reads.submit_many(db, doc_ids)

    async def _read_batch(self, db: str, doc_ids: list[str]) -> list[Doc | None]:
        if len(doc_ids) == 1:
            try:
                return [await self.get_doc(db, doc_ids[0])]
            except NotFound:
                return [None]
        result = await self.all_docs(db, keys=doc_ids, params={"include_docs": True})
        found = {row["key"]: row["doc"] for row in result["rows"] if row.get("doc")}
        return [found.get(doc_id) for doc_id in doc_ids]

    async def put_doc(
        self,
        db: str,
        doc: Doc,
        *,
        params: Mapping[str, Any] | None = None,
        exclusive: bool = False,
    ) -> str:
        """Create or update `doc` (which carries `_id`, and `_rev` to update); returns the rev.

        Concurrent writes to one database leave together in one `_bulk_docs` (group
        commit, `roost.couch_batches`); each still gets its own revision or Conflict.

        `exclusive`: the write claims something only one writer may hold (a name, a lock, a
        job). On a cluster, `202 Accepted` means the write quorum was not met: a racing
        write through another coordinator may have been accepted too, one of the two then
        surviving as a hidden conflict. Such a write is read back and kept only if no other
        revision competes with it; otherwise it is withdrawn and Conflict raised — so the
        writer that got `201` (a quorum, which two conflicting writes cannot both get) wins.
        """
        doc_id = str(doc["_id"])
        if (
            params
            or doc_id.startswith("_")
            or any(str(waiting["_id"]) == doc_id for waiting in self._writes.waiting(db))
        ):
            # Options apply per request, and `_local/` documents are not bulk-written;
            # one batch never holds two writes of one document (their order would blur).
            status, answer = await self._put_alone(db, doc, params)
        else:
            status, answer = await self._writes.submit(db, doc)
        if "error" in answer:
            raise _couch_error(status, str(answer["error"]), str(answer.get("reason") or ""))
        rev = str(answer["rev"])
        if exclusive and status == 202:
            await self._settle_accepted(db, doc_id, rev)
        doc["_rev"] = rev
        return rev

    async def write_docs(self, db: str, docs: list[Doc]) -> list[Doc]:
        """Create or update several documents with the database's other writes (group
        commit): they leave in the same `_bulk_docs` as the single writes waiting with
        them. One `_bulk_docs` row per document, in order (`{"id", "rev"}` or
        `{"id", "error", "reason"}`); never raises for one document's conflict."""
        waiting = {str(doc["_id"]) for doc in self._writes.waiting(db)}
        ids = [str(doc["_id"]) for doc in docs]
        if len(set(ids)) != len(ids) or waiting.intersection(ids):
            return await self.bulk_docs(db, docs)  # a batch never holds one document twice
        answers = await self._writes.submit_many(db, docs)
        return [answer for _, answer in answers]

    async def _put_alone(
        self, db: str, doc: Doc, params: Mapping[str, Any] | None = None
    ) -> tuple[int, Doc]:
        path = f"/{quote_db(db)}/{quote_doc_id(doc['_id'])}"
        response = await self.request("PUT", path, json_body=doc, params=params)
        if response.status_code == 404 and _is_missing_db(response):
            # Created lazily (or deleted meanwhile by another process: create it again).
            self.forget_db(db)
            await self.ensure_db(db)
            response = await self.request("PUT", path, json_body=doc, params=params)
        return response.status_code, _answer_of(response)

    async def _write_batch(self, db: str, docs: list[Doc]) -> list[tuple[int, Doc]]:
        if len(docs) == 1:
            return [await self._put_alone(db, docs[0])]
        path = f"/{quote_db(db)}/_bulk_docs"
        response = await self.request("POST", path, json_body={"docs": docs})
        if response.status_code == 404 and _is_missing_db(response):
            self.forget_db(db)
            await self.ensure_db(db)
            response = await self.request("POST", path, json_body={"docs": docs})
        if response.status_code >= 400:
            # Refused as a whole (one bad document): each write alone gets its own answer.
            return list(await asyncio.gather(*(self._put_alone(db, doc) for doc in docs)))
        rows = response.json()
        if not isinstance(rows, list) or len(rows) != len(docs):
            raise StoreUnavailable("CouchDB answered _bulk_docs with a wrong list")
        # A batch never holds two writes of one document, so every row pairs by its id.
        rows = _in_order(docs, rows)
        if [row.get("id") for row in rows] != [doc["_id"] for doc in docs]:
            raise StoreUnavailable("CouchDB answered _bulk_docs for other documents")
        return [
            (
                _ERROR_STATUS.get(str(row["error"]), 500)
                if "error" in row
                else response.status_code,
                row,
            )
            for row in rows
        ]

    async def _settle_accepted(self, db: str, doc_id: str, rev: str) -> None:
        """Keep an accepted (202) exclusive write only if it stands alone; else withdraw it."""
        path = f"/{quote_db(db)}/{quote_doc_id(doc_id)}"
        response = await self.request("GET", path, params={"conflicts": "true"})
        if response.status_code == 404:
            raise Conflict("Document update conflict: the write was not committed")
        raise_for_couch(response)
        current = response.json()
        rivals = [str(r) for r in current.get("_conflicts", [])]
        if current.get("_rev") != rev:
            rivals.append(str(current.get("_rev")))
        if not rivals or rivals == [rev]:
            return
        # Withdraw ours (whichever CouchDB shows as the winner for now): the rival that met
        # the quorum remains, and every coordinator converges on it.
        withdrawn = await self.request("DELETE", path, params={"rev": rev})
        if withdrawn.status_code >= 400 and withdrawn.status_code != 409:
            raise_for_couch(withdrawn)
        raise Conflict("Document update conflict: a concurrent write won")

    async def delete_doc(self, db: str, doc_id: str, rev: str) -> str:
        _require_document_id(doc_id)
        result = await self.json_request(
            "DELETE", f"/{quote_db(db)}/{quote_doc_id(doc_id)}", params={"rev": rev}
        )
        return str(result["rev"])

    async def find(self, db: str, query: Mapping[str, Any]) -> Doc:
        response = await self.request("POST", f"/{quote_db(db)}/_find", json_body=query)
        if response.status_code == 404 and _is_missing_db(response):
            return {"docs": []}
        raise_for_couch(response)
        result: Doc = response.json()
        return result

    async def create_index(self, db: str, index: Mapping[str, Any]) -> Doc:
        await self.ensure_db(db)
        result: Doc = await self.json_request("POST", f"/{quote_db(db)}/_index", json_body=index)
        return result

    async def all_docs(
        self,
        db: str,
        *,
        keys: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Doc:
        path = f"/{quote_db(db)}/_all_docs"
        if keys is not None:
            response = await self.request(
                "POST", path, json_body={"keys": list(keys)}, params=params
            )
        else:
            response = await self.request("GET", path, params=params)
        if response.status_code == 404 and _is_missing_db(response):
            return {"total_rows": 0, "offset": 0, "rows": []}
        raise_for_couch(response)
        result: Doc = response.json()
        return result

    async def bulk_docs(self, db: str, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        """One result per document, in the order of `docs` (see `_in_order`)."""
        await self.ensure_db(db)
        body: Doc = {"docs": list(docs)}
        if not new_edits:
            body["new_edits"] = False
        result: list[Doc] = await self.json_request(
            "POST", f"/{quote_db(db)}/_bulk_docs", json_body=body
        )
        return _in_order(docs, result)


def _in_order(docs: Sequence[Doc], rows: list[Doc]) -> list[Doc]:
    """`_bulk_docs` rows in the order of the documents sent. CouchDB answers in that order;
    PouchDB Server does not (measured: two documents come back swapped), so a caller pairing
    rows with documents by position would take one document's revision for another's."""
    ids = [doc.get("_id") for doc in docs]
    if len(rows) != len(docs) or None in ids or len(set(ids)) != len(ids):
        return rows  # server-assigned ids, or one id twice: nothing to pair by
    by_id = {row.get("id"): row for row in rows}
    if len(by_id) != len(rows) or any(doc_id not in by_id for doc_id in ids):
        return rows
    return [by_id[doc_id] for doc_id in ids]


def _require_document_id(doc_id: str) -> None:
    """NotFound for ids that name a database endpoint, not a document: `GET /db/_all_docs`
    answers a listing (that a caller would take for the document), `DELETE` on it a 405."""
    if doc_id.startswith("_") and not doc_id.startswith(("_design/", "_local/")):
        raise NotFound("missing")


def _encode_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """CouchDB wants JSON-encoded key/startkey values and lowercase booleans."""
    if not params:
        return None
    encoded: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        elif key in ("key", "keys", "startkey", "endkey", "start_key", "end_key", "open_revs"):
            encoded[key] = value if isinstance(value, str) and value == "all" else json.dumps(value)
        else:
            encoded[key] = str(value)
    return encoded


def _target(path: str, params: Mapping[str, Any] | None) -> str:
    """`path?query`, the query encoded as httpx would (every reserved character escaped)."""
    encoded = _encode_params(params)
    if not encoded:
        return path
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in encoded.items())
    return f"{path}?{query}"


def _is_missing_db(response: httpx.Response) -> bool:
    try:
        reason = str(response.json().get("reason", ""))
    except ValueError:
        return False
    return reason in ("no_db_file", "Database does not exist.") or "does not exist" in reason


def raise_for_couch(response: httpx.Response) -> None:
    """Map a CouchDB error answer to a domain exception."""
    status = response.status_code
    if status < 400:
        return
    answer = _answer_of(response)
    raise _couch_error(status, str(answer.get("error", "")), str(answer.get("reason", "")))


# What `_bulk_docs` says per document, as the status a single write would have answered.
_ERROR_STATUS: dict[str, int] = {
    "conflict": 409,
    "not_found": 404,
    "forbidden": 403,
    "unauthorized": 401,
    "bad_request": 400,
    "illegal_docid": 400,
    "doc_validation": 400,
    "too_large": 413,
    "document_too_large": 413,
}


def _answer_of(response: httpx.Response) -> Doc:
    try:
        payload = response.json()
    except ValueError:
        return {"error": "", "reason": response.text[:200]} if response.status_code >= 400 else {}
    if not isinstance(payload, dict):
        return {"error": "", "reason": str(payload)[:200]}
    return payload


def _couch_error(status: int, error: str, reason: str) -> RoostError:
    """The domain exception for a CouchDB error answer."""
    reason = reason or error
    if status == 404:
        return NotFound(reason if reason in ("deleted", "missing") else "missing")
    if status == 409:
        return Conflict("Document update conflict: the revision is stale")
    if status == 412:
        return PreconditionFailed(reason or "precondition failed")
    if status == 400:
        return BadRequest(reason or "bad request")
    if status == 413:
        from roost.errors import PayloadTooLarge

        return PayloadTooLarge(reason)
    if status in (401, 403):
        # The store refused Roost's own credentials: an operator problem, not the client's.
        return StoreUnavailable(f"CouchDB refused Roost's credentials ({error})")
    return StoreUnavailable(f"CouchDB error {status}: {reason}")
