"""Instances: one person's private space, found by host name, stored in `roost-global`.

An instance document holds the passphrase hash (argon2id), the token-signing secret,
the security stamp (changing it revokes every token at once), the database prefix and
the disk quota. Lookups are cached for at most `cache_ttl_seconds` so that several stack
processes on one CouchDB agree within seconds.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roost.config import Config
from roost.couch import CouchClient, database_name, sanitize_prefix
from roost.errors import BadRequest, Conflict, Forbidden, NotFound
from roost.passwords import hash_secret_async, verify_secret_async

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
MIN_PASSPHRASE_LENGTH = 8
# Ends every instance prefix. PouchDB Server stores `p/doctype` as `pdoctype` (it drops the
# slash), so without an end mark `a` + `bc-d` and `ab` + `c-d` would be one database.
# Domains never contain `_`, so the first `_` always ends the prefix.
PREFIX_END = "_"


def normalize_domain(host: str) -> str:
    """`Alice.Example.org:8443.` → `alice.example.org` (the port never matters)."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host.rstrip(".")


def validate_domain(domain: str) -> str:
    domain = normalize_domain(domain)
    if not _DOMAIN.match(domain):
        raise BadRequest(
            f"invalid instance domain {domain!r}: use a host name like alice.example.org"
        )
    return domain


@dataclass(frozen=True)
class Instance:
    domain: str
    prefix: str
    passphrase_hash: str
    secret: bytes
    stamp: str
    quota_bytes: int | None
    encryption_key: str
    created_at: str
    rev: str

    def db(self, doctype: str) -> str:
        return database_name(self.prefix, doctype)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Instance:
        return cls(
            domain=doc["_id"],
            prefix=doc["prefix"],
            passphrase_hash=doc["passphrase_hash"],
            secret=bytes.fromhex(doc["secret"]),
            stamp=doc["stamp"],
            quota_bytes=doc.get("quota_bytes"),
            encryption_key=doc["encryption_key"],
            created_at=doc["created_at"],
            rev=doc["_rev"],
        )


class InstanceService:
    """Create, find, list and remove instances."""

    def __init__(self, couch: CouchClient, config: Config) -> None:
        if PREFIX_END in config.db_prefix:
            raise BadRequest(f"db_prefix may not contain {PREFIX_END!r}")
        self.couch = couch
        self.config = config
        self.global_db = f"{config.db_prefix}roost-global"
        self._cache: dict[str, tuple[float, Instance | None]] = {}

    async def create(
        self, domain: str, passphrase: str, *, quota_bytes: int | None = None
    ) -> Instance:
        domain = validate_domain(domain)
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise BadRequest(f"the passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")
        await self.couch.ensure_db(self.global_db)
        if await self.couch.get_doc_or_none(self.global_db, domain) is not None:
            raise Conflict(f"instance {domain} already exists")
        prefix = self.config.db_prefix + sanitize_prefix(domain)
        taken = {inst.prefix for inst in await self.list()}
        if prefix + PREFIX_END in taken:
            prefix = f"{prefix}-{secrets.token_hex(3)}"
        prefix += PREFIX_END
        doc: dict[str, Any] = {
            "_id": domain,
            "prefix": prefix,
            "passphrase_hash": await hash_secret_async(passphrase),
            "secret": secrets.token_hex(32),
            "stamp": secrets.token_hex(8),
            "quota_bytes": quota_bytes,
            "encryption_key": secrets.token_urlsafe(32),
            "created_at": datetime.now(UTC).isoformat(),
        }
        await self.couch.put_doc(self.global_db, doc)
        instance = Instance.from_doc(doc)
        self._cache[domain] = (time.monotonic(), instance)
        return instance

    async def get(self, domain: str) -> Instance:
        instance = await self.find(domain)
        if instance is None:
            raise NotFound(f"no instance is served at {normalize_domain(domain)}")
        return instance

    async def find(self, domain: str) -> Instance | None:
        domain = normalize_domain(domain)
        cached = self._cache.get(domain)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.config.cache_ttl_seconds:
            return cached[1]
        doc = await self.couch.get_doc_or_none(self.global_db, domain) if domain else None
        instance = Instance.from_doc(doc) if doc is not None else None
        self._cache[domain] = (now, instance)
        return instance

    async def list(self) -> list[Instance]:
        result = await self.couch.all_docs(self.global_db, params={"include_docs": True})
        return [
            Instance.from_doc(row["doc"])
            for row in result["rows"]
            if "doc" in row and row["doc"] and not row["id"].startswith("_design/")
        ]

    async def _update(self, instance: Instance, **changes: Any) -> Instance:
        doc = await self.couch.get_doc(self.global_db, instance.domain)
        doc.update(changes)
        await self.couch.put_doc(self.global_db, doc)
        updated = Instance.from_doc(doc)
        self._cache[instance.domain] = (time.monotonic(), updated)
        return updated

    async def set_quota(self, instance: Instance, quota_bytes: int | None) -> Instance:
        return await self._update(instance, quota_bytes=quota_bytes)

    async def set_passphrase(self, instance: Instance, passphrase: str) -> Instance:
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise BadRequest(f"the passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")
        return await self._update(
            instance,
            passphrase_hash=await hash_secret_async(passphrase),
            stamp=secrets.token_hex(8),
        )

    async def change_passphrase(self, instance: Instance, current: str, new: str) -> Instance:
        """The owner's own change: the current passphrase first, then the new one's rules.

        Refused with nothing changed when `current` is wrong. The new security stamp ends
        every session and token; the caller keeps its own session with
        `SessionService.keep_only`.
        """
        if not await self.verify_passphrase(instance, current):
            raise Forbidden("the current passphrase is wrong")
        if new == current:
            raise BadRequest("the new passphrase is the same as the current one")
        return await self.set_passphrase(instance, new)

    async def revoke_all_tokens(self, instance: Instance) -> Instance:
        """New security stamp: every token and session issued before stops working."""
        return await self._update(instance, stamp=secrets.token_hex(8))

    async def verify_passphrase(self, instance: Instance, passphrase: str) -> bool:
        return await verify_secret_async(instance.passphrase_hash, passphrase)

    async def remove(self, domain: str) -> None:
        instance = await self.get(domain)
        for db in await self.couch.databases_under(instance.prefix):
            await self.couch.delete_db(db)
        doc = await self.couch.get_doc(self.global_db, instance.domain)
        await self.couch.delete_doc(self.global_db, instance.domain, doc["_rev"])
        self._cache.pop(instance.domain, None)
        shutil.rmtree(self.config.files_dir / instance.domain, ignore_errors=True)
