"""Worker processes for thumbnails, bounded in number, memory and time.

Decoding a picture holds the CPU for tens of milliseconds and may allocate hundreds of
megabytes, so it runs in separate processes on purpose: the event loop never waits on it,
a decoder that crashes or exhausts its memory takes down one worker and not the server,
and the kernel enforces the bounds (address space and CPU time, see `render.py`). The
processes are *spawned* (not forked): the server has threads (uvicorn, wasmtime's ticker,
the store client) that a fork would copy in an undefined state.

At most `workers` renders run at once; the others wait here, not in the executor's queue,
so the wall-clock limit measures a render and not its wait. A render past the limit gets
its pool killed and replaced; so does a pool whose worker died.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Final, TypeVar

from roost.thumbnails.render import RenderError, configure_worker

log = logging.getLogger("roost.thumbnails")

T = TypeVar("T")

DEFAULT_MEMORY_BYTES: Final = 1536 * 1024 * 1024  # address space per worker
DEFAULT_WALL_SECONDS: Final = 60.0
DEFAULT_CPU_SECONDS: Final = 30
# Workers are replaced after this many renders, so a slow leak in a decoder cannot grow.
TASKS_PER_WORKER: Final = 500


class RenderAborted(RenderError):
    """The worker was stopped or lost (a time limit, or a crash of any render in the same
    pool): not a verdict on this file, which may well succeed on its next try."""


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


class RenderPool:
    def __init__(
        self,
        workers: int | None = None,
        *,
        memory_bytes: int | None = DEFAULT_MEMORY_BYTES,
        wall_seconds: float = DEFAULT_WALL_SECONDS,
        cpu_seconds: int = DEFAULT_CPU_SECONDS,
        niceness: int = 5,
    ) -> None:
        self.workers = workers or default_workers()
        self.memory_bytes = memory_bytes
        self.wall_seconds = wall_seconds
        self.cpu_seconds = cpu_seconds
        self.niceness = niceness
        self._executor: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    def _executor_now(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=configure_worker,
                initargs=(self.memory_bytes, self.niceness),
                max_tasks_per_child=TASKS_PER_WORKER,
            )
        return self._executor

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots = asyncio.Semaphore(self.workers)
            self._slots_loop = loop
        return self._slots

    def _discard(self, executor: ProcessPoolExecutor, *, kill: bool) -> None:
        if self._executor is executor:
            self._executor = None
        if kill:
            # The executor cannot cancel a running task: end its processes instead.
            for process in list(executor._processes.values()):
                with contextlib.suppress(Exception):
                    process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)` in a worker; RenderError when it fails or overruns."""
        slots = self._semaphore()
        await slots.acquire()
        loop = asyncio.get_running_loop()
        try:
            executor = self._executor_now()
            future: Future[T] = executor.submit(functools.partial(function, *args, **kwargs))
        except BaseException:
            slots.release()
            raise

        # The slot is freed when the worker is done, not when the caller stops waiting
        # (a cancelled job): until then the process is still busy.
        def free(_: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(slots.release)

        future.add_done_callback(free)
        try:
            async with asyncio.timeout(self.wall_seconds):
                return await asyncio.shield(asyncio.wrap_future(future))
        except TimeoutError:
            log.warning("thumbnail worker overran; its pool is replaced")
            self._discard(executor, kill=True)
            limit = f"{self.wall_seconds:g} s"
            raise RenderAborted(f"making the thumbnail took more than {limit}") from None
        except BrokenProcessPool:
            log.warning("thumbnail worker died; its pool is replaced")
            self._discard(executor, kill=False)
            raise RenderAborted(
                "the thumbnail worker stopped: the file needs more time or memory than allowed"
            ) from None

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
