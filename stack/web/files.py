"""`/files`: cozy-stack's file API (docs/api/files.md) over the VFS — the route table.

Handlers live with their concept: `files_content` (uploads, new content, downloads),
`files_metadata` (metadata, rename, move, PATCH, to the trash), `files_trash`,
`files_versions`, `references` and `files_usage`. Each parses and validates everything it
can *before* reading a body or writing anything, asks `roost.permissions.decide` through
`FileAccess`, then calls the VFS. Answers are JSON:API documents like cozy-stack's; errors
stay Roost's `{"error","reason"}` (see `roost.web.error_table`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from roost.web import references
from roost.web.files_content import create, download, download_by_path, overwrite
from roost.web.files_metadata import delete, get_file, get_metadata, patch
from roost.web.files_trash import destroy, empty_trash, list_trash, restore
from roost.web.files_usage import disk_usage
from roost.web.files_versions import download_version, list_versions, revert

ROUTES: list[BaseRoute] = [
    Route("/files/", create, methods=["POST"]),
    Route("/files/trash", list_trash, methods=["GET"]),
    Route("/files/trash", empty_trash, methods=["DELETE"]),
    Route("/files/trash/{file_id}", restore, methods=["POST"]),
    Route("/files/trash/{file_id}", destroy, methods=["DELETE"]),
    Route("/files/metadata", get_metadata, methods=["GET"]),
    Route("/files/download", download_by_path, methods=["GET", "HEAD"]),
    Route("/files/download/{file_id}", download, methods=["GET", "HEAD"]),
    Route("/files/download/{file_id}/{version_id}", download_version, methods=["GET", "HEAD"]),
    Route("/files/revert/{file_id}/{version_id}", revert, methods=["POST"]),
    Route("/files/{file_id}/versions", list_versions, methods=["GET"]),
    *references.FILE_ROUTES,
    Route("/files/{dir_id}", create, methods=["POST"]),
    Route("/files/{file_id}", get_file, methods=["GET"]),
    Route("/files/{file_id}", overwrite, methods=["PUT"]),
    Route("/files/{file_id}", patch, methods=["PATCH"]),
    Route("/files/{file_id}", delete, methods=["DELETE"]),
    *references.DATA_ROUTES,
    Route("/settings/disk-usage", disk_usage, methods=["GET"]),
]
