"""A file's `mime` and Cozy `class`, guessed from its name (as cozy-stack does at upload)."""

from __future__ import annotations

import mimetypes

DEFAULT_MIME = "application/octet-stream"

_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".heic": "image/heic",
    ".webp": "image/webp",
    ".mkv": "video/x-matroska",
    ".flac": "audio/flac",
    ".opus": "audio/ogg",
    ".epub": "application/epub+zip",
    ".url": "application/internet-shortcut",
}

_CLASS_BY_MIME = {
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/x-tar": "zip",
    "application/gzip": "zip",
    "application/x-7z-compressed": "zip",
    "application/x-rar-compressed": "zip",
    "application/internet-shortcut": "shortcut",
    "application/msword": "text",
    "application/vnd.oasis.opendocument.text": "text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "text",
    "application/vnd.ms-excel": "spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet": "spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "spreadsheet",
    "text/csv": "spreadsheet",
    "application/vnd.ms-powerpoint": "slide",
    "application/vnd.oasis.opendocument.presentation": "slide",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "slide",
    "application/javascript": "code",
    "application/json": "code",
    "application/x-python": "code",
    "text/x-python": "code",
    "text/x-shellscript": "code",
}


def guess_mime(name: str) -> str:
    dot = name.rfind(".")
    if dot > 0:
        extra = _EXTRA_TYPES.get(name[dot:].lower())
        if extra:
            return extra
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_MIME


def mime_class(mime: str) -> str:
    """Cozy's coarse `class` of a mime type: image, audio, video, text, pdf, … or files."""
    mime = mime.split(";")[0].strip().lower()
    known = _CLASS_BY_MIME.get(mime)
    if known:
        return known
    top = mime.split("/")[0]
    if top in ("image", "audio", "video", "text"):
        return top
    return "files"
