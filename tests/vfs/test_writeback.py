"""Starting an upload's disk write early (`roost.vfs.writeback`): a hint to the kernel that
never changes the bytes and never fails the upload."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from roost.vfs import writeback


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_linux_has_the_call() -> None:
    assert writeback.available()


def test_a_range_written_and_queued_reads_back_unchanged(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 11)
    path = tmp_path / "upload.part"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data[:1024])
        writeback.start_writeback(fd, 0, 1024)
        os.write(fd, data[1024:])
        writeback.start_writeback(fd, 1024, len(data) - 1024)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == data


def test_a_bad_descriptor_or_range_is_ignored(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "closed", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    writeback.start_writeback(fd, 0, 4096)  # closed: EBADF, ignored
    readable = os.open(tmp_path / "closed", os.O_RDONLY)
    try:
        writeback.start_writeback(readable, -1, 10)  # EINVAL, ignored
    finally:
        os.close(readable)
