"""Make a registry folder: pack app folders, index the packages, sign the index.

Layout (docs/registry.md)::

    DIR/index.json                      the listing (`roost.appstore.registry_index`)
    DIR/index.sig                       its Ed25519 signature
    DIR/packages/{slug}-{version}.tar.gz

Everything here is reproducible: a package made from the same folder is the same bytes (sorted
members, zero times and owners, gzip without a date), the index is written canonically and
Ed25519 signatures are deterministic, so building twice gives identical files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from roost.apps.atomic_files import write_atomic
from roost.apps.manifest import ManifestError
from roost.apps.package import PackageError, read_package
from roost.appstore.registry_index import (
    IndexSignature,
    PackageEntry,
    RegistryIndex,
    parse_index,
)
from roost.appstore.signing import SigningKey

__all__ = ["BuildProblem", "build_index", "pack_app", "pack_apps", "sign_registry"]

INDEX = "index.json"
SIGNATURE = "index.sig"
PACKAGES = "packages"


def _publish(path: Path, data: bytes) -> None:
    """Written whole, and readable by all: a registry is public (served as static files)."""
    write_atomic(path, data)
    path.chmod(0o644)


class BuildProblem(ValueError):
    """The registry cannot be built or signed; the message says why."""


def _package_bytes(folder: Path) -> bytes:
    """A deterministic ``.tar.gz`` of the folder's manifest.json, app.wasm and ui/."""
    members: list[Path] = [folder / "manifest.json", folder / "app.wasm"]
    ui = folder / "ui"
    if ui.is_dir():
        members += sorted(p for p in ui.rglob("*") if p.is_file())
    buffer = io.BytesIO()
    # mtime=0 in the gzip header: the date of packing is not part of the package.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in members:
                data = path.read_bytes()
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pack_app(folder: Path, registry: Path) -> Path:
    """Pack one app folder into ``registry/packages/{slug}-{version}.tar.gz``."""
    try:
        package = read_package(folder)
    except (PackageError, ManifestError) as exc:
        raise BuildProblem(f"{folder}: {exc}") from None
    data = _package_bytes(folder)
    target = registry / PACKAGES / f"{package.manifest.slug}-{package.manifest.version}.tar.gz"
    if not target.is_file() or target.read_bytes() != data:
        _publish(target, data)
    return target


def pack_apps(source: Path, registry: Path, problems: list[str] | None = None) -> list[Path]:
    """Pack every app folder of ``source`` that holds a manifest.json and an app.wasm
    (folders not built yet are the caller's to name: `unbuilt_apps`). With ``problems``, a
    folder that cannot be packed is noted there and skipped instead of stopping the build."""
    out: list[Path] = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        if (folder / "manifest.json").is_file() and (folder / "app.wasm").is_file():
            try:
                out.append(pack_app(folder, registry))
            except BuildProblem as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
    return out


def build_index(registry: Path, name: str | None = None) -> RegistryIndex:
    """Index every ``packages/*.tar.gz`` (unsigned; :func:`sign_registry` signs it).

    The name is kept from an existing index unless given. A former ``index.sig`` is removed:
    it signed other bytes.
    """
    folder = registry / PACKAGES
    if not folder.is_dir():
        raise BuildProblem(f"{registry} has no {PACKAGES}/ folder")
    if name is None:
        name = registry.resolve().name
        if (registry / INDEX).is_file():
            try:
                name = parse_index((registry / INDEX).read_bytes()).name
            except ValueError:
                pass
    entries: list[PackageEntry] = []
    for path in sorted(folder.glob("*.tar.gz")):
        data = path.read_bytes()
        try:
            package = read_package(data)
        except (PackageError, ManifestError) as exc:
            raise BuildProblem(f"{path.name}: {exc}") from None
        manifest = package.manifest
        entries.append(
            PackageEntry(
                slug=manifest.slug,
                version=manifest.version,
                type=manifest.type,
                file=f"{PACKAGES}/{path.name}",
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                signature=None,
                manifest=manifest,
            )
        )
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if (entry.slug, entry.version) in seen:
            raise BuildProblem(f"two packages are {entry.slug} {entry.version}")
        seen.add((entry.slug, entry.version))
    index = RegistryIndex(name=name, packages=tuple(entries))
    _publish(registry / INDEX, index.to_bytes())
    (registry / SIGNATURE).unlink(missing_ok=True)
    return index


def sign_registry(registry: Path, key: SigningKey) -> IndexSignature:
    """Sign every package of the index (checking its bytes first) and then the index."""
    try:
        index = parse_index((registry / INDEX).read_bytes())
    except OSError:
        raise BuildProblem(f"{registry} has no {INDEX}: run `roost registry build` first") from None
    except ValueError as exc:
        raise BuildProblem(str(exc)) from None
    signed: list[PackageEntry] = []
    for entry in index.packages:
        path = registry / entry.file
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise BuildProblem(f"{entry.file} is missing: build the index again") from None
        if digest != entry.sha256:
            raise BuildProblem(f"{entry.file} changed since the index was built: build again")
        signed.append(
            PackageEntry(
                **{**entry.__dict__, "signature": key.sign(entry.statement)},
            )
        )
    body = RegistryIndex(name=index.name, packages=tuple(signed)).to_bytes()
    signature = IndexSignature(key_id=key.public.key_id, signature=key.sign(body))
    _publish(registry / INDEX, body)
    _publish(registry / SIGNATURE, signature.to_bytes())
    return signature


def default_source() -> Path:
    """``examples/apps`` of the source tree this Roost runs from."""
    return Path(__file__).resolve().parents[2] / "examples" / "apps"


def unbuilt_apps(source: Path) -> list[str]:
    """App folders of ``source`` with a manifest but no app.wasm yet."""
    return sorted(
        p.name
        for p in source.iterdir()
        if p.is_dir() and (p / "manifest.json").is_file() and not (p / "app.wasm").is_file()
    )
