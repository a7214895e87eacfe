"""Compile and validate at install; the run path only deserializes."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import wasmtime

from roost.apps.compiler import (
    CompiledApp,
    CompileError,
    CompilerFailed,
    ComponentCache,
    NotCompiled,
    allowed_import,
)
from roost.apps.engine import AppEngine, EngineSettings, get_engine

RUN_EXPORT = """
  (core module $m
    (memory (export "mem") 1)
    (func (export "run") (param i32 i32) (result i32) i32.const 0)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 8))
  (core instance $i (instantiate $m))
  (func (export "run") (param "input" string) (result (result string (error string)))
    (canon lift (core func $i "run") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc"))))
"""


def test_compile_once_then_reuse_the_cwasm(tmp_path: Path, doc_stats_wasm: bytes) -> None:
    cache = ComponentCache(tmp_path, get_engine())
    first = cache.ensure(doc_stats_wasm)
    assert not first.cached and cache.compiles == 1
    assert first.path.is_file() and first.path.suffix == ".cwasm"
    assert first.imports == ("roost:app/data@0.1.0", "roost:app/log@0.1.0")
    assert not first.uses_wasi
    stat = first.path.stat()
    # Install again (or start-up): the artifact is reused, nothing is compiled.
    again = ComponentCache(tmp_path, get_engine()).ensure(doc_stats_wasm)
    assert again.cached and again.path == first.path
    after = first.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    # A run loads it; load() never compiles.
    fresh = ComponentCache(tmp_path, get_engine())
    assert fresh.load(first.wasm_sha256) is not None
    assert fresh.compiles == 0


def test_load_never_compiles(tmp_path: Path) -> None:
    cache = ComponentCache(tmp_path, get_engine())
    with pytest.raises(NotCompiled):
        cache.load("0" * 64)
    assert cache.compiles == 0


def test_engine_flags_are_in_the_key(tmp_path: Path, doc_stats_wasm: bytes) -> None:
    a = ComponentCache(tmp_path, get_engine())
    other = AppEngine(EngineSettings(max_wasm_stack=512 * 1024))
    b = ComponentCache(tmp_path, other)
    assert a.key("x") != b.key("x")
    a.ensure(doc_stats_wasm)
    # The other engine has no artifact of its own: it must compile (at start-up).
    with pytest.raises(NotCompiled):
        b.load(a.ensure(doc_stats_wasm).wasm_sha256)
    assert not b.ensure(doc_stats_wasm).cached


def test_a_corrupt_artifact_is_recompiled(tmp_path: Path, doc_stats_wasm: bytes) -> None:
    cache = ComponentCache(tmp_path, get_engine())
    first = cache.ensure(doc_stats_wasm)
    first.path.write_bytes(b"garbage")
    again = cache.ensure(doc_stats_wasm)
    assert not again.cached and cache.compiles == 2


def test_a_component_idle_past_the_limit_leaves_memory(
    tmp_path: Path, doc_stats_wasm: bytes
) -> None:
    cache = ComponentCache(tmp_path, get_engine())
    digest = cache.ensure(doc_stats_wasm).wasm_sha256
    cache.load(digest)
    assert cache.loaded == (digest,)
    assert cache.release_idle(60.0) == 0  # just used: kept
    assert cache.loaded == (digest,)
    assert cache.release_idle(60.0, now=time.monotonic() + 61.0) == 1
    assert len(cache.loaded) == 0
    # The next run loads it again from the artifact; nothing is compiled.
    assert cache.load(digest) is not None
    assert cache.loaded == (digest,) and cache.compiles == 1


def test_the_compiler_runs_in_its_own_process(tmp_path: Path, doc_stats_wasm: bytes) -> None:
    """Cranelift's half a gigabyte for a Python guest never stays in the serving process."""
    cache = ComponentCache(tmp_path, get_engine())
    before = _children_cpu_seconds()
    cache.ensure(doc_stats_wasm)
    assert _children_cpu_seconds() > before  # the compile's work was a child's


def test_a_compiler_out_of_memory_fails_alone_and_writes_nothing(
    tmp_path: Path, doc_stats_wasm: bytes
) -> None:
    # 32 MiB of address space: the compiler process cannot even start its interpreter.
    cache = ComponentCache(tmp_path, get_engine(), compile_memory_bytes=32 * 1024 * 1024)
    with pytest.raises(CompilerFailed, match="compiler process failed"):
        cache.ensure(doc_stats_wasm)
    assert cache.compiles == 0
    assert not list(tmp_path.glob("*.cwasm")) and not list(tmp_path.glob(".tmp-*"))
    # The same package compiles once the cap allows it: the package was never at fault.
    assert not ComponentCache(tmp_path, get_engine()).ensure(doc_stats_wasm).cached


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_foreign_imports_are_refused(tmp_path: Path) -> None:
    cache = ComponentCache(tmp_path, get_engine())
    wat = '(component (import "evil:net/raw-socket@1.0.0" (instance))' + RUN_EXPORT + ")"
    with pytest.raises(CompileError, match="evil:net/raw-socket"):
        cache.ensure(bytes(wasmtime.wat2wasm(wat)))
    with pytest.raises(CompileError, match="does not export run"):
        cache.ensure(bytes(wasmtime.wat2wasm("(component)")))
    ok = cache.ensure(bytes(wasmtime.wat2wasm("(component" + RUN_EXPORT + ")")))
    assert ok.imports == () and cache.compiles == 1
    assert not list(tmp_path.glob(".tmp-*"))


def test_not_a_component(tmp_path: Path) -> None:
    cache = ComponentCache(tmp_path, get_engine())
    core_module = b"\x00asm\x01\x00\x00\x00"
    with pytest.raises(CompileError, match="not a valid WebAssembly component"):
        cache.ensure(core_module)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("roost:app/data@0.1.0", True),
        ("roost:app/notify@0.1.0", True),
        ("roost:app/admin@0.1.0", False),
        ("roost:app/data@9.9.9", False),
        ("wasi:cli/environment@0.2.9", True),
        ("wasi:sockets/tcp@0.2.0", True),
        ("wasi:http/outgoing-handler@0.2.9", False),
        ("wasi:cli/environment@0.3.0", False),
        ("something", False),
    ],
)
def test_allowed_imports(name: str, ok: bool) -> None:
    assert allowed_import(name) is ok


@pytest.mark.slow
@pytest.mark.timeout(1200)  # builds and compiles the Python test guest once
def test_python_guest_imports_wasi(probe: CompiledApp) -> None:
    assert probe.uses_wasi
    assert "roost:app/data@0.1.0" in probe.imports
    assert not any(i.startswith("wasi:http") for i in probe.imports)
