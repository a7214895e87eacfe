from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from roost.apps.manifest import ManifestError
from roost.apps.package import PackageError, PackageLimits, read_package

MANIFEST = {
    "slug": "hello",
    "name": "Hello",
    "version": "0.1.0",
    "type": "webapp",
    "permissions": {},
}
WASM = b"\x00asm\x0d\x00\x01\x00" + b"\x00" * 16


def tar_bytes(members: list[tuple[str, bytes | None, str]]) -> bytes:
    """members: (name, data, kind) where kind is file|dir|symlink|hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert data is not None
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = "manifest.json"
                tar.addfile(info)
    return buf.getvalue()


def good_members(prefix: str = "") -> list[tuple[str, bytes | None, str]]:
    return [
        (prefix + "manifest.json", json.dumps(MANIFEST).encode(), "file"),
        (prefix + "app.wasm", WASM, "file"),
        (prefix + "ui/index.html", b"<h1>hi</h1>", "file"),
        (prefix + "ui/js/app.js", b"1", "file"),
    ]


def test_reads_a_tarball() -> None:
    pkg = read_package(tar_bytes(good_members()))
    assert pkg.manifest.slug == "hello"
    assert pkg.wasm == WASM
    assert set(pkg.ui) == {"index.html", "js/app.js"}


def test_reads_a_tarball_with_one_top_folder(tmp_path: Path) -> None:
    path = tmp_path / "hello.tar.gz"
    path.write_bytes(tar_bytes(good_members("hello/")))
    pkg = read_package(path)
    assert pkg.manifest.slug == "hello" and "index.html" in pkg.ui


def test_reads_a_folder_and_ignores_other_files(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp_path / "app.wasm").write_bytes(WASM)
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "index.html").write_text("hi")
    (tmp_path / "app.py").write_text("source, not packaged")
    pkg = read_package(tmp_path)
    assert list(pkg.ui) == ["index.html"]


@pytest.mark.parametrize(
    "bad",
    [
        ("../evil", b"x", "file"),
        ("ui/../../evil", b"x", "file"),
        ("/etc/cron.d/evil", b"x", "file"),
        ("ui/link", None, "symlink"),
        ("ui/hard", None, "hardlink"),
        ("ui\\..\\evil", b"x", "file"),
    ],
)
def test_traversal_and_links_are_refused(bad: tuple[str, bytes | None, str]) -> None:
    with pytest.raises(PackageError, match="refused"):
        read_package(tar_bytes([*good_members(), bad]))


def test_symlink_in_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp_path / "app.wasm").write_bytes(WASM)
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(PackageError, match="refused"):
        read_package(tmp_path)


def test_size_caps() -> None:
    limits = PackageLimits(max_wasm_bytes=10)
    with pytest.raises(PackageError, match="larger than 10 bytes"):
        read_package(tar_bytes(good_members()), limits)
    many = good_members() + [(f"ui/f{i}", b"x", "file") for i in range(20)]
    with pytest.raises(PackageError, match="too many files"):
        read_package(tar_bytes(many), PackageLimits(max_files=10))
    with pytest.raises(PackageError, match="package larger"):
        read_package(tar_bytes(good_members()), PackageLimits(max_total_bytes=40))


def test_missing_parts_and_garbage() -> None:
    with pytest.raises(PackageError, match=r"no manifest\.json"):
        read_package(tar_bytes([("app.wasm", WASM, "file")]))
    with pytest.raises(PackageError, match=r"no app\.wasm"):
        read_package(tar_bytes([("manifest.json", json.dumps(MANIFEST).encode(), "file")]))
    with pytest.raises(PackageError, match="not a WebAssembly"):
        read_package(
            tar_bytes(
                [
                    ("manifest.json", json.dumps(MANIFEST).encode(), "file"),
                    ("app.wasm", b"MZ", "file"),
                ]
            )
        )
    with pytest.raises(PackageError, match="tar"):
        read_package(b"definitely not a tarball")
    with pytest.raises(ManifestError):
        read_package(tar_bytes([("manifest.json", b"{}", "file"), ("app.wasm", WASM, "file")]))
