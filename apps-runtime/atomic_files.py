"""Files written whole or not at all: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes | bytearray, *, suffix: str = "") -> None:
    """Write `data` to `path` through a temporary file: never a half-written file.

    The temporary file sits next to `path` (same file system, so `os.replace` is atomic) and
    is synced before the rename, so a crash leaves the old file or the new one. Blocking:
    async callers run it in a thread.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
