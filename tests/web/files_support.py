"""A small client for the `/files` API in tests: one method per route, raw httpx answers."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from roost.services import Services

IssueToken = Callable[..., Awaitable[str]]


def content_md5(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()


def files_on_disk(root: Path) -> set[Path]:
    """Every regular file under a directory (to prove nothing was left behind there)."""
    if not root.exists():
        return set()
    return {path for path in root.rglob("*") if path.is_file()}


@dataclass(frozen=True)
class StoredBytes:
    """What the blob store holds for an instance (local disk or S3): its temporaries and
    how many blobs — to prove a refused upload left nothing behind."""

    temporaries: frozenset[str]
    blobs: int

    def nothing_added_since(self, before: StoredBytes) -> bool:
        return self.temporaries <= before.temporaries and self.blobs <= before.blobs


async def stored_bytes(services: Services, instance: Instance) -> StoredBytes:
    blobs = services.vfs.blobs
    return StoredBytes(
        frozenset(await blobs.temporaries()), await blobs.blob_count(instance.domain)
    )


class FilesApi:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def _h(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.headers, **(extra or {})}

    async def upload(
        self,
        name: str,
        content: bytes | AsyncIterator[bytes],
        *,
        dir_id: str = ROOT_DIR_ID,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        query = {"Type": "file", "Name": name, **(params or {})}
        return await self.http.post(
            f"/files/{dir_id}", params=query, content=content, headers=self._h(headers)
        )

    async def upload_ok(self, name: str, content: bytes, *, dir_id: str = ROOT_DIR_ID) -> str:
        response = await self.upload(name, content, dir_id=dir_id)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    async def mkdir(
        self, name: str, *, dir_id: str = ROOT_DIR_ID, params: Mapping[str, str] | None = None
    ) -> httpx.Response:
        query = {"Type": "directory", "Name": name, **(params or {})}
        return await self.http.post(f"/files/{dir_id}", params=query, headers=self._h())

    async def mkdir_ok(self, name: str, *, dir_id: str = ROOT_DIR_ID) -> str:
        response = await self.mkdir(name, dir_id=dir_id)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    async def get(self, file_id: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.http.get(f"/files/{file_id}", params=params, headers=self._h())

    async def attributes(self, file_id: str) -> dict[str, Any]:
        response = await self.get(file_id)
        assert response.status_code == 200, response.text
        attributes: dict[str, Any] = response.json()["data"]["attributes"]
        return attributes

    async def rev(self, file_id: str) -> str:
        response = await self.get(file_id)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["meta"]["rev"])

    async def metadata(self, path: str) -> httpx.Response:
        return await self.http.get("/files/metadata", params={"Path": path}, headers=self._h())

    async def download(
        self, file_id: str, headers: Mapping[str, str] | None = None, **params: str
    ) -> httpx.Response:
        return await self.http.get(
            f"/files/download/{file_id}", params=params, headers=self._h(headers)
        )

    async def download_path(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(
            "/files/download", params={"Path": path, **params}, headers=self._h()
        )

    async def overwrite(
        self, file_id: str, content: bytes, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.put(f"/files/{file_id}", content=content, headers=self._h(headers))

    async def patch(
        self, file_id: str, attributes: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        body = {"data": {"type": "io.cozy.files", "id": file_id, "attributes": dict(attributes)}}
        return await self.http.patch(f"/files/{file_id}", json=body, headers=self._h(headers))

    async def trash(self, file_id: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.http.delete(f"/files/{file_id}", headers=self._h(headers))

    async def list_trash(self) -> httpx.Response:
        return await self.http.get("/files/trash", headers=self._h())

    async def restore(self, file_id: str) -> httpx.Response:
        return await self.http.post(f"/files/trash/{file_id}", headers=self._h())

    async def destroy(self, file_id: str) -> httpx.Response:
        return await self.http.delete(f"/files/trash/{file_id}", headers=self._h())

    async def empty_trash(self) -> httpx.Response:
        return await self.http.delete("/files/trash", headers=self._h())

    async def versions(self, file_id: str) -> httpx.Response:
        return await self.http.get(f"/files/{file_id}/versions", headers=self._h())

    async def download_version(self, file_id: str, version_id: str) -> httpx.Response:
        return await self.http.get(f"/files/download/{file_id}/{version_id}", headers=self._h())

    async def revert(self, file_id: str, version_id: str) -> httpx.Response:
        return await self.http.post(f"/files/revert/{file_id}/{version_id}", headers=self._h())

    async def disk_usage(self) -> httpx.Response:
        return await self.http.get("/settings/disk-usage", headers=self._h())

    async def add_referenced_by(
        self, file_id: str, refs: Iterable[tuple[str, str]]
    ) -> httpx.Response:
        body = {"data": [{"type": t, "id": i} for t, i in refs]}
        return await self.http.post(
            f"/files/{file_id}/relationships/referenced_by", json=body, headers=self._h()
        )

    async def remove_referenced_by(
        self, file_id: str, refs: Iterable[tuple[str, str]]
    ) -> httpx.Response:
        body = {"data": [{"type": t, "id": i} for t, i in refs]}
        return await self.http.request(
            "DELETE",
            f"/files/{file_id}/relationships/referenced_by",
            json=body,
            headers=self._h(),
        )

    async def references(self, doctype: str, doc_id: str, **params: str) -> httpx.Response:
        return await self.http.get(
            f"/data/{doctype}/{doc_id}/relationships/references", params=params, headers=self._h()
        )

    async def add_references(
        self, doctype: str, doc_id: str, file_ids: Iterable[str]
    ) -> httpx.Response:
        body = {"data": [{"type": "io.cozy.files", "id": i} for i in file_ids]}
        return await self.http.post(
            f"/data/{doctype}/{doc_id}/relationships/references", json=body, headers=self._h()
        )

    async def remove_references(
        self, doctype: str, doc_id: str, file_ids: Iterable[str]
    ) -> httpx.Response:
        body = {"data": [{"type": "io.cozy.files", "id": i} for i in file_ids]}
        return await self.http.request(
            "DELETE",
            f"/data/{doctype}/{doc_id}/relationships/references",
            json=body,
            headers=self._h(),
        )


async def files_api(
    http: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, scope: str
) -> FilesApi:
    return FilesApi(http, await issue_token(instance, scope))
