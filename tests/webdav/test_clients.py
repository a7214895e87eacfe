"""Real WebDAV clients against a live Roost: webdav4 (and its fsspec filesystem), rclone."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from webdav4.client import Client
from webdav4.fsspec import WebdavFileSystem

from tests.webdav.conftest import DavSite

TREE = {
    "Été 2024/photo 1.jpg": os.urandom(70_000),
    "Été 2024/notes de voyage.txt": "Déjà vu — naïve café\n".encode() * 50,
    "日本語/ファイル 一.txt": "こんにちは\n".encode() * 10,
    "emoji 🎉 party/a b c.bin": os.urandom(5000),
    "emoji 🎉 party/deeper/x&y=z (1).dat": b"",
    "plain/readme.md": b"# hello\n",
}


def test_webdav4_client_round_trip(dav_site: DavSite, tmp_path: Path) -> None:
    client = Client(dav_site.url, auth=("user", dav_site.password))
    client.mkdir("w4")
    for relative, data in TREE.items():
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            folder = "w4/" + "/".join(parts[:depth])
            if not client.exists(folder):
                client.mkdir(folder)
        source = tmp_path / "up.bin"
        source.write_bytes(data)
        client.upload_file(str(source), f"w4/{relative}", overwrite=True)
    names = {entry["name"] for entry in client.ls("w4/Été 2024", detail=True)}
    assert names == {"w4/Été 2024/photo 1.jpg", "w4/Été 2024/notes de voyage.txt"}
    info = client.info("w4/Été 2024/photo 1.jpg")
    assert info["content_length"] == len(TREE["Été 2024/photo 1.jpg"])
    client.move("w4/Été 2024", "w4/Summer — 2024")
    for relative, data in TREE.items():
        remote = "w4/" + relative.replace("Été 2024", "Summer — 2024")
        target = tmp_path / "down.bin"
        client.download_file(remote, str(target))
        assert target.read_bytes() == data, remote
    client.remove("w4")
    assert not client.exists("w4")


def test_fsspec_filesystem_round_trip(dav_site: DavSite, tmp_path: Path) -> None:
    fs = WebdavFileSystem(dav_site.url, auth=("user", dav_site.password))
    local = tmp_path / "tree"
    for relative, data in TREE.items():
        path = local / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    fs.mkdir("fs")
    for relative in TREE:
        fs.makedirs(f"fs/{os.path.dirname(relative)}", exist_ok=True)
        fs.put_file(str(local / relative), f"fs/{relative}")
    found = sorted(path[len("fs/") :] for path in fs.find("fs"))
    assert found == sorted(TREE)
    fs.mv("fs/plain/readme.md", "fs/plain/README (moved).md")
    assert fs.cat_file("fs/plain/README (moved).md") == TREE["plain/readme.md"]
    for relative, data in TREE.items():
        if relative != "plain/readme.md":
            assert fs.cat_file(f"fs/{relative}") == data
    with fs.open("fs/日本語/ファイル 一.txt", "rb") as handle:
        handle.seek(6)
        assert handle.read(9) == TREE["日本語/ファイル 一.txt"][6:15]
    fs.rm("fs", recursive=True)
    assert not fs.exists("fs")


def _rclone(dav_site: DavSite, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    obscured = subprocess.run(
        ["rclone", "obscure", dav_site.password], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "RCLONE_CONFIG": str(home / "rclone.conf"),
        "RCLONE_CONFIG_ROOST_TYPE": "webdav",
        "RCLONE_CONFIG_ROOST_URL": dav_site.url,
        "RCLONE_CONFIG_ROOST_VENDOR": "owncloud",
        "RCLONE_CONFIG_ROOST_USER": "rclone",
        "RCLONE_CONFIG_ROOST_PASS": obscured,
    }
    return subprocess.run(
        ["rclone", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def _tree_state(root: Path) -> dict[str, tuple[str, int]]:
    state: dict[str, tuple[str, int]] = {}
    for path in root.rglob("*"):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path.relative_to(root))] = (digest, int(path.stat().st_mtime))
    return state


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed")
def test_rclone_sync_up_check_and_back_down(dav_site: DavSite, tmp_path: Path) -> None:
    rng = random.Random(42)
    source = tmp_path / "source"
    for index in range(520):
        folder = source / f"dir {index % 13}" / ("nested é" if index % 3 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file {index} ünïcode.bin"
        path.write_bytes(rng.randbytes(rng.choice((0, 10, 4096, 70_000))))
        stamp = 1_500_000_000 + index * 3600
        os.utime(path, (stamp, stamp))
    home = tmp_path / "home"
    home.mkdir()
    up = _rclone(dav_site, "sync", str(source), "roost:rclone-sync", "--transfers", "8", home=home)
    assert up.returncode == 0, up.stderr
    check = _rclone(dav_site, "check", str(source), "roost:rclone-sync", home=home)
    assert check.returncode == 0, check.stderr
    assert "0 differences found" in check.stderr
    assert "hashes could not be checked" not in check.stderr
    listing = _rclone(dav_site, "lsjson", "-R", "--files-only", "roost:rclone-sync", home=home)
    assert listing.returncode == 0, listing.stderr
    remote = {entry["Path"]: entry for entry in json.loads(listing.stdout)}
    local = _tree_state(source)
    assert len(remote) == len(local) == 520
    for relative, (_, mtime) in local.items():
        remote_mtime = remote[relative]["ModTime"]
        from datetime import datetime

        assert int(datetime.fromisoformat(remote_mtime.replace("Z", "+00:00")).timestamp()) == mtime
    # a second sync transfers nothing
    again = _rclone(dav_site, "sync", str(source), "roost:rclone-sync", "-v", home=home)
    assert again.returncode == 0 and "Copied (new)" not in again.stderr, again.stderr
    down = tmp_path / "down"
    back = _rclone(dav_site, "sync", "roost:rclone-sync", str(down), "--transfers", "8", home=home)
    assert back.returncode == 0, back.stderr
    assert _tree_state(down) == local
