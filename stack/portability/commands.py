"""`roost export DOMAIN FILE` and `roost import DOMAIN FILE [--dry-run]`.

`roost.cli` registers them with `portability_commands(_run)`: they take their services from
the CLI's own way of reaching the store (its runner), so they work wherever the other
commands do, and this package never imports the CLI.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from roost.config import Config
from roost.couch import sanitize_prefix
from roost.instances import PREFIX_END, Instance, validate_domain
from roost.portability.exporter import ExportFailed, export_instance
from roost.portability.importer import ImportReport, import_archive
from roost.portability.progress import BarProgress
from roost.services import Services

__all__ = ["Runner", "portability_commands"]

T = TypeVar("T")


class Runner(Protocol):
    """Runs `work` with the CLI's services; a RoostError becomes one line and exit 1."""

    def __call__(self, config: Config, work: Callable[[Services], Awaitable[T]]) -> T: ...


def portability_commands(run: Runner) -> list[click.Command]:
    """The `export` and `import` commands, running their work through `run`."""

    @click.command("export")
    @click.argument("domain")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.pass_obj
    def export_command(config: Config, domain: str, file: Path) -> None:
        """Write everything DOMAIN holds into FILE (.tar, or gzip for .tar.gz/.tgz)."""
        if not file.parent.is_dir():
            raise click.BadParameter(f"no such directory: {file.parent}", param_hint="FILE")

        async def work(s: Services) -> dict[str, Any]:
            instance = await s.instances.get(domain)
            try:
                manifest = await export_instance(
                    s.couch, s.vfs, instance, file, progress=BarProgress()
                )
            except OSError as error:
                raise ExportFailed(f"cannot write {file}: {error.strerror or error}") from None
            counts: dict[str, Any] = manifest.to_json()["counts"]
            return counts

        counts = run(config, work)
        documents = sum(counts["documents"].values())
        click.echo(
            f"exported {domain} to {file}: {documents} documents in "
            f"{len(counts['documents'])} databases, {counts['blobs']} file contents "
            f"({counts['blob_bytes']} bytes)"
        )

    @click.command("import")
    @click.argument("domain")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
    @click.option(
        "--passphrase", default=None, help="Owner passphrase when DOMAIN must be created first."
    )
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
    @click.pass_obj
    def import_command(
        config: Config,
        domain: str,
        file: Path,
        dry_run: bool,
        passphrase: str | None,
        as_json: bool,
    ) -> None:
        """Merge the archive FILE into DOMAIN (created if missing); nothing there is lost."""

        async def work(s: Services) -> ImportReport:
            instance = await s.instances.find(domain)
            if instance is None:
                # Check the whole archive against an empty instance before creating one, so a
                # refused archive leaves no new instance behind.
                report = await import_archive(
                    s.couch,
                    s.vfs,
                    _nowhere(config, domain),
                    file,
                    dry_run=True,
                    schemas=s.documents.schemas,
                )
                if dry_run:
                    return report
                secret = passphrase or click.prompt(
                    f"{domain} does not exist yet; its passphrase", hide_input=True
                )
                instance = await s.instances.create(domain, secret)
            return await import_archive(
                s.couch,
                s.vfs,
                instance,
                file,
                dry_run=dry_run,
                progress=BarProgress(),
                schemas=s.documents.schemas,
            )

        report = run(config, work)
        if as_json:
            click.echo(json.dumps({"dry_run": dry_run, **report.to_json()}))
            return
        click.echo(f"{'would import' if dry_run else 'imported'} {file} into {domain}:")
        for line in report.lines():
            click.echo(f"  {line}")

    return [export_command, import_command]


def _nowhere(config: Config, domain: str) -> Instance:
    """An instance with no databases and no files: what a new instance looks like."""
    name = validate_domain(domain)
    return Instance(
        domain=f"dry-run-{secrets.token_hex(6)}.invalid",
        prefix=f"{config.db_prefix}{sanitize_prefix(name)}-dry-run-{secrets.token_hex(6)}"
        + PREFIX_END,
        passphrase_hash="",
        secret=b"",
        stamp="",
        quota_bytes=None,
        encryption_key="",
        created_at="",
        rev="",
    )
