"""Read an app package (a folder or a ``.tar.gz``) safely.

A package holds ``manifest.json`` and ``app.wasm`` at its root (or inside one top folder),
and optionally ``ui/`` (static files). Nothing else is read. Refused: absolute paths, ``..``,
links and special files, members over the size caps, too many files.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from roost.apps.manifest import AppManifest, parse_manifest

__all__ = ["AppPackage", "PackageError", "PackageLimits", "read_package"]


class PackageError(ValueError):
    """The package is unsafe or incomplete."""


@dataclass(frozen=True)
class PackageLimits:
    max_wasm_bytes: int = 64 * 1024 * 1024
    max_manifest_bytes: int = 256 * 1024
    max_ui_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 128 * 1024 * 1024
    max_files: int = 2000


@dataclass(frozen=True)
class AppPackage:
    manifest: AppManifest
    wasm: bytes
    ui: Mapping[str, bytes] = field(default_factory=dict)
    manifest_bytes: bytes = b""


def _clean(name: str) -> PurePosixPath:
    if "\\" in name or "\x00" in name:
        raise PackageError(f"refused path {name!r}: invalid characters")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise PackageError(f"refused path {name!r}: absolute")
    parts = [p for p in path.parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise PackageError(f"refused path {name!r}: it climbs out of the package")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


class _Collector:
    def __init__(self, limits: PackageLimits) -> None:
        self.limits = limits
        self.files: dict[PurePosixPath, bytes] = {}
        self.total = 0

    def add(self, path: PurePosixPath, size: int, read: Callable[[int], bytes]) -> None:
        if len(self.files) >= self.limits.max_files:
            raise PackageError(f"too many files (more than {self.limits.max_files})")
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise PackageError(f"package larger than {self.limits.max_total_bytes} bytes")
        cap = self.limits.max_ui_bytes
        if path.name == "app.wasm":
            cap = self.limits.max_wasm_bytes
        elif path.name == "manifest.json":
            cap = self.limits.max_manifest_bytes
        if size > cap:
            raise PackageError(f"{path} is larger than {cap} bytes")
        data = read(cap + 1)
        if len(data) > cap or len(data) != size:
            raise PackageError(f"{path}: size mismatch or over {cap} bytes")
        self.files[path] = data


def _from_tar(source: Path | bytes, limits: PackageLimits) -> _Collector:
    col = _Collector(limits)
    fileobj = io.BytesIO(source) if isinstance(source, bytes) else None
    try:
        tar = (
            tarfile.open(fileobj=fileobj, mode="r:*")
            if fileobj is not None
            else tarfile.open(str(source), mode="r:*")
        )
    except (tarfile.TarError, OSError) as exc:
        raise PackageError(f"not a readable tar archive: {exc}") from None
    with tar:
        try:
            for member in tar:
                path = _clean(member.name)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise PackageError(f"refused {member.name!r}: links and special files")
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise PackageError(f"cannot read {member.name!r}")
                with extracted:
                    col.add(path, member.size, extracted.read)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise PackageError(f"broken tar archive: {exc}") from None
    return col


def _from_dir(root: Path, limits: PackageLimits) -> _Collector:
    col = _Collector(limits)
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for d in dirnames:
            if (base / d).is_symlink():
                raise PackageError(f"refused {base / d}: links are not allowed")
        rel_dir = base.relative_to(root)
        # Only the package's own files: manifest.json, app.wasm, ui/**.
        for name in filenames:
            full = base / name
            rel = _clean((rel_dir / name).as_posix())
            if not (rel.parts[0] == "ui" or str(rel) in ("manifest.json", "app.wasm")):
                continue
            st = full.lstat()
            if not stat.S_ISREG(st.st_mode):
                raise PackageError(f"refused {rel}: links and special files are not allowed")

            def read(limit: int, _p: Path = full) -> bytes:
                with _p.open("rb") as fh:
                    return fh.read(limit)

            col.add(rel, st.st_size, read)
    return col


def read_package(
    source: str | os.PathLike[str] | bytes, limits: PackageLimits | None = None
) -> AppPackage:
    """Read and validate a package from a folder, a ``.tar.gz`` path, or tar bytes."""
    limits = limits or PackageLimits()
    if isinstance(source, bytes):
        col = _from_tar(source, limits)
    else:
        path = Path(source)
        if path.is_dir():
            col = _from_dir(path, limits)
        elif path.is_file():
            col = _from_tar(path, limits)
        else:
            raise PackageError(f"no such package: {path}")
    files = col.files
    # Accept one top folder (``myapp/manifest.json``) as made by ``tar czf x.tgz myapp``.
    if PurePosixPath("manifest.json") not in files:
        tops = {p.parts[0] for p in files if len(p.parts) > 1}
        if len(tops) == 1:
            top = tops.pop()
            files = {
                PurePosixPath(*p.parts[1:]): d
                for p, d in files.items()
                if len(p.parts) > 1 and p.parts[0] == top
            }
    manifest_bytes = files.get(PurePosixPath("manifest.json"))
    if manifest_bytes is None:
        raise PackageError("the package has no manifest.json")
    wasm = files.get(PurePosixPath("app.wasm"))
    if wasm is None:
        raise PackageError("the package has no app.wasm")
    if not wasm.startswith(b"\x00asm"):
        raise PackageError("app.wasm is not a WebAssembly binary")
    manifest = parse_manifest(manifest_bytes)
    ui = {
        PurePosixPath(*p.parts[1:]).as_posix(): d
        for p, d in files.items()
        if len(p.parts) > 1 and p.parts[0] == "ui"
    }
    return AppPackage(manifest=manifest, wasm=wasm, ui=ui, manifest_bytes=manifest_bytes)
