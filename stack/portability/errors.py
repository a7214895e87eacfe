"""Errors of export and import, mapped once at the edges (one CLI line, one HTTP status)."""

from __future__ import annotations

from roost.errors import BadRequest, NotFound, RoostError


class ArchiveRejected(BadRequest):
    """The archive is truncated, tampered with, unsafe or not a Roost export; nothing was
    written."""

    error = "archive_rejected"


class ExportNotFound(NotFound):
    """No ready export with this id for this instance (or it expired)."""


class ImportFailed(RoostError):
    """The store refused part of an import (reported per document)."""

    status = 500
