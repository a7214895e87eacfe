"""Share links: `io.cozy.permissions` documents of type `share`, like every token's grant.

A link document holds the link's permission set (what its public pages may do, decided by
`roost.permissions.decide` on every access) and, under `share`, what a person needs to
manage it: the kind (read or drop), what is shared, the code's SHA-256, the password's
argon2 hash, the expiry, the last use and the revocation time.

Revoking keeps the document as a tombstone (its set expires at once, so no decision can
allow anything with it): an opened revoked link answers "gone" (410), not "unknown" (404).
The last use is written at most once a minute per link, not on every request. Wrong
passwords are counted in the document itself: at most `MAX_PASSWORD_FAILURES` a window,
so guessing costs one store write per try and stops after a few.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound, RoostError
from roost.instances import Instance
from roost.passwords import hash_secret_async, verify_secret_async
from roost.permission_docs import PERMISSIONS_DOCTYPE, PermissionDocs
from roost.permissions import PermissionSet
from roost.sharing.codes import digest, link_id_of, new_code, new_link_id, same_digest
from roost.sharing.errors import LinkGone, LinkUnknown, TooManyPasswordAttempts
from roost.sharing.grants import link_permissions
from roost.sharing.requests import LinkRequest

log = logging.getLogger("roost.sharing")

KIND: Final = "share"
LAST_USE_GRANULARITY: Final = timedelta(minutes=1)
MAX_PASSWORD_FAILURES: Final = 5
PASSWORD_WINDOW_SECONDS: Final = 15 * 60
_WRITE_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class SharedItem:
    """What a link shares: a file, a folder or an album, by doctype and id."""

    doctype: str
    id: str
    name: str
    what: str  # "file" | "folder" | "album"


@dataclass(frozen=True)
class ShareLink:
    id: str
    kind: str  # "read" | "drop"
    item: SharedItem
    permissions: PermissionSet
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    password_hash: str | None

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def is_expired(self, now: datetime) -> bool:
        return self.permissions.is_expired(now)

    def is_gone(self, now: datetime) -> bool:
        return self.revoked_at is not None or self.is_expired(now)

    @property
    def principal_label(self) -> str:
        """How the access log names a visitor of this link."""
        return f"share-link:{self.id}"


def _to_link(doc: dict[str, Any]) -> ShareLink | None:
    share = doc.get("share")
    if doc.get("type") != KIND or not isinstance(share, dict):
        return None
    return ShareLink(
        id=doc["_id"],
        kind=share["kind"],
        item=SharedItem(
            doctype=share["target_doctype"],
            id=share["target_id"],
            name=share.get("target_name", ""),
            what=share["what"],
        ),
        permissions=PermissionSet.from_json(doc["permissions"]),
        created_at=doc["created_at"],
        expires_at=share.get("expires_at"),
        last_used_at=share.get("last_used_at"),
        revoked_at=share.get("revoked_at"),
        password_hash=share.get("password_hash"),
    )


class ShareLinks:
    def __init__(self, permission_docs: PermissionDocs) -> None:
        self.permission_docs = permission_docs
        # (instance, link) → when this process last wrote a use: a page that loads fifty
        # thumbnails at once writes once, not fifty times racing each other.
        self._recorded: dict[tuple[str, str], float] = {}

    @property
    def couch(self) -> CouchClient:
        return self.permission_docs.couch

    async def create(
        self, instance: Instance, request: LinkRequest, item: SharedItem
    ) -> tuple[ShareLink, str]:
        """A new link to `item` (already checked by the caller); returns it with its code,
        which is never stored and so never shown again."""
        link_id = new_link_id()
        code = new_code(link_id)
        permissions = link_permissions(
            request.doctype, request.target_id, request.kind, request.expires_at
        )
        password_hash = await hash_secret_async(request.password) if request.password else None
        share: dict[str, Any] = {
            "kind": request.kind,
            "what": item.what,
            "target_doctype": item.doctype,
            "target_id": item.id,
            "target_name": item.name,
            "code_sha256": digest(code),
            "password_hash": password_hash,
            "expires_at": request.expires_at.isoformat() if request.expires_at else None,
            "last_used_at": None,
            "revoked_at": None,
            "password_failures": [],
        }
        doc = await self.permission_docs.create(
            instance,
            KIND,
            permissions,
            source_id=f"{item.doctype}/{item.id}",
            doc_id=link_id,
            extra={"share": share},
        )
        link = _to_link(doc)
        assert link is not None
        return link, code

    async def list(self, instance: Instance, *, revoked: bool = False) -> list[ShareLink]:
        """Every link not revoked (with `revoked`, those too), newest first; expired ones
        are listed: the person sees them."""
        docs = await self.permission_docs.list(instance, KIND)
        links = [
            link for link in map(_to_link, docs) if link and (revoked or link.revoked_at is None)
        ]
        return sorted(links, key=lambda link: link.created_at, reverse=True)

    async def get(self, instance: Instance, link_id: str) -> ShareLink:
        """A link not revoked, or NotFound."""
        doc = await self.couch.get_doc_or_none(instance.db(PERMISSIONS_DOCTYPE), link_id)
        link = _to_link(doc) if doc else None
        if link is None or link.revoked_at is not None:
            raise NotFound("no such share link")
        return link

    async def revoke(self, instance: Instance, link_id: str) -> None:
        """End a link now; NotFound if there is none (or it is revoked already)."""
        await self.get(instance, link_id)
        now = datetime.now(UTC)

        def revoked(doc: dict[str, Any]) -> None:
            doc["share"]["revoked_at"] = now.isoformat()
            # The set itself expires too: nothing can be allowed with it any more.
            stored = PermissionSet.from_json(doc["permissions"])
            doc["permissions"] = PermissionSet(rules=stored.rules, expires_at=now).to_json()

        await self._change(instance, link_id, revoked)

    async def open(self, instance: Instance, code: str, now: datetime) -> ShareLink:
        """The link this code opens; LinkUnknown (404) or LinkGone (410)."""
        link_id = link_id_of(code)
        if link_id is None:
            raise LinkUnknown("missing")
        # Read from the store, not the permission cache: anyone may send any code, and a
        # cache entry per guessed id would grow without bound. (A revocation is seen at once.)
        doc = await self.couch.get_doc_or_none(instance.db(PERMISSIONS_DOCTYPE), link_id)
        if doc is None or not same_digest(str(doc.get("share", {}).get("code_sha256", "")), code):
            raise LinkUnknown("missing")
        link = _to_link(doc)
        if link is None:
            raise LinkUnknown("missing")
        if link.is_gone(now):
            raise LinkGone("this link was revoked or has expired")
        return link

    async def record_use(self, instance: Instance, link: ShareLink, now: datetime) -> None:
        """Note the last use, at most once per `LAST_USE_GRANULARITY`; never fails a visit."""
        last = link.last_used_at
        if last is not None and now - datetime.fromisoformat(last) < LAST_USE_GRANULARITY:
            return
        key, moment = (instance.domain, link.id), time.monotonic()
        if moment - self._recorded.get(key, -1e9) < LAST_USE_GRANULARITY.total_seconds():
            return
        self._recorded[key] = moment

        def used(doc: dict[str, Any]) -> None:
            doc["share"]["last_used_at"] = now.isoformat()

        try:
            await self._change(instance, link.id, used)
        except RoostError:
            log.debug("could not record the last use of share link %s", link.id)

    async def check_password(self, instance: Instance, link: ShareLink, password: str) -> bool:
        """Whether `password` opens `link`; TooManyPasswordAttempts once the window is full."""
        if link.password_hash is None:
            return True
        db = instance.db(PERMISSIONS_DOCTYPE)
        doc = await self.couch.get_doc_or_none(db, link.id)
        if doc is None:
            raise LinkUnknown("missing")
        failures = _recent(doc, time.time())
        if len(failures) >= MAX_PASSWORD_FAILURES:
            wait = PASSWORD_WINDOW_SECONDS - (time.time() - failures[-MAX_PASSWORD_FAILURES])
            raise TooManyPasswordAttempts(
                "too many wrong passwords for this link", retry_after=max(1, int(wait) + 1)
            )
        # Long inputs never reach argon2: nothing that long was accepted as a password.
        if len(password) <= 1024 and await verify_secret_async(link.password_hash, password):
            if failures:

                def cleared(doc: dict[str, Any]) -> None:
                    doc["share"]["password_failures"] = []

                await self._change(instance, link.id, cleared)
            return True

        def failed(doc: dict[str, Any]) -> None:
            moment = time.time()
            doc["share"]["password_failures"] = [*_recent(doc, moment), moment][
                -MAX_PASSWORD_FAILURES:
            ]

        await self._change(instance, link.id, failed)
        return False

    @staticmethod
    def password_proof(instance: Instance, link: ShareLink) -> str:
        """The cookie value that says "the password of this link was given".

        Bound to the link and to its password's hash: another link, or this one with a new
        password, does not accept it.
        """
        message = f"share-password\0{link.id}\0{link.password_hash or ''}".encode()
        return hmac.new(instance.secret, message, hashlib.sha256).hexdigest()

    def has_proof(self, instance: Instance, link: ShareLink, value: str | None) -> bool:
        if link.password_hash is None:
            return True
        if not value:
            return False
        return hmac.compare_digest(self.password_proof(instance, link), value)

    async def _change(self, instance: Instance, link_id: str, change: Any) -> None:
        """Read the document fresh, change it, write it; again on a concurrent write."""
        db = instance.db(PERMISSIONS_DOCTYPE)
        for _ in range(_WRITE_ATTEMPTS):
            doc = await self.couch.get_doc_or_none(db, link_id)
            if doc is None or not isinstance(doc.get("share"), dict):
                raise NotFound("no such share link")
            change(doc)
            try:
                await self.permission_docs.update(instance, doc)
                return
            except Conflict:
                continue
        raise Conflict("the share link is being changed elsewhere; try again")


def _recent(doc: dict[str, Any], now: float) -> list[float]:
    times = doc.get("share", {}).get("password_failures")
    if not isinstance(times, list):
        return []
    return sorted(
        float(t)
        for t in times
        if isinstance(t, int | float) and now - float(t) <= PASSWORD_WINDOW_SECONDS
    )
