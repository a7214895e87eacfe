"""CPU time of server processes, read from /proc, for the benchmarks that print CPU per
operation (`dav.py`, `dav_cpu.py`).

Throughput on a shared machine moves with whatever else runs; the CPU a server process
spent per operation (utime + stime, before and after a fixed number of operations) does
not, so that is the figure the WebDAV benchmarks report next to their rates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children of all its threads, recursively)."""
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.add(child)
            found |= descendants(child)
    return found


def process_tree(roots: Iterable[int]) -> list[int]:
    """`roots` and every process below them."""
    found: set[int] = set()
    for pid in roots:
        found.add(pid)
        found |= descendants(pid)
    return sorted(found)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds the processes `pids` have used so far (gone ones: 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def load_average() -> float:
    return os.getloadavg()[0]
