"""The threads guests run in: reused from run to run, never waited for.

A run needs a thread of its own so that a guest blocked outside wasm (in a host call that
does not return) can be abandoned past its deadline while the event loop goes on. Starting
a thread costs about 0.1 ms, a seventh of a whole run of a small C app, so a thread that
finished its run parks and takes the next one. Nothing here is a pool with a size that could
run out: when no parked thread is free a new one starts, so a thread stuck in a blocked run
never delays another run; it simply never comes back. At most `keep` threads park, and a
parked thread that gets no run for `idle_seconds` ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

KEEP: Final = 4
IDLE_SECONDS: Final = 30.0

Job = Callable[[], None]


class _Parked:
    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.job: Job | None = None
        self.wake = threading.Semaphore(0)


class RunThreads:
    def __init__(
        self, *, keep: int = KEEP, idle_seconds: float = IDLE_SECONDS, name: str = "roost-app-run"
    ) -> None:
        self.keep = keep
        self.idle_seconds = idle_seconds
        self.name = name
        self._lock = threading.Lock()
        self._parked: list[_Parked] = []
        self.started = 0  # threads started so far (for tests and diagnostics)

    def submit(self, job: Job) -> None:
        """Run `job` (which must not raise) in a parked thread, or in a new one."""
        with self._lock:
            parked = self._parked.pop() if self._parked else None
            if parked is None:
                self.started += 1
        if parked is not None:
            parked.job = job
            parked.wake.release()
            return
        fresh = _Parked()
        fresh.job = job
        threading.Thread(target=self._serve, args=(fresh,), name=self.name, daemon=True).start()

    def parked(self) -> int:
        with self._lock:
            return len(self._parked)

    def _serve(self, me: _Parked) -> None:
        while True:
            # The job is taken out of `me` (which the thread's arguments hold for its whole
            # life) and dropped once done: a parked thread holds nothing of its last run,
            # whose closure keeps the run's component (tens of MB mapped) and input alive.
            job, me.job = me.job, None
            assert job is not None
            job()
            del job
            with self._lock:
                if len(self._parked) >= self.keep:
                    return
                self._parked.append(me)
            if not me.wake.acquire(timeout=self.idle_seconds):
                with self._lock:
                    if me in self._parked:
                        self._parked.remove(me)
                        return
                # Taken just as the wait ended: the job and its release are on their way.
                me.wake.acquire()
