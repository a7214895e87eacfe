"""`roost registry …` through click's CliRunner: make, sign, check and bundle registries,
install from one; errors are one line, never a traceback."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from roost.appstore.catalogue import Catalogue
from roost.appstore.registry_build import default_source
from roost.cli import main
from roost.config import Config
from roost.services import Services
from tests.conftest import PASSPHRASE, Store
from tests.registry.conftest import AppMaker, flip_byte

Run = Callable[..., Any]


@pytest.fixture
def roost(store: Store, db_prefix: str, tmp_path: Path) -> Run:
    data = tmp_path / "data"

    async def run(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        environment = {
            "ROOST_COUCHDB_URL": store.url,
            "ROOST_DB_PREFIX": db_prefix,
            "ROOST_DATA": str(data),
            "ROOST_CONFIG": None,
            "ROOST_REGISTRIES": None,
            "ROOST_REGISTRY_TRUSTED_KEYS": None,
            **(env or {}),
        }
        return await asyncio.to_thread(
            CliRunner().invoke, main, list(args), input=input, env=environment
        )

    return run


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


async def test_keygen_build_sign_verify_and_a_tampered_package(
    roost: Run, tmp_path: Path, make_app: AppMaker
) -> None:
    make_app("birthdays", "1.0.0")
    make_app("notes", "0.2.0", type="konnector", egress=["https://notes.example.com"])
    keyfile = tmp_path / "k" / "registry.key"
    made = await roost("registry", "keygen", str(keyfile))
    assert made.exit_code == 0, made.output
    public = (tmp_path / "k" / "registry.key.pub").read_text().strip()
    assert public in made.output and (keyfile.stat().st_mode & 0o777) == 0o600
    again = await roost("registry", "keygen", str(keyfile))
    assert "exists already" in one_line_error(again)

    reg = tmp_path / "reg"
    built = await roost("registry", "build", str(reg), "--apps", str(tmp_path / "apps"))
    assert built.exit_code == 0, built.output
    assert "indexed 2 packages" in built.output
    unsigned = await roost("registry", "verify", str(reg), "--trust", public)
    assert "is not signed" in one_line_error(unsigned)

    signed = await roost("registry", "sign", str(reg), "--key", str(keyfile))
    assert signed.exit_code == 0, signed.output
    untrusted = await roost("registry", "verify", str(reg))
    assert "does not trust" in one_line_error(untrusted)
    verified = await roost("registry", "verify", str(reg), "--trust", public)
    assert verified.exit_code == 0, verified.output
    assert verified.output.splitlines()[:2] == ["ok\tbirthdays\t1.0.0", "ok\tnotes\t0.2.0"]

    flip_byte(reg / "packages" / "notes-0.2.0.tar.gz")
    tampered = await roost("registry", "verify", str(reg), "--trust", public)
    assert "notes 0.2.0 does not match its signed checksum" in one_line_error(tampered)
    bad_key = await roost("registry", "sign", str(reg), "--key", str(reg / "index.json"))
    assert "not an unencrypted PEM private key" in one_line_error(bad_key)


async def test_install_from_a_registry_refuses_a_tampered_package_and_installs_a_good_one(
    roost: Run, services: Services, tmp_path: Path, make_app: AppMaker
) -> None:
    domain = f"cli{secrets.token_hex(3)}.roost.test"
    await services.instances.create(domain, PASSPHRASE)
    instance = await services.instances.get(domain)
    make_app("birthdays", "1.0.0")
    keyfile = tmp_path / "registry.key"
    assert (await roost("registry", "keygen", str(keyfile))).exit_code == 0
    reg = tmp_path / "reg"
    await roost("registry", "build", str(reg), "--apps", str(tmp_path / "apps"))
    await roost("registry", "sign", str(reg), "--key", str(keyfile))
    env = {
        "ROOST_REGISTRIES": str(reg),
        "ROOST_REGISTRY_TRUSTED_KEYS": (tmp_path / "registry.key.pub").read_text().strip(),
        "ROOST_REGISTRY_BUNDLED": "false",
    }
    listed = await roost("registry", "ls", domain, env=env)
    assert listed.exit_code == 0, listed.output
    registry_id = listed.output.split("\t")[0]
    assert "  birthdays\t1.0.0\tnot installed" in listed.output

    package = reg / "packages" / "birthdays-1.0.0.tar.gz"
    good = package.read_bytes()
    flip_byte(package)
    refused = await roost(
        "registry", "install", domain, "birthdays", "--registry", registry_id, "--yes", env=env
    )
    line = one_line_error(refused)
    assert "does not match its signed checksum" in line and "Nothing was installed" in line
    assert await services.apps.list_installed(instance) == []

    package.write_bytes(good)
    done = await roost(
        "registry", "install", domain, "birthdays", "--registry", registry_id, "--yes", env=env
    )
    assert done.exit_code == 0, done.output
    assert "Read your contacts (io.cozy.contacts)" in done.output
    assert done.output.strip().endswith("installed birthdays 1.0.0 (webapp)")
    assert [a.slug for a in await services.apps.list_installed(instance)] == ["birthdays"]


async def test_the_bundled_registry_is_made_from_the_example_apps_in_one_command(
    roost: Run, tmp_path: Path, services: Services, config: Config, component: Path
) -> None:
    """`roost registry bundle` packs every built app of examples/apps (the ones other work adds
    included), signs with the data directory's key, and builds the same bytes twice.
    (`component` builds doc-stats at least; the other examples are packed when built.)"""
    source = default_source()
    expected = sorted(
        json.loads((p / "manifest.json").read_text())["slug"]
        for p in source.iterdir()
        if (p / "manifest.json").is_file() and (p / "app.wasm").is_file()
    )
    assert "doc-stats" in expected
    first = await roost("registry", "bundle")
    assert first.exit_code == 0, first.output
    registry = tmp_path / "data" / "registry"
    index = json.loads((registry / "index.json").read_text())
    assert sorted(p["slug"] for p in index["packages"]) == expected
    signature = (registry / "index.sig").read_bytes()
    second = await roost("registry", "bundle")
    assert second.exit_code == 0, second.output
    assert (registry / "index.sig").read_bytes() == signature
    verified = await roost("registry", "verify", str(registry))  # the bundled key is trusted
    assert verified.exit_code == 0, verified.output
    assert f"{len(expected)} packages verified" in verified.output

    # A Roost on that data directory offers them with no configuration and no network, and
    # installs one (the bundled key is trusted by default).
    domain = f"bundle{secrets.token_hex(3)}.roost.test"
    instance = await services.instances.create(domain, PASSPHRASE)
    bundled = Catalogue(replace(config, data_dir=tmp_path / "data"), services.apps)
    [view] = await bundled.listing(instance)
    assert view.problem is None and view.registry.id == "bundled"
    assert sorted(item.slug for item in view.items) == expected
    item = await bundled.item(instance, "bundled", "doc-stats")
    _, package = await bundled.fetch(item)
    await services.apps.install(instance, package, consent=True)
    assert [a.slug for a in await services.apps.list_installed(instance)] == ["doc-stats"]


async def test_the_bundle_skips_unbuilt_and_broken_apps_and_says_so(
    roost: Run, tmp_path: Path, make_app: AppMaker
) -> None:
    make_app("birthdays", "1.0.0")
    broken = make_app("broken", "1.0.0")
    (broken / "manifest.json").write_text('{"slug": "broken"}')
    unbuilt = make_app("later", "1.0.0")
    (unbuilt / "app.wasm").unlink()
    result = await roost("registry", "bundle", "--apps", str(tmp_path / "apps"))
    assert result.exit_code == 0, result.output
    assert "skipped later-1.0.0: no app.wasm" in result.stderr
    assert "broken-1.0.0" in result.stderr and "invalid manifest" in result.stderr
    index = json.loads((tmp_path / "data" / "registry" / "index.json").read_text())
    assert [p["slug"] for p in index["packages"]] == ["birthdays"]
