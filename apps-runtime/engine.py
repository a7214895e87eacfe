"""The process-wide wasmtime Engine and its epoch ticker.

One Engine per process (component model, fuel, epoch interruption, bounded wasm stack).
A daemon thread increments the epoch every ``tick_seconds`` while a guest runs; a Store's
epoch deadline is a number of ticks, so a run's wall-time limit is
``ceil(wall_seconds / tick_seconds)`` ticks. With no guest running the thread sleeps: a
box at rest does not wake a hundred times a second (that alone was 0.8 % of a core).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import wasmtime

__all__ = ["AppEngine", "EngineSettings", "get_engine", "shutdown_engine"]


@dataclass(frozen=True)
class EngineSettings:
    """The engine flags. They are part of the ``.cwasm`` cache key: a change recompiles."""

    max_wasm_stack: int = 1024 * 1024
    cranelift_opt_level: str = "speed"
    tick_seconds: float = 0.01

    def compile_flags(self) -> dict[str, object]:
        """Flags that change the compiled code (the tick period does not)."""
        flags = asdict(self)
        flags.pop("tick_seconds")
        flags.update(component_model=True, consume_fuel=True, epoch_interruption=True)
        return flags


def wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


class AppEngine:
    """A wasmtime Engine configured for Roost apps, with its epoch ticker thread."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        config = wasmtime.Config()
        config.wasm_component_model = True
        config.consume_fuel = True
        config.epoch_interruption = True
        config.max_wasm_stack = self.settings.max_wasm_stack
        config.cranelift_opt_level = self.settings.cranelift_opt_level
        self.engine = wasmtime.Engine(config)
        self.fingerprint = hashlib.sha256(
            json.dumps(
                {"wasmtime": wasmtime_version(), "flags": self.settings.compile_flags()},
                sort_keys=True,
            ).encode()
        ).hexdigest()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Guests running now; the ticker counts only while there is one (`_busy` set).
        self._active = 0
        self._busy = threading.Event()

    # -- epoch ticker -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the epoch ticker (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            if self._active == 0:
                self._busy.clear()
            self._thread = threading.Thread(target=self._tick, name="roost-apps-epoch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the epoch ticker and wait for its thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._busy.set()  # wakes a ticker waiting for a guest, which then sees the stop
        if thread is not None:
            thread.join(timeout=1.0)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ticking(self) -> bool:
        """Whether the epoch advances now (a guest is running)."""
        return self._busy.is_set()

    @contextmanager
    def guest_running(self) -> Iterator[None]:
        """Around a guest's run (from before its epoch deadline is set): the ticker counts
        while at least one is inside."""
        with self._lock:
            self._active += 1
            self._busy.set()
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and not self._stop.is_set():
                    self._busy.clear()

    def _tick(self) -> None:
        # Count ticks from the clock, not from wake-ups: on a loaded machine a wake-up comes
        # late, and a deadline counted in wake-ups would stretch past the wall time it means.
        # Deadlines are relative to the epoch when they are set, and the epoch stands still
        # only while no guest runs, so a pause never shortens or lengthens a run's limit.
        tick = self.settings.tick_seconds
        while not self._stop.is_set():
            self._busy.wait()
            start = time.monotonic()
            done = 0
            while self._busy.is_set() and not self._stop.wait(tick):
                due = int((time.monotonic() - start) / tick)
                while done < due:
                    self.engine.increment_epoch()
                    done += 1

    def ticks_for(self, seconds: float) -> int:
        """Epoch ticks for a wall-time limit (at least one)."""
        return max(1, math.ceil(seconds / self.settings.tick_seconds))


_ENGINE: AppEngine | None = None
_ENGINE_LOCK = threading.Lock()


def get_engine(settings: EngineSettings | None = None) -> AppEngine:
    """The process-wide engine, created and started on first use.

    ``settings`` only matters on the first call; a later call with different settings fails
    (one engine per process: components compiled for one cannot run on another).
    """
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = AppEngine(settings)
        elif settings is not None and settings != _ENGINE.settings:
            raise RuntimeError("the app engine already exists with other settings")
        _ENGINE.start()
        return _ENGINE


def shutdown_engine() -> None:
    """Stop the process-wide engine's ticker (the engine itself stays usable for compiles)."""
    with _ENGINE_LOCK:
        if _ENGINE is not None:
            _ENGINE.stop()
