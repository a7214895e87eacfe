"""`roost apps install/ls/rm/run`: the operator's side of app installs; `roost registry …`:
make, sign, check and bundle registries, and install from them (docs/registry.md).

Registered by `roost.cli`; reaches the store through `roost.store_access`, like every
command, so it imports nothing of `roost.cli`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from roost.config import Config
from roost.errors import BadRequest
from roost.services import Services
from roost.store_access import run_with_services as _run

__all__ = ["apps", "registry"]


@click.group()
def apps() -> None:
    """Install, list, run and remove apps and connectors of an instance."""


@apps.command("install")
@click.argument("domain")
@click.argument("package", type=click.Path(exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Accept the permissions without asking.")
@click.pass_obj
def apps_install(config: Config, domain: str, package: Path, yes: bool) -> None:
    """Install (or upgrade) the app in PACKAGE (a folder or a .tar.gz) on DOMAIN."""
    from roost.appstore import app_service
    from roost.appstore.service import ConsentRequired

    async def work(s: Services) -> dict[str, Any]:
        service = app_service(s)
        instance = await s.instances.get(domain)
        pkg = await service.read(package)
        manifest = pkg.manifest
        try:
            app = await service.install(instance, pkg, consent=False)
        except ConsentRequired as exc:
            click.echo(
                f"{'Upgrade' if exc.upgrade else 'Install'} {manifest.name} {manifest.version} "
                f"({manifest.type}) on {domain}?"
            )
            for line in manifest.description:
                click.echo(f"  {line}")
            click.echo("It will be able to:")
            for line in exc.lines:
                click.echo(f"  - {line}")
            if not manifest.egress:
                click.echo("  - nothing else: it cannot reach the network")
            if not yes and not click.confirm("Accept?", default=False):
                click.echo("Not installed.", err=True)
                sys.exit(1)
            click.echo("Compiling…", err=True)
            app = await service.install(instance, pkg, consent=True)
        return app.to_json()

    app = _run(config, work)
    click.echo(f"installed {app['slug']} {app['version']} ({app['type']})")


@apps.command("ls")
@click.argument("domain")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def apps_ls(config: Config, domain: str, as_json: bool) -> None:
    """List the apps installed on DOMAIN."""
    from roost.appstore import app_service

    async def work(s: Services) -> list[dict[str, Any]]:
        instance = await s.instances.get(domain)
        return [a.to_json() for a in await app_service(s).list_installed(instance)]

    rows = _run(config, work)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['slug']}\t{row['version']}\t{row['type']}\t{row['state']}")


@apps.command("rm")
@click.argument("domain")
@click.argument("slug")
@click.pass_obj
def apps_rm(config: Config, domain: str, slug: str) -> None:
    """Uninstall SLUG from DOMAIN: revokes its tokens, triggers and accounts."""
    from roost.appstore import app_service

    async def work(s: Services) -> None:
        await app_service(s).uninstall(await s.instances.get(domain), slug)

    _run(config, work)
    click.echo(f"removed {slug}")


@apps.command("run")
@click.argument("domain")
@click.argument("slug")
@click.argument("input_json", default="{}")
@click.pass_obj
def apps_run(config: Config, domain: str, slug: str, input_json: str) -> None:
    """Run SLUG once with INPUT_JSON and print the result."""
    from roost.appstore.runs import describe_run

    try:
        value = json.loads(input_json)
    except ValueError:
        raise click.BadParameter("INPUT_JSON is not valid JSON") from None

    async def work(s: Services) -> dict[str, Any]:
        instance = await s.instances.get(domain)
        await s.apps.ensure_compiled()
        result = await s.app_runs.run(instance, slug, value)
        await s.access_log.flush()
        return describe_run(result)

    answer = _run(config, work)
    click.echo(json.dumps(answer, indent=2))
    if not answer["ok"]:
        sys.exit(1)


# -- registries ------------------------------------------------------------------------


def _problem(exc: Exception) -> BadRequest:
    """Registry and key problems become one-line CLI errors (`roost.cli` prints them)."""
    return BadRequest(str(exc))


@click.group()
def registry() -> None:
    """Make, sign and check registries of apps, and install from them."""


@registry.command("keygen")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
def registry_keygen(keyfile: Path) -> None:
    """Make an Ed25519 key pair: KEYFILE (private, 0600) and KEYFILE.pub (to trust)."""
    from roost.appstore.signing import BadKey, generate_key_pair

    try:
        key = generate_key_pair(keyfile)
    except (BadKey, OSError) as exc:
        raise _problem(exc) from None
    click.echo(f"private key: {keyfile}")
    click.echo(f"public key ({keyfile}.pub), key id {key.public.key_id}:")
    click.echo(key.public.text)


@registry.command("build")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--apps",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Pack every built app folder (manifest.json + app.wasm) of this folder first.",
)
@click.option("--name", help="The registry's name, shown in the Store.")
def registry_build(directory: Path, source: Path | None, name: str | None) -> None:
    """Index the packages in DIRECTORY/packages/ into DIRECTORY/index.json (unsigned)."""
    from roost.appstore.registry_build import BuildProblem, build_index, pack_apps

    try:
        if source is not None:
            pack_apps(source, directory)
        index = build_index(directory, name)
    except (BuildProblem, OSError) as exc:
        raise _problem(exc) from None
    for entry in index.packages:
        click.echo(f"{entry.slug}\t{entry.version}\t{entry.type}\t{entry.sha256[:16]}")
    click.echo(f"indexed {len(index.packages)} packages; sign with `roost registry sign`")


@registry.command("sign")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--key",
    "keyfile",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The private key (made by `roost registry keygen`).",
)
def registry_sign(directory: Path, keyfile: Path) -> None:
    """Sign DIRECTORY's packages and index with KEYFILE."""
    from roost.appstore.registry_build import BuildProblem, sign_registry
    from roost.appstore.signing import BadKey, load_signing_key

    try:
        signature = sign_registry(directory, load_signing_key(keyfile))
    except (BuildProblem, BadKey, OSError) as exc:
        raise _problem(exc) from None
    click.echo(f"signed {directory} with key {signature.key_id}")


@registry.command("verify")
@click.argument("location")
@click.option("--trust", "extra_keys", multiple=True, help="Also trust this public key.")
@click.pass_obj
def registry_verify(config: Config, location: str, extra_keys: tuple[str, ...]) -> None:
    """Check LOCATION (a folder or URL): index signature, every package's signature and
    checksum, and that each package holds the manifest its index lists."""
    import asyncio

    from roost.appstore.catalogue import trusted_keys
    from roost.appstore.registry import Registry, RegistryRefused, check_location
    from roost.appstore.signing import BadKey, PublicKey

    try:
        keys = trusted_keys(config)
        extra = [PublicKey.parse(text) for text in extra_keys]
    except BadKey as exc:
        raise _problem(exc) from None
    trusted = keys.with_keys(extra)

    async def check() -> list[str]:
        from roost.apps.package import read_package

        check_location(location)
        reg = Registry(location, trusted)
        index = await reg.index()
        lines = []
        for entry in index.packages:
            data = await reg.package(entry)
            if read_package(data).manifest.to_json() != entry.manifest.to_json():
                raise RegistryRefused(f"{entry.slug} holds another manifest than listed")
            lines.append(f"ok\t{entry.slug}\t{entry.version}")
        return lines

    try:
        lines = asyncio.run(check())
    except (RegistryRefused, ValueError) as exc:
        raise _problem(exc) from None
    for line in lines:
        click.echo(line)
    click.echo(f"{location}: signed by a trusted key, {len(lines)} packages verified")


@registry.command("bundle")
@click.option(
    "--apps",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Where the example apps are (default: examples/apps of this source tree).",
)
@click.pass_obj
def registry_bundle(config: Config, source: Path | None) -> None:
    """Make the bundled registry in DATA_DIR/registry from the built example apps, signed
    with DATA_DIR/keys/registry.key (made on first use; its public key is trusted)."""
    from roost.appstore.catalogue import bundled_key_path, bundled_registry_path
    from roost.appstore.registry_build import (
        BuildProblem,
        build_index,
        default_source,
        pack_apps,
        sign_registry,
        unbuilt_apps,
    )
    from roost.appstore.signing import BadKey, generate_key_pair, load_signing_key

    apps_dir = source or default_source()
    if not apps_dir.is_dir():
        raise BadRequest(f"no example apps at {apps_dir}: pass --apps")
    target = bundled_registry_path(config)
    keyfile = bundled_key_path(config)
    try:
        key = load_signing_key(keyfile) if keyfile.exists() else generate_key_pair(keyfile)
        # Packages of apps no longer in the source are dropped: the bundle mirrors it. An
        # app that cannot be packed is named and left out; the others are still offered.
        problems: list[str] = []
        packed = set(pack_apps(apps_dir, target, problems))
        for old in (target / "packages").glob("*.tar.gz"):
            if old not in packed:
                old.unlink()
        index = build_index(target, "Roost apps")
        sign_registry(target, key)
    except (BuildProblem, BadKey, OSError) as exc:
        raise _problem(exc) from None
    for skipped in unbuilt_apps(apps_dir):
        click.echo(f"skipped {skipped}: no app.wasm (run examples/apps/build.sh)", err=True)
    for problem in problems:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"bundled {len(index.packages)} packages into {target}, key {key.public.key_id}")


@registry.command("ls")
@click.argument("domain", required=False)
@click.pass_obj
def registry_ls(config: Config, domain: str | None) -> None:
    """List the configured registries and their packages (with DOMAIN: installed versions)."""
    from roost.appstore import app_service
    from roost.appstore.catalogue import catalogue_for

    async def work(s: Services) -> list[str]:
        catalogue = catalogue_for(app_service(s))
        if domain is None:
            lines = []
            for reg in catalogue.registries:
                from roost.appstore.registry import RegistryRefused

                try:
                    index = await reg.index()
                except RegistryRefused as exc:
                    lines.append(f"{reg.id}\t{reg.location}\trefused: {exc}")
                    continue
                lines.append(f"{reg.id}\t{reg.location}\t{index.name}")
                for slug, entry in sorted(index.latest().items()):
                    lines.append(f"  {slug}\t{entry.version}\t{entry.type}")
            return lines
        out = []
        for view in await catalogue.listing(await s.instances.get(domain)):
            out.append(
                f"{view.registry.id}\t{view.name}"
                + (f"\trefused: {view.problem}" if view.problem else "")
            )
            for item in view.items:
                state = "not installed"
                if item.installed is not None:
                    state = f"installed {item.installed.version}"
                    if item.update_available:
                        state += ", update available"
                out.append(f"  {item.slug}\t{item.entry.version}\t{state}")
        return out

    for line in _run(config, work):
        click.echo(line)


@registry.command("install")
@click.argument("domain")
@click.argument("slug")
@click.option("--registry", "registry_id", default="bundled", show_default=True)
@click.option("--yes", is_flag=True, help="Accept the permissions without asking.")
@click.pass_obj
def registry_install(config: Config, domain: str, slug: str, registry_id: str, yes: bool) -> None:
    """Install (or upgrade) SLUG on DOMAIN from a registry, verified first."""
    from roost.appstore import app_service
    from roost.appstore.catalogue import PackageRefused, catalogue_for
    from roost.appstore.service import ConsentRequired

    async def work(s: Services) -> dict[str, Any]:
        service = app_service(s)
        catalogue = catalogue_for(service)
        instance = await s.instances.get(domain)
        try:
            item = await catalogue.item(instance, registry_id, slug)
            _, package = await catalogue.fetch(item)
        except PackageRefused as exc:
            raise BadRequest(f"refused: {exc.reason}. Nothing was installed.") from None
        try:
            app = await service.install(instance, package, consent=False)
        except ConsentRequired as exc:
            lines = await catalogue.added_lines(instance, item)
            click.echo(
                f"{'Upgrade' if exc.upgrade else 'Install'} {item.manifest.name} "
                f"{item.entry.version} on {domain}? It will be able to:"
            )
            for line in lines:
                click.echo(f"  - {line}")
            hosts = ", ".join(item.manifest.egress)
            click.echo(
                f"  - reach {hosts}, and nowhere else"
                if hosts
                else "  - nothing else: it cannot reach the network"
            )
            if not yes and not click.confirm("Accept?", default=False):
                raise BadRequest("not installed: consent refused") from None
            app = await service.install(instance, package, consent=True)
        return app.to_json()

    app = _run(config, work)
    click.echo(f"installed {app['slug']} {app['version']} ({app['type']})")
