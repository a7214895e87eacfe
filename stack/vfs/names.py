"""File and directory names: validation, NFC normalisation, and renaming on conflict."""

from __future__ import annotations

import unicodedata

from roost.vfs.errors import InvalidName

MAX_NAME_BYTES = 255


def normalize_name(name: str) -> str:
    """The NFC form of a valid name, or `InvalidName`.

    NFC so that a name typed on macOS (which decomposes accents) and the same name typed
    elsewhere are one name, not two look-alike entries of one directory.
    """
    if not isinstance(name, str):
        raise InvalidName("a name must be a string")
    name = unicodedata.normalize("NFC", name)
    if name == "":
        raise InvalidName("a name may not be empty")
    if name in (".", ".."):
        raise InvalidName(f"{name!r} is not a valid name")
    if "/" in name:
        raise InvalidName("a name may not contain '/'")
    for char in name:
        code = ord(char)
        if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
            raise InvalidName("a name may not contain NUL or control characters")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidName(f"a name may be at most {MAX_NAME_BYTES} bytes in UTF-8")
    return name


def conflict_name(name: str, attempt: int, *, is_dir: bool) -> str:
    """`report.pdf` → `report (2).pdf`: the name to try after `attempt` collisions.

    Used when restoring from the trash or trashing into a trash that already holds
    the same name, as Cozy does.
    """
    base, ext = name, ""
    if not is_dir:
        dot = name.rfind(".")
        if dot > 0:
            base, ext = name[:dot], name[dot:]
    suffix = f" ({attempt + 1})"
    candidate = f"{base}{suffix}{ext}"
    while len(candidate.encode("utf-8")) > MAX_NAME_BYTES and base:
        base = base[:-1]
        candidate = f"{base}{suffix}{ext}"
    return candidate


def join_path(parent_path: str, name: str) -> str:
    return f"/{name}" if parent_path == "/" else f"{parent_path}/{name}"


def split_path(path: str) -> list[str]:
    """`/a/b/` → ["a", "b"]; every segment NFC-normalised and validated."""
    return [normalize_name(part) for part in path.split("/") if part != ""]
