"""Starting the disk write of an upload's bytes while the rest is still arriving.

A big upload is fsynced once it is complete (nothing is acknowledged before it is on disk).
Left to the kernel, most of its bytes are still dirty in the page cache at that moment, and
the fsync then waits for all of them: on a disk doing 1 GB/s that is 0.15 s at the end of a
256 MiB PUT, during which nothing else progresses. `start_writeback` asks the kernel to
begin writing a range just written (Linux's `sync_file_range` with `SYNC_FILE_RANGE_WRITE`:
it queues the write and returns), so the disk works while the next bytes are received and
hashed, and the final fsync finds little left.

It promises nothing about durability (the fsync still does that) and does nothing where
the call does not exist.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Final

_SYNC_FILE_RANGE_WRITE: Final = 2

_Call = Callable[[int, int, int, int], int]


def _sync_file_range() -> _Call | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    call: _Call = function
    return call


_CALL: Final = _sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Queue the disk write of `length` bytes at `offset` of `fd`; a failure is ignored
    (the fsync that completes the file reports what matters)."""
    if _CALL is not None:
        _CALL(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def available() -> bool:
    return _CALL is not None
