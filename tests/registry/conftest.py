"""Registries made for real: app folders around the real doc-stats component (3 KB, compiled
in milliseconds), packed, indexed and signed with real Ed25519 keys by `roost.appstore`."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from roost.appstore.registry_build import build_index, pack_app, sign_registry
from roost.appstore.signing import SigningKey, generate_key_pair
from roost.config import Config
from tests.apps.conftest import EXAMPLES, build

READ_CONTACTS = {
    "contacts": {
        "type": "io.cozy.contacts",
        "verbs": ["GET"],
        "description": "show your contacts' birthdays",
    }
}
WRITE_CONTACTS = {
    "contacts": {
        "type": "io.cozy.contacts",
        "verbs": ["GET", "POST"],
        "description": "show your contacts' birthdays",
    },
    "events": {
        "type": "io.cozy.calendar.events",
        "verbs": ["POST"],
        "description": "add birthdays to your calendar",
    },
}


@pytest.fixture(scope="session")
def component() -> Path:
    """The doc-stats component, built (or taken from the build cache) once."""
    build(EXAMPLES / "doc-stats")
    return EXAMPLES / "doc-stats" / "app.wasm"


AppMaker = Callable[..., Path]


def write_app(
    root: Path,
    component: Path,
    slug: str,
    version: str,
    *,
    type: str = "webapp",
    permissions: dict[str, Any] | None = None,
    egress: list[str] | None = None,
    name: str | None = None,
) -> Path:
    """An app folder `root/{slug}-{version}`: a manifest around the doc-stats component."""
    folder = root / f"{slug}-{version}"
    folder.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "slug": slug,
        "name": name or slug.replace("-", " ").title(),
        "version": version,
        "type": type,
        "description": [f"{name or slug} does one useful thing."],
        "permissions": permissions if permissions is not None else READ_CONTACTS,
        "budget": {"fuel": 100000000, "memory_mib": 4, "wall_seconds": 2},
    }
    if egress:
        manifest["egress"] = egress
    if type == "konnector":
        manifest["fields"] = {
            "login": {"type": "text", "label": "Customer number"},
            "password": {"type": "password", "label": "Password"},
        }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    shutil.copyfile(component, folder / "app.wasm")
    return folder


@pytest.fixture
def make_app(tmp_path: Path, component: Path) -> AppMaker:
    return functools.partial(write_app, tmp_path / "apps", component)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return generate_key_pair(tmp_path / "keys" / "registry.key")


@pytest.fixture
def other_key(tmp_path: Path) -> SigningKey:
    return generate_key_pair(tmp_path / "keys" / "other.key")


def publish(registry: Path, apps: list[Path], key: SigningKey | None) -> Path:
    """Pack `apps` into `registry`, index them and sign with `key` (None: left unsigned)."""
    for folder in apps:
        pack_app(folder, registry)
    build_index(registry, "Test registry")
    if key is not None:
        sign_registry(registry, key)
    return registry


def publish_one(root: Path, make_app: AppMaker, key: SigningKey | None, **app: Any) -> Path:
    """A registry at `root` holding birthdays 1.0.0 (signed with `key`; None: unsigned)."""
    return publish(root, [make_app("birthdays", "1.0.0", **app)], key)


def flip_byte(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    where = len(data) // 2 if at is None else at
    data[where] ^= 0x01
    path.write_bytes(bytes(data))


def store_config(config: Config, registries: list[str], keys: list[SigningKey]) -> Config:
    """The session's config with these registries and trusted keys, and no caching of
    indexes (a test changes a registry between two looks)."""
    return replace(
        config,
        registries=tuple(registries),
        registry_trusted_keys=tuple(k.public.text for k in keys),
        registry_bundled=False,
        cache_ttl_seconds=0.0,
    )
