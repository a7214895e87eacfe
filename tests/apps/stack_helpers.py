"""Helpers for the stack-level app tests: packages of the examples, install with consent."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import httpx

from .conftest import EXAMPLES


def package(
    slug: str, *, manifest_changes: dict[str, Any] | None = None, ui: dict[str, bytes] | None = None
) -> bytes:
    folder = EXAMPLES / slug
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(manifest_changes or {})
    return package_of(slug, (folder / "app.wasm").read_bytes(), manifest, ui=ui)


def package_of(
    slug: str, wasm: bytes, manifest: dict[str, Any], *, ui: dict[str, bytes] | None = None
) -> bytes:
    """A package (`.tar.gz`) of `wasm` and `manifest`, in a top folder named `slug`."""
    files = {
        "manifest.json": json.dumps(manifest).encode(),
        "app.wasm": wasm,
        **{f"ui/{k}": v for k, v in (ui or {}).items()},
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{slug}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def install(owner: httpx.AsyncClient, data: bytes) -> dict[str, Any]:
    asked = await owner.post(
        "/apps/install", content=data, headers={"content-type": "application/gzip"}
    )
    assert asked.status_code == 403, asked.text
    body = asked.json()
    assert body["error"] == "consent_required" and body["consent"]
    accepted = await owner.post(f"/apps/install/{body['staging']}/accept")
    assert accepted.status_code == 201, accepted.text
    result: dict[str, Any] = accepted.json()
    return result
