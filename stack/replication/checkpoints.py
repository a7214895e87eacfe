"""`_local` documents (replication checkpoints), kept apart per credential.

A replicator names its checkpoint after the two databases it joins, so two devices, or two
tokens on one device, could pick the same `_local/{id}` and overwrite each other's
progress. Roost stores each under `_local/roost-{namespace}-{id}`, the namespace being a
hash of who writes it: the OAuth client (its checkpoints survive token refreshes), the app
password, the token's permission document, or the owner. A credential never reads or
writes another's checkpoints.

Revisions are checked by Roost, the same on every store: Apache CouchDB takes any `_rev` on
a `_local` document (it keeps no history for them), PouchDB Server checks it. A write that
updates a checkpoint names its current `_rev`, a write without `_rev` creates one, and
anything else is a 409 conflict; a DELETE with a stale `_rev` is a 409 too. Replicators
(PouchDB's and CouchDB's) read their checkpoint before writing it, so they always send the
current revision.
"""

from __future__ import annotations

import hashlib
from typing import Any

from roost.couch import CouchClient, quote_db, quote_doc_id
from roost.errors import BadRequest, Conflict, NotFound
from roost.principals import Principal
from roost.types import JSONDoc

MAX_LOCAL_ID_LENGTH = 512
_PREFIX = "_local/"


def namespace_of(principal: Principal) -> str:
    if principal.is_owner:
        identity = "owner"
    elif principal.kind == "token" and principal.audience == "access":
        identity = f"oauth-client:{principal.subject}"
    elif principal.kind == "app-password":
        identity = f"app-password:{principal.subject}"
    else:
        identity = f"permission:{principal.permission_id}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _check_local_id(local_id: str) -> str:
    if not local_id or len(local_id) > MAX_LOCAL_ID_LENGTH:
        raise BadRequest("a _local id is a non-empty string of at most 512 characters")
    if any(ord(ch) < 32 for ch in local_id):
        raise BadRequest("_local ids may not contain control characters")
    return local_id


class Checkpoints:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    @staticmethod
    def stored_id(principal: Principal, local_id: str) -> str:
        return f"{_PREFIX}roost-{namespace_of(principal)}-{_check_local_id(local_id)}"

    def _path(self, db: str, principal: Principal, local_id: str) -> str:
        return f"/{quote_db(db)}/{quote_doc_id(self.stored_id(principal, local_id))}"

    async def get(self, db: str, principal: Principal, local_id: str) -> JSONDoc:
        doc: JSONDoc = await self.couch.json_request("GET", self._path(db, principal, local_id))
        doc["_id"] = _PREFIX + local_id
        return doc

    async def put(self, db: str, principal: Principal, local_id: str, body: Any) -> JSONDoc:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        if "_id" in body and body["_id"] != _PREFIX + local_id:
            raise BadRequest("the _id in the body differs from the id in the URL")
        current = await self._current_rev(db, principal, local_id)
        sent = body.get("_rev")
        if sent != current:
            if current is None:
                raise Conflict("Document update conflict: no such _local document; omit _rev")
            raise Conflict("Document update conflict: the revision is stale")
        doc = {**body, "_id": self.stored_id(principal, local_id)}
        rev = await self.couch.put_doc(db, doc)
        return {"ok": True, "id": _PREFIX + local_id, "rev": rev}

    async def _current_rev(self, db: str, principal: Principal, local_id: str) -> str | None:
        try:
            current = await self.couch.json_request("GET", self._path(db, principal, local_id))
        except NotFound:
            return None
        return str(current["_rev"])

    async def delete(
        self, db: str, principal: Principal, local_id: str, rev: str | None
    ) -> JSONDoc:
        current = await self._current_rev(db, principal, local_id)
        if current is None:
            raise NotFound("missing")
        if rev and rev != current:
            raise Conflict("Document update conflict: the revision is stale")
        rev = current
        try:
            result = await self.couch.json_request(
                "DELETE", self._path(db, principal, local_id), params={"rev": rev}
            )
        except NotFound:
            raise NotFound("missing") from None
        return {"ok": True, "id": _PREFIX + local_id, "rev": result.get("rev", "0-0")}
