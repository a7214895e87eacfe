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
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
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
    "ComponentCache",
    "NotCompiled",
    "sha256_hex",
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
        self, cache_dir: str | os.PathLike[str], engine: AppEngine, *, keep_loaded: int = 32
    ) -> None:
        self.dir = Path(cache_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.keep_loaded = keep_loaded
        self.compiles = 0
        self._compile_lock = threading.Lock()  # one compile at a time: ~0.5 GB peak each
        self._loaded: OrderedDict[str, component.Component] = OrderedDict()
        self._loaded_lock = threading.Lock()

    def key(self, wasm_sha256: str) -> str:
        return sha256_hex(f"{self.engine.fingerprint}:{wasm_sha256}".encode())

    def path_for(self, wasm_sha256: str) -> Path:
        return self.dir / f"{self.key(wasm_sha256)}.cwasm"

    def has(self, wasm_sha256: str) -> bool:
        return self.path_for(wasm_sha256).is_file()

    def _validate(self, comp: component.Component) -> tuple[str, ...]:
        ctype = comp.type
        imports = tuple(sorted(ctype.imports(self.engine.engine)))
        bad = [name for name in imports if not allowed_import(name)]
        if bad:
            raise CompileError(
                "the component imports interfaces Roost does not provide: " + ", ".join(bad)
            )
        exports = ctype.exports(self.engine.engine)
        if "run" not in exports:
            raise CompileError("the component does not export run (world roost:app/app)")
        return imports

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
            if not wasm.startswith(b"\x00asm"):
                raise CompileError("not a WebAssembly binary")
            start = time.perf_counter()
            try:
                comp = component.Component(self.engine.engine, wasm)
            except wasmtime.WasmtimeError as exc:
                raise CompileError(
                    f"not a valid WebAssembly component: {_first_line(exc)}"
                ) from None
            imports = self._validate(comp)
            data = comp.serialize()
            elapsed = time.perf_counter() - start
            self.compiles += 1
            write_atomic(path, data, suffix=".cwasm")
        return CompiledApp(digest, path, imports, cached=False, compile_seconds=elapsed)

    def _deserialize(self, path: Path) -> component.Component:
        return component.Component.deserialize_file(self.engine.engine, str(path))

    def load(self, wasm_sha256: str) -> component.Component:
        """The compiled component for a wasm digest. Never compiles."""
        with self._loaded_lock:
            comp = self._loaded.get(wasm_sha256)
            if comp is not None:
                self._loaded.move_to_end(wasm_sha256)
                return comp
        path = self.path_for(wasm_sha256)
        if not path.is_file():
            raise NotCompiled(f"no compiled artifact for {wasm_sha256[:12]}: reinstall the app")
        comp = self._deserialize(path)
        with self._loaded_lock:
            self._loaded[wasm_sha256] = comp
            while len(self._loaded) > self.keep_loaded:
                self._loaded.popitem(last=False)
        return comp

    def forget(self, wasm_sha256: str) -> None:
        """Drop the artifact (uninstall of the last app using this wasm)."""
        with self._loaded_lock:
            self._loaded.pop(wasm_sha256, None)
        self.path_for(wasm_sha256).unlink(missing_ok=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
