"""`roost`: a thin command-line shell over the services (click)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from roost.config import Config, load_config
from roost.embedded_store import EmbeddedStore
from roost.errors import RoostError
from roost.permissions import InvalidRule, PermissionSet
from roost.services import Services
from roost.tokens import parse_duration

T = TypeVar("T")

DEMO_DOMAIN = "alice.localhost"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gib": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "tib": 2**40,
}


def parse_size(text: str) -> int:
    """`500MB`, `2GiB`, `1048576` → bytes."""
    match = _SIZE.match(text)
    unit = (match.group(2) or "").lower() if match else None
    if not match or unit not in _UNITS:
        raise click.BadParameter(f"invalid size {text!r}: use e.g. 500MB or 2GiB")
    return int(float(match.group(1)) * _UNITS[unit])


@contextmanager
def _embedded_or_external(config: Config) -> Iterator[tuple[str, EmbeddedStore | None]]:
    """The CouchDB URL to use: the configured one, or a running embedded store."""
    if config.couchdb_url:
        yield config.couchdb_url, None
        return
    store = EmbeddedStore(config.couch_dir, port=_embedded_port(config))
    store.start()
    try:
        yield store.url, store
    finally:
        store.stop()


@contextmanager
def _store(config: Config) -> Iterator[str]:
    with _embedded_or_external(config) as (url, _):
        yield url


def _embedded_port(config: Config) -> int | None:
    raw = config.extra.get("embedded_port")
    return int(raw) if raw else None


def _run(config: Config, work: Callable[[Services], Awaitable[T]]) -> T:
    with _store(config) as url:

        async def main() -> T:
            services = Services.build(config, url)
            try:
                return await work(services)
            finally:
                await services.aclose()

        try:
            return asyncio.run(main())
        except RoostError as error:
            click.echo(f"error: {error.reason}", err=True)
            sys.exit(1)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML configuration file (default: $ROOST_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Roost: a personal cloud."""
    try:
        ctx.obj = load_config(config_path)
    except RoostError as error:
        raise click.UsageError(error.reason) from None


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8080).")
@click.option("--demo", is_flag=True, help="Create the demo instance alice.localhost if missing.")
@click.pass_obj
def serve(config: Config, host: str | None, port: int | None, demo: bool) -> None:
    """Serve HTTP; starts the embedded store unless ROOST_COUCHDB_URL is set."""
    import uvicorn

    from roost.app import create_app
    from roost.logs import configure_logging

    configure_logging(config.log_level)
    listen_host = host or config.host
    listen_port = port or config.port
    with _embedded_or_external(config) as (url, store):
        if demo:
            asyncio.run(_ensure_demo(config, url, listen_port))
            if not config.default_instance:
                # A demo box reached as localhost or by IP still shows alice's instance.
                config = dataclasses.replace(config, default_instance=DEMO_DOMAIN)
        app = create_app(config, couchdb_url=url)
        if store is not None:
            app.state.services.store_restarts = lambda: store.restarts
        uvicorn.run(app, host=listen_host, port=listen_port, log_config=None, access_log=False)


async def _ensure_demo(config: Config, url: str, port: int) -> None:
    services = Services.build(config, url)
    try:
        domain = DEMO_DOMAIN
        secret_file = config.data_dir / "demo-passphrase.txt"
        if await services.instances.find(domain) is None:
            passphrase = secrets.token_urlsafe(12)
            await services.instances.create(domain, passphrase)
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(passphrase + "\n")
            secret_file.chmod(0o600)
        passphrase = secret_file.read_text().strip() if secret_file.exists() else "(set earlier)"
        click.echo(
            f"\n  Demo instance:  http://{domain}:{port}/\n"
            f"  Passphrase:     {passphrase}\n"
            f"  (stored in {secret_file})\n"
        )
    finally:
        await services.aclose()


@main.group()
def instances() -> None:
    """Create, list and remove instances."""


@instances.command("add")
@click.argument("domain")
@click.option("--passphrase", default=None, help="Owner passphrase (prompted if omitted).")
@click.option("--quota", default=None, help="Disk quota, e.g. 5GB.")
@click.pass_obj
def instances_add(config: Config, domain: str, passphrase: str | None, quota: str | None) -> None:
    if passphrase is None:
        passphrase = click.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    quota_bytes = parse_size(quota) if quota else None
    instance = _run(
        config, lambda s: s.instances.create(domain, passphrase, quota_bytes=quota_bytes)
    )
    click.echo(f"created {instance.domain}")


@instances.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def instances_ls(config: Config, as_json: bool) -> None:
    found = _run(config, lambda s: s.instances.list())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "domain": i.domain,
                        "prefix": i.prefix,
                        "quota_bytes": i.quota_bytes,
                        "created_at": i.created_at,
                    }
                    for i in found
                ]
            )
        )
        return
    for instance in found:
        quota = f"{instance.quota_bytes} B" if instance.quota_bytes else "no quota"
        click.echo(f"{instance.domain}\t{quota}\tcreated {instance.created_at}")


@instances.command("rm")
@click.argument("domain")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def instances_rm(config: Config, domain: str, yes: bool) -> None:
    if not yes:
        click.confirm(f"Remove {domain} and ALL its data?", abort=True)
    _run(config, lambda s: s.instances.remove(domain))
    click.echo(f"removed {domain}")


@instances.command("quota")
@click.argument("domain")
@click.argument("size")
@click.pass_obj
def instances_quota(config: Config, domain: str, size: str) -> None:
    """Set the disk quota (`none` removes it)."""
    quota_bytes = None if size.lower() == "none" else parse_size(size)

    async def work(s: Services) -> None:
        instance = await s.instances.get(domain)
        await s.instances.set_quota(instance, quota_bytes)

    _run(config, work)
    click.echo(f"quota of {domain}: {size}")


def _scope(scope: str) -> PermissionSet:
    try:
        return PermissionSet.from_inline(scope)
    except InvalidRule as error:
        raise click.BadParameter(str(error)) from error


def _ttl(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@main.command()
@click.argument("domain")
@click.option("--scope", required=True, help='Inline rules, e.g. "io.cozy.contacts:GET".')
@click.option("--ttl", default="30m", show_default=True, help="Lifetime, e.g. 30m, 1h, 7d.")
@click.option("--audience", type=click.Choice(["cli", "access"]), default="cli", show_default=True)
@click.pass_obj
def token(config: Config, domain: str, scope: str, ttl: str, audience: str) -> None:
    """Print a token for DOMAIN limited to SCOPE."""
    permissions = _scope(scope)
    lifetime = _ttl(ttl)

    async def work(s: Services) -> str:
        instance = await s.instances.get(domain)
        return await s.tokens.issue(
            instance,
            audience=audience,
            subject="cli",
            permissions=permissions,
            ttl=lifetime,
            kind="cli",
        )

    click.echo(_run(config, work))


@main.group()
def apppasswords() -> None:
    """Scoped passwords for WebDAV and desktop clients."""


@apppasswords.command("add")
@click.argument("domain")
@click.option("--label", required=True, help="What the password is for, e.g. 'laptop rclone'.")
@click.option("--scope", default="io.cozy.files", show_default=True, help="Inline rules.")
@click.option("--ttl", default=None, help="Lifetime, e.g. 30d (default: until revoked).")
@click.pass_obj
def apppasswords_add(config: Config, domain: str, label: str, scope: str, ttl: str | None) -> None:
    permissions = _scope(scope)
    lifetime = _ttl(ttl)

    async def work(s: Services) -> str:
        instance = await s.instances.get(domain)
        _, secret = await s.app_passwords.create(instance, label, permissions, ttl=lifetime)
        return secret

    secret = _run(config, work)
    click.echo(secret)
    click.echo("This password is shown once; store it now.", err=True)


@apppasswords.command("ls")
@click.argument("domain")
@click.pass_obj
def apppasswords_ls(config: Config, domain: str) -> None:
    async def work(s: Services) -> list[Any]:
        return list(await s.app_passwords.list(await s.instances.get(domain)))

    for password in _run(config, work):
        click.echo(
            f"{password.id}\t{password.label}\t{password.scope}\tcreated {password.created_at}"
            f"\tlast used {password.last_used_at or 'never'}"
            + (f"\texpires {password.expires_at}" if password.expires_at else "")
        )


@apppasswords.command("revoke")
@click.argument("domain")
@click.argument("password_id")
@click.pass_obj
def apppasswords_revoke(config: Config, domain: str, password_id: str) -> None:
    async def work(s: Services) -> None:
        await s.app_passwords.revoke(await s.instances.get(domain), password_id)

    _run(config, work)
    click.echo(f"revoked {password_id}")


from roost.appstore.cli import apps as _apps_group  # noqa: E402 - registers `roost apps`

main.add_command(_apps_group)

from roost.portability.commands import portability_commands  # noqa: E402 - `export`, `import`

for _command in portability_commands(_run):
    main.add_command(_command)


if __name__ == "__main__":
    main()
