"""`roost`: a thin command-line shell over the services (click).

Every command works whether or not `roost serve` runs on the same data directory. A command
that needs the store runs its work with `roost.store_access.run_with_services(config, work)`
(or takes a bare CouchDB URL from `roost.store_access.store_url(config)`): that is the one
way to get "a connection to the store, whether a server runs or not" — the running server's
store when there is one, an embedded store started for the command otherwise.

Errors: a `RoostError` raised anywhere below a command is printed as one `error: …` line on
stderr with exit status 1 (see `_Guarded`); bad arguments are click's usage errors (status 2).
Command groups defined elsewhere (`roost.appstore.cli`) are registered at the bottom; they
import `roost.store_access`, never this module.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from roost.appstore.cli import apps, registry
from roost.config import Config, load_config
from roost.errors import RoostError
from roost.permissions import InvalidRule, PermissionSet
from roost.services import Services
from roost.store_access import run_with_services as _run
from roost.tokens import parse_duration

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


class _UsageLine(click.ClickException):
    """A usage error (bad argument or option) shown as one line; exit status 2 like click's."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Guarded(click.Group):
    """The top-level guard: every failure of a command is one line on stderr.

    A domain error (`RoostError`) exits with 1, a usage error with 2; anything unexpected
    exits with 1 and names the exception, with a hint to rerun with `--debug` (which lets
    the traceback through).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RoostError as error:
            click.echo(f"error: {error.reason}", err=True)
            ctx.exit(1)
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx is not None else "roost"
            raise _UsageLine(f"{error.format_message()} (see `{where} --help`)") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if ctx.meta.get(_DEBUG):
                raise
            click.echo(
                f"error: unexpected {type(error).__name__}: {error} "
                "(run `roost --debug …` for the traceback)",
                err=True,
            )
            ctx.exit(1)


_DEBUG = "roost.debug"


@click.group(cls=_Guarded)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML configuration file (default: $ROOST_CONFIG).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Roost: a personal cloud.

    Every command works whether or not `roost serve` runs on the same data directory.
    """
    ctx.meta[_DEBUG] = debug
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
    """Serve HTTP; starts the embedded store unless ROOST_COUCHDB_URL is set.

    SIGTERM, SIGINT and SIGHUP stop it cleanly, the embedded store included.
    """
    from roost.logs import configure_logging
    from roost.serve import serve as run_server

    configure_logging(config.log_level)
    run_server(config, host or config.host, port or config.port, demo=demo)


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
        raise click.BadParameter(str(error), param_hint="'--scope'") from error


def _ttl(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--ttl'") from error


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


main.add_command(apps)
main.add_command(registry)

from roost.portability.commands import portability_commands  # noqa: E402 - `export`, `import`

for _command in portability_commands(_run):
    main.add_command(_command)


if __name__ == "__main__":
    main()
