"""`RenderPool`: a render past its wall-clock limit, a worker that dies and one that
exceeds its CPU-time limit each end in a clean `RenderAborted`, and the pool works on."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import pytest

from roost.thumbnails.pool import RenderAborted, RenderPool
from roost.thumbnails.render import limit_cpu


def pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def die() -> None:
    os._exit(3)


def spin(cpu_seconds: int) -> None:
    limit_cpu(cpu_seconds)
    while True:
        pass


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    made = RenderPool(1, wall_seconds=20.0)
    yield made
    made.close()


async def test_a_render_past_the_wall_clock_limit_is_stopped(pool: RenderPool) -> None:
    assert await pool.run(pause, 0) == 0  # the worker is up
    pool.wall_seconds = 1.0
    with pytest.raises(RenderAborted, match="took more than 1 s"):
        await pool.run(pause, 600)
    pool.wall_seconds = 20.0
    assert await pool.run(pause, 0.01) == 0.01


async def test_a_dead_worker_is_replaced(pool: RenderPool) -> None:
    with pytest.raises(RenderAborted, match="worker stopped"):
        await pool.run(die)
    assert await pool.run(pause, 0) == 0


async def test_the_kernel_ends_a_render_past_its_cpu_time(pool: RenderPool) -> None:
    with pytest.raises(RenderAborted, match="worker stopped"):
        await pool.run(spin, 1)
    assert await pool.run(pause, 0) == 0
