"""Signed registries read for real: folders and a loopback HTTP server; every refusal says why."""

from __future__ import annotations

import functools
import hashlib
import json
import socket
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from roost.appstore.registry import Registry, RegistryLimits, RegistryRefused
from roost.appstore.registry_build import build_index, sign_registry
from roost.appstore.registry_index import parse_index
from roost.appstore.signing import PublicKey, SigningKey, TrustedKeys
from tests.apps.servers import running
from tests.registry.conftest import AppMaker, flip_byte, publish, publish_one


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on a loopback port serving a folder (what a static host does)."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    with running(server):
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"


def trusting(*keys: SigningKey) -> TrustedKeys:
    return TrustedKeys([k.public for k in keys])


async def assert_package_refused(registry: Path, key: SigningKey, match: str) -> None:
    """The registry's index is trusted, and its birthdays package refused saying `match`."""
    reg = Registry(str(registry), trusting(key))
    entry = (await reg.index()).latest()["birthdays"]
    with pytest.raises(RegistryRefused, match=match):
        await reg.package(entry)


async def test_a_signed_registry_lists_its_packages_and_gives_their_exact_bytes(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish(
        tmp_path / "reg",
        [
            make_app("birthdays", "1.0.0"),
            make_app("birthdays", "1.1.0"),
            make_app("notes", "0.1.0"),
        ],
        key,
    )
    reg = Registry(str(registry), trusting(key))
    index = await reg.index()
    assert index.name == "Test registry"
    assert {(e.slug, e.version) for e in index.packages} == {
        ("birthdays", "1.0.0"),
        ("birthdays", "1.1.0"),
        ("notes", "0.1.0"),
    }
    latest = index.latest()
    assert latest["birthdays"].version == "1.1.0"
    data = await reg.package(latest["birthdays"])
    on_disk = (registry / "packages" / "birthdays-1.1.0.tar.gz").read_bytes()
    assert data == on_disk
    assert latest["birthdays"].sha256 == hashlib.sha256(on_disk).hexdigest()


def test_building_and_signing_again_gives_the_same_bytes(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    apps = [make_app("birthdays", "1.0.0"), make_app("notes", "0.1.0")]
    first = publish(tmp_path / "one", apps, key)
    second = publish(tmp_path / "two", apps, key)
    for name in ("index.json", "index.sig", "packages/birthdays-1.0.0.tar.gz"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


async def test_a_package_with_one_byte_changed_is_refused(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, key)
    flip_byte(registry / "packages" / "birthdays-1.0.0.tar.gz")
    await assert_package_refused(registry, key, "does not match its signed checksum")


async def test_a_longer_package_is_refused_as_changed(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, key)
    with (registry / "packages" / "birthdays-1.0.0.tar.gz").open("ab") as fh:
        fh.write(b"\0" * 10)
    await assert_package_refused(registry, key, "does not match its signed checksum")


async def test_an_unsigned_registry_is_refused(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, None)
    with pytest.raises(RegistryRefused, match="is not signed"):
        await Registry(str(registry), trusting(key)).index()


async def test_an_unsigned_package_in_a_signed_index_is_refused(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, key)
    # Someone holding the key signs an index whose package carries no signature of its own.
    body = json.loads((registry / "index.json").read_text())
    del body["packages"][0]["signature"]
    (registry / "index.json").write_text(json.dumps(body))
    index = parse_index((registry / "index.json").read_bytes())
    (registry / "index.json").write_bytes(index.to_bytes())
    from roost.appstore.registry_index import IndexSignature

    signature = IndexSignature(key.public.key_id, key.sign(index.to_bytes()))
    (registry / "index.sig").write_bytes(signature.to_bytes())
    await assert_package_refused(registry, key, r"the package birthdays 1\.0\.0 is not signed")


async def test_a_registry_signed_with_an_untrusted_key_is_refused(
    tmp_path: Path, make_app: AppMaker, key: SigningKey, other_key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, other_key)
    with pytest.raises(RegistryRefused, match=f"key {other_key.public.key_id}.*not trust"):
        await Registry(str(registry), trusting(key)).index()


async def test_an_index_changed_after_signing_is_refused(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, key)
    text = (registry / "index.json").read_text()
    (registry / "index.json").write_text(text.replace("does one useful thing", "is harmless"))
    with pytest.raises(RegistryRefused, match="changed after signing"):
        await Registry(str(registry), trusting(key)).index()


def test_signing_refuses_a_package_changed_since_the_index_was_built(
    tmp_path: Path, make_app: AppMaker, key: SigningKey
) -> None:
    registry = publish_one(tmp_path / "reg", make_app, None)
    flip_byte(registry / "packages" / "birthdays-1.0.0.tar.gz")
    from roost.appstore.registry_build import BuildProblem

    with pytest.raises(BuildProblem, match="changed since the index was built"):
        sign_registry(registry, key)
    assert not (registry / "index.sig").exists()


async def test_a_registry_over_http_on_loopback_is_read_and_checked(
    http_folder: tuple[Path, str], make_app: AppMaker, key: SigningKey
) -> None:
    folder, url = http_folder
    publish(folder, [make_app("birthdays", "1.0.0")], key)
    reg = Registry(url, trusting(key))
    entry = (await reg.index()).latest()["birthdays"]
    assert await reg.package(entry) == (folder / entry.file).read_bytes()
    flip_byte(folder / entry.file)
    with pytest.raises(RegistryRefused, match="does not match its signed checksum"):
        await reg.package(entry)


async def test_network_limits_say_why(
    http_folder: tuple[Path, str], make_app: AppMaker, key: SigningKey
) -> None:
    folder, url = http_folder
    publish(folder, [make_app("birthdays", "1.0.0")], key)
    small = Registry(url, trusting(key), RegistryLimits(max_index_bytes=100))
    with pytest.raises(RegistryRefused, match="larger than 100 bytes"):
        await small.index()
    big = Registry(url, trusting(key))
    entry = (await big.index()).latest()["birthdays"]
    capped = Registry(url, trusting(key), RegistryLimits(max_package_bytes=entry.size - 1))
    with pytest.raises(RegistryRefused, match="is larger than"):
        await capped.package(entry)
    with pytest.raises(RegistryRefused, match="answered 404"):
        await Registry(url + "nothing-here/", trusting(key)).index()


async def test_plain_http_to_another_host_is_refused_and_silence_times_out(
    key: SigningKey,
) -> None:
    with pytest.raises(RegistryRefused, match="must be https://"):
        await Registry("http://registry.example.org/", trusting(key)).index()
    # A server that accepts the connection and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        silent = Registry(
            f"http://127.0.0.1:{port}/", trusting(key), RegistryLimits(timeout_seconds=0.5)
        )
        with pytest.raises(RegistryRefused, match="did not answer in time"):
            await silent.index()
    finally:
        listener.close()


def test_public_keys_are_one_line_and_malformed_ones_are_refused(key: SigningKey) -> None:
    text = key.public.text
    assert text.startswith("ed25519:") and "\n" not in text
    assert PublicKey.parse(text) == key.public
    from roost.appstore.signing import BadKey

    for bad in ("rsa:AAAA", "ed25519:not base64!", "ed25519:AAAA"):
        with pytest.raises(BadKey):
            PublicKey.parse(bad)


def test_the_build_refuses_two_packages_of_one_version(tmp_path: Path, make_app: AppMaker) -> None:
    registry = tmp_path / "reg"
    publish(registry, [make_app("birthdays", "1.0.0")], None)
    copy = registry / "packages" / "birthdays-copy.tar.gz"
    copy.write_bytes((registry / "packages" / "birthdays-1.0.0.tar.gz").read_bytes())
    from roost.appstore.registry_build import BuildProblem

    with pytest.raises(BuildProblem, match=r"two packages are birthdays 1\.0\.0"):
        build_index(registry)
