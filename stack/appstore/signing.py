"""Ed25519 keys for registries: make a key pair, sign, and check against the trusted keys.

A public key is written as one line of text, ``ed25519:<base64 of the 32 raw bytes>``, so it
fits in a TOML list or an environment variable. Its *key id* is the first 16 hex digits of
the SHA-256 of the raw bytes: an index's signature names the key it was made with, and only a
key the operator trusts may verify it. Private keys are PKCS#8 PEM files, written with mode
0600 (`cryptography` reads and writes both).

`cryptography` is imported where a key is used, not with this module: a server that never
checks a registry's signature keeps its 7 MB out of memory (see `roost/lean_imports.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "BadKey",
    "PublicKey",
    "SigningKey",
    "TrustedKeys",
    "generate_key_pair",
    "load_signing_key",
]

PREFIX = "ed25519:"


class BadKey(ValueError):
    """A key file or key text that cannot be used; the message says why."""


@dataclass(frozen=True)
class PublicKey:
    raw: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    @property
    def text(self) -> str:
        return PREFIX + base64.b64encode(self.raw).decode("ascii")

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        value = text.strip()
        if not value.startswith(PREFIX):
            raise BadKey(f"a public key is written {PREFIX}<base64>, not {value[:24]!r}")
        try:
            raw = base64.b64decode(value[len(PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise BadKey("the public key is not valid base64") from None
        if len(raw) != 32:
            raise BadKey("an Ed25519 public key is 32 bytes long")
        return cls(raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        from cryptography.hazmat.primitives import serialization

        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return PublicKey(raw)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def load_signing_key(path: Path) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise BadKey(f"cannot read the key file {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise BadKey(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"{path} is not an Ed25519 key")
    return SigningKey(key)


def generate_key_pair(path: Path) -> SigningKey:
    """Write a new private key to ``path`` (0600, refusing to overwrite one) and its public
    key to ``path`` + ``.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists():
        raise BadKey(f"{path} exists already; a key is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey(Ed25519PrivateKey.generate())
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two commands racing never leave one key with the other's public half.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    Path(f"{path}.pub").write_text(key.public.text + "\n")
    return key


class TrustedKeys:
    """The public keys this Roost accepts registry signatures from, by key id."""

    def __init__(self, keys: list[PublicKey]) -> None:
        self._keys = {key.key_id: key for key in keys}

    def get(self, key_id: str) -> PublicKey | None:
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def ids(self) -> list[str]:
        return sorted(self._keys)

    def with_keys(self, more: list[PublicKey]) -> TrustedKeys:
        return TrustedKeys([*self._keys.values(), *more])
