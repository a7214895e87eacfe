"""Compile and validate components at install; load precompiled ``.cwasm`` on runs.

The cache key is sha256(engine fingerprint + wasm sha256), where the engine fingerprint
covers the wasmtime version and every engine flag that changes compiled code: after an
upgrade or a config change the key changes, and :meth:`ComponentCache.ensure` (called at
install and at start-up) recompiles. :meth:`ComponentCache.load` never compiles: a run with
no artifact fails with :class:`NotCompiled`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import wasmtime
from wasmtime import component

from roost.apps import WORLD_INTERFACES, WORLD_PACKAGE
from roost.apps.atomic_files import write_atomic
from roost.apps.engine import AppEngine

__all__ = [
    "ALLOWED_WASI_PACKAGES",
    "ROOST_INTERFACES",
    "CompileError",
    "CompiledApp",
    "CompilerFailed",
    "ComponentCache",
    "NotCompiled",
    "compile_component",
    "sha256_hex",
    "validate_component",
]

ROOST_INTERFACES: tuple[str, ...] = WORLD_INTERFACES["0.1.0"]
#: WASI p2 packages a guest may import (componentize-py needs them). The Store's empty
#: WasiConfig gives them nothing: no preopens, no env, sockets answer access-denied.
ALLOWED_WASI_PACKAGES = frozenset(
    {"wasi:cli", "wasi:clocks", "wasi:filesystem", "wasi:io", "wasi:random", "wasi:sockets"}
)
_IMPORT_RE = re.compile(r"^(?P<pkg>[a-z0-9-]+:[a-z0-9-]+)/(?P<iface>[a-z0-9-]+)@(?P<ver>[0-9.]+)$")


@contextlib.contextmanager
def _held(lock_path: Path) -> Iterator[None]:
    """An exclusive lock across processes (stacks or test workers sharing one cache dir)."""
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class CompileError(ValueError):
    """The wasm is not a valid component of the Roost world."""


class CompilerFailed(RuntimeError):
    """The compiler process itself failed (killed, out of memory): not the package's fault."""


class NotCompiled(LookupError):
    """No ``.cwasm`` for this wasm and engine: install (or start-up) must compile it first."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def allowed_import(name: str) -> bool:
    m = _IMPORT_RE.match(name)
    if m is None:
        return False
    pkg, iface, ver = m.group("pkg"), m.group("iface"), m.group("ver")
    if pkg == WORLD_PACKAGE:
        return iface in WORLD_INTERFACES.get(ver, ())
    return pkg in ALLOWED_WASI_PACKAGES and ver.startswith("0.2.")


@dataclass(frozen=True)
class CompiledApp:
    wasm_sha256: str
    path: Path
    imports: tuple[str, ...]
    #: True when an existing ``.cwasm`` was reused (nothing was compiled).
    cached: bool
    compile_seconds: float

    @property
    def uses_wasi(self) -> bool:
        """The guest imports WASI (a componentize-py guest): it needs a larger memory floor."""
        return any(name.startswith("wasi:") for name in self.imports)


class ComponentCache:
    """``.cwasm`` artifacts in ``cache_dir``, plus a small in-memory set of loaded components."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        engine: AppEngine,
        *,
        keep_loaded: int = 32,
        compile_memory_bytes: int = 2 * 1024**3,
    ) -> None:
        self.dir = Path(cache_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.keep_loaded = keep_loaded
        #: The compiler process's address-space cap (0: none). A Python guest compiles in
        #: well under 1 GiB; the default leaves room for twice the largest example.
        self.compile_memory_bytes = compile_memory_bytes
        self.compiles = 0
        self._compile_lock = threading.Lock()  # one compile at a time: ~0.5 GB peak each
        self._loaded: OrderedDict[str, component.Component] = OrderedDict()
        self._last_used: dict[str, float] = {}
        self._loaded_lock = threading.Lock()

    def key(self, wasm_sha256: str) -> str:
        return sha256_hex(f"{self.engine.fingerprint}:{wasm_sha256}".encode())

    def path_for(self, wasm_sha256: str) -> Path:
        return self.dir / f"{self.key(wasm_sha256)}.cwasm"

    def has(self, wasm_sha256: str) -> bool:
        return self.path_for(wasm_sha256).is_file()

    def _validate(self, comp: component.Component) -> tuple[str, ...]:
        return validate_component(self.engine, comp)

    def ensure(self, wasm: bytes) -> CompiledApp:
        """Validate ``wasm`` and make sure its ``.cwasm`` exists (compiling only if missing)."""
        digest = sha256_hex(wasm)
        path = self.path_for(digest)
        if path.is_file():
            try:
                comp = self._deserialize(path)
                return CompiledApp(
                    digest, path, self._validate(comp), cached=True, compile_seconds=0.0
                )
            except wasmtime.WasmtimeError:
                path.unlink(missing_ok=True)  # stale or corrupt: compile again below
        with self._compile_lock, _held(path.with_suffix(".lock")):
            if path.is_file():  # another thread or process compiled it meanwhile
                comp = self._deserialize(path)
                return CompiledApp(
                    digest, path, self._validate(comp), cached=True, compile_seconds=0.0
                )
            start = time.perf_counter()
            imports = self._compile_in_child(wasm, path)
            elapsed = time.perf_counter() - start
            self.compiles += 1
        return CompiledApp(digest, path, imports, cached=False, compile_seconds=elapsed)

    def _compile_in_child(self, wasm: bytes, path: Path) -> tuple[str, ...]:
        """Compile in a child process (see :mod:`roost.apps.compile_child` for why)."""
        settings = json.dumps(asdict(self.engine.settings))
        argv = [sys.executable, "-m", "roost.apps.compile_child", str(path)]
        done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            [*argv, self.engine.fingerprint, settings, str(self.compile_memory_bytes)],
            input=wasm,
            capture_output=True,
        )
        try:
            answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError, UnicodeDecodeError):
            answer = {}
        if done.returncode == 0 and isinstance(answer.get("imports"), list):
            return tuple(str(name) for name in answer["imports"])
        if done.returncode == 2 and isinstance(answer.get("error"), str):
            raise CompileError(answer["error"])
        # The child's last line says what went wrong (`MemoryError`); not its whole traceback.
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        detail = answer.get("error") or lines[-1][-300:]
        raise CompilerFailed(f"the compiler process failed (exit {done.returncode}): {detail}")

    def _deserialize(self, path: Path) -> component.Component:
        return component.Component.deserialize_file(self.engine.engine, str(path))

    def load(self, wasm_sha256: str) -> component.Component:
        """The compiled component for a wasm digest. Never compiles."""
        with self._loaded_lock:
            comp = self._loaded.get(wasm_sha256)
            if comp is not None:
                self._loaded.move_to_end(wasm_sha256)
                self._last_used[wasm_sha256] = time.monotonic()
                return comp
        path = self.path_for(wasm_sha256)
        if not path.is_file():
            raise NotCompiled(f"no compiled artifact for {wasm_sha256[:12]}: reinstall the app")
        comp = self._deserialize(path)
        with self._loaded_lock:
            self._loaded[wasm_sha256] = comp
            self._last_used[wasm_sha256] = time.monotonic()
            while len(self._loaded) > self.keep_loaded:
                gone, _ = self._loaded.popitem(last=False)
                self._last_used.pop(gone, None)
        return comp

    @property
    def loaded(self) -> tuple[str, ...]:
        """The wasm digests whose components are in memory, least recently used first."""
        with self._loaded_lock:
            return tuple(self._loaded)

    def release_idle(self, idle_seconds: float, *, now: float | None = None) -> int:
        """Drop the components no run has loaded for ``idle_seconds``; how many went.

        A loaded component maps its ``.cwasm`` (20-30 MB for a Python guest) and keeps
        wasmtime's tables for it: resident memory a box at rest should not hold. Loading
        one again costs about 2 ms (``deserialize_file``). A run still holding a dropped
        component keeps its own reference until it ends.
        """
        cutoff = (time.monotonic() if now is None else now) - idle_seconds
        with self._loaded_lock:
            idle = [key for key, used in self._last_used.items() if used <= cutoff]
            for key in idle:
                self._loaded.pop(key, None)
                del self._last_used[key]
        return len(idle)

    def forget(self, wasm_sha256: str) -> None:
        """Drop the artifact (uninstall of the last app using this wasm)."""
        with self._loaded_lock:
            self._loaded.pop(wasm_sha256, None)
            self._last_used.pop(wasm_sha256, None)
        self.path_for(wasm_sha256).unlink(missing_ok=True)


def validate_component(engine: AppEngine, comp: component.Component) -> tuple[str, ...]:
    """The component's imports, once checked against the Roost world; it must export run."""
    ctype = comp.type
    imports = tuple(sorted(ctype.imports(engine.engine)))
    bad = [name for name in imports if not allowed_import(name)]
    if bad:
        raise CompileError(
            "the component imports interfaces Roost does not provide: " + ", ".join(bad)
        )
    if "run" not in ctype.exports(engine.engine):
        raise CompileError("the component does not export run (world roost:app/app)")
    return imports


def compile_component(engine: AppEngine, wasm: bytes, path: Path) -> tuple[str, ...]:
    """Compile and validate ``wasm``, then write its ``.cwasm`` to ``path`` (whole or not at all).

    Runs in the compiler's child process (:mod:`roost.apps.compile_child`).
    """
    if not wasm.startswith(b"\x00asm"):
        raise CompileError("not a WebAssembly binary")
    try:
        comp = component.Component(engine.engine, wasm)
    except wasmtime.WasmtimeError as exc:
        raise CompileError(f"not a valid WebAssembly component: {_first_line(exc)}") from None
    imports = validate_component(engine, comp)
    write_atomic(path, comp.serialize(), suffix=".cwasm")
    return imports


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
