"""`roost apps install/ls/rm/run`: the operator's side of app installs.

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
from roost.services import Services
from roost.store_access import run_with_services as _run

__all__ = ["apps"]


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
    from roost.appstore import app_service
    from roost.appstore.service import describe_run

    try:
        value = json.loads(input_json)
    except ValueError:
        raise click.BadParameter("INPUT_JSON is not valid JSON") from None

    async def work(s: Services) -> dict[str, Any]:
        service = app_service(s)
        instance = await s.instances.get(domain)
        await service.ensure_compiled()
        result = await service.run(instance, slug, value)
        await s.access_log.flush()
        return describe_run(result)

    answer = _run(config, work)
    click.echo(json.dumps(answer, indent=2))
    if not answer["ok"]:
        sys.exit(1)
