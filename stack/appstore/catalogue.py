"""The Store's catalogue: every configured registry's packages, beside what is installed.

The registries are the operator's (`Config.registries`, plus the bundled one in
``{data_dir}/registry`` unless `registry_bundled` is off); the trusted keys are
`Config.registry_trusted_keys` plus the bundled registry's own public key
(``{data_dir}/keys/registry.key.pub``), which `roost registry bundle` makes.

Installing from the catalogue (`Catalogue.fetch`) takes only a package that its registry
signed: the index's signature, the package's signature and its checksum are checked, then its
manifest must be the very one the index listed (the one the consent page showed).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from roost.apps.manifest import AppManifest, ManifestError
from roost.apps.package import AppPackage, PackageError, read_package
from roost.appstore.collect import CatalogueEntry
from roost.appstore.registry import Registry, RegistryLimits, RegistryRefused, check_location
from roost.appstore.registry_index import PackageEntry, version_key
from roost.appstore.signing import BadKey, PublicKey, TrustedKeys
from roost.config import Config
from roost.errors import BadRequest, NotFound
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.permissions.describe import describe_added, describe_rule

if TYPE_CHECKING:
    from roost.appstore.service import AppService, InstalledApp

__all__ = [
    "BUNDLED_ID",
    "Catalogue",
    "CatalogueItem",
    "PackageRefused",
    "RegistryView",
    "bundled_key_path",
    "bundled_registry_path",
    "catalogue_for",
]

BUNDLED_ID = "bundled"
NO_DATA = "Nothing of your data: it can neither read nor change any of it"
# A registry that is slow to answer must not hold the Store page for its full timeout: the
# page lists the others and names that one; an install still waits for it.
LISTING_SECONDS = 10.0


class PackageRefused(BadRequest):
    """A package that may not be installed (unsigned, untrusted, changed): nothing was."""


def bundled_registry_path(config: Config) -> Path:
    return config.data_dir / "registry"


def bundled_key_path(config: Config) -> Path:
    return config.data_dir / "keys" / "registry.key"


def trusted_keys(config: Config) -> TrustedKeys:
    """The configured keys and the bundled registry's; a malformed one is a config error."""
    keys: list[PublicKey] = []
    for text in config.registry_trusted_keys:
        try:
            keys.append(PublicKey.parse(text))
        except BadKey as exc:
            raise BadRequest(f"registry_trusted_keys: {exc}") from None
    public = Path(f"{bundled_key_path(config)}.pub")
    if config.registry_bundled and public.is_file():
        try:
            keys.append(PublicKey.parse(public.read_text()))
        except (BadKey, OSError) as exc:
            raise BadRequest(f"{public}: {exc}") from None
    return TrustedKeys(keys)


@dataclass(frozen=True)
class CatalogueItem:
    registry: Registry
    entry: PackageEntry
    installed: InstalledApp | None
    source: str = ""  # the registry's name, as its signed index gives it

    @property
    def slug(self) -> str:
        return self.entry.slug

    @property
    def manifest(self) -> AppManifest:
        return self.entry.manifest

    @property
    def is_installed(self) -> bool:
        return self.installed is not None

    @property
    def update_available(self) -> bool:
        return self.installed is not None and version_key(self.entry.version) > version_key(
            self.installed.version
        )

    @property
    def path(self) -> str:
        return f"/store/{self.registry.id}/{self.slug}"


@dataclass(frozen=True)
class RegistryView:
    registry: Registry
    name: str
    problem: str | None
    items: tuple[CatalogueItem, ...]


class Catalogue:
    def __init__(
        self, config: Config, apps: AppService, *, listing_seconds: float = LISTING_SECONDS
    ) -> None:
        self.config = config
        self.apps = apps
        self.listing_seconds = listing_seconds
        self._registries: list[Registry] | None = None

    @property
    def registries(self) -> list[Registry]:
        """Built on first use, so a malformed key shows on the Store page, not at start."""
        if self._registries is None:
            trusted = trusted_keys(self.config)
            limits = RegistryLimits(
                max_package_bytes=self.config.registry_max_package_bytes,
                timeout_seconds=self.config.registry_timeout_seconds,
            )
            cache = self.config.cache_ttl_seconds
            out: list[Registry] = []
            if self.config.registry_bundled:
                out.append(
                    Registry(
                        str(bundled_registry_path(self.config)),
                        trusted,
                        limits,
                        id=BUNDLED_ID,
                        cache_seconds=cache,
                    )
                )
            out += [
                Registry(location, trusted, limits, cache_seconds=cache)
                for location in self.config.registries
            ]
            self._registries = out
        return self._registries

    def registry(self, registry_id: str) -> Registry:
        for registry in self.registries:
            if registry.id == registry_id:
                return registry
        raise NotFound(f"no registry {registry_id!r}")

    async def listing(self, instance: Instance) -> list[RegistryView]:
        installed = {app.slug: app for app in await self.apps.list_installed(instance)}

        async def view(registry: Registry) -> RegistryView:
            try:
                check_location(registry.location)
                index = await asyncio.wait_for(registry.index(), self.listing_seconds)
            except RegistryRefused as exc:
                return RegistryView(registry, registry.location, str(exc), ())
            except TimeoutError:
                reason = f"the registry {registry.location} did not answer in time"
                return RegistryView(registry, registry.location, reason, ())
            items = tuple(
                CatalogueItem(registry, entry, installed.get(slug), index.name)
                for slug, entry in sorted(index.latest().items())
            )
            return RegistryView(registry, index.name, None, items)

        return list(await asyncio.gather(*(view(r) for r in self.offered())))

    def offered(self) -> list[Registry]:
        """The registries to list: the bundled one only once it is built (a Roost where
        `roost registry bundle` never ran has no bundled registry, not a broken one)."""
        return [
            r
            for r in self.registries
            if r.id != BUNDLED_ID or (bundled_registry_path(self.config) / "index.json").is_file()
        ]

    async def item(self, instance: Instance, registry_id: str, slug: str) -> CatalogueItem:
        """The newest version of ``slug`` in that registry; PackageRefused when the registry
        cannot be trusted, NotFound when it does not list it."""
        registry = self.registry(registry_id)
        try:
            check_location(registry.location)
            index = await registry.index()
        except RegistryRefused as exc:
            raise PackageRefused(str(exc)) from None
        entry = index.latest().get(slug)
        if entry is None:
            raise NotFound(f"the registry lists no {slug!r}")
        installed = await self.apps.get_or_none(instance, slug)
        return CatalogueItem(registry, entry, installed, index.name)

    async def connectors(self, instance: Instance) -> list[CatalogueEntry]:
        """The connectors the trusted registries offer, for Collect's "available" list
        (`roost.appstore.collect.Catalogue`), each linking to its page in the Store."""
        return [
            CatalogueEntry(
                slug=item.slug,
                name=item.manifest.name,
                description=item.manifest.description,
                link=item.path,
            )
            for view in await self.listing(instance)
            for item in view.items
            if item.entry.type == "konnector"
        ]

    async def updates(self, instance: Instance) -> list[CatalogueItem]:
        """Installed apps some trusted registry has a newer version of (the newest wins)."""
        best: dict[str, CatalogueItem] = {}
        for view in await self.listing(instance):
            for item in view.items:
                if item.update_available:
                    held = best.get(item.slug)
                    if held is None or version_key(item.entry.version) > version_key(
                        held.entry.version
                    ):
                        best[item.slug] = item
        return [best[slug] for slug in sorted(best)]

    async def fetch(self, item: CatalogueItem) -> tuple[bytes, AppPackage]:
        """The package's verified bytes and contents, or PackageRefused saying why."""
        try:
            data = await item.registry.package(item.entry)
        except RegistryRefused as exc:
            raise PackageRefused(str(exc)) from None
        try:
            package = await asyncio.to_thread(read_package, data)
        except (PackageError, ManifestError) as exc:
            raise PackageRefused(f"the package {item.slug} is unreadable: {exc}") from None
        if package.manifest.to_json() != item.manifest.to_json():
            raise PackageRefused(
                f"the package {item.slug} holds another manifest than its registry lists"
            )
        return data, package

    async def added_lines(self, instance: Instance, item: CatalogueItem) -> list[str]:
        """In plain words, what it may do with the person's data (its hosts and limits are
        said apart, in sentences) — or, for an update, only what the new version may do
        beyond the installed one: data, hosts and limits."""
        new = item.manifest.grant()
        old: PermissionSet | None = None
        if item.installed is not None:
            old = await self.apps.permission_docs.load_set(instance, item.installed.permission_id)
        if old is None:
            return [describe_rule(rule) for rule in new.rules] or [NO_DATA]
        return describe_added(
            new.rules,
            new.egress,
            new.budget,
            old_rules=old.rules,
            old_egress=old.egress,
            old_budget=old.budget,
        )


_catalogues: weakref.WeakKeyDictionary[AppService, Catalogue] = weakref.WeakKeyDictionary()


def catalogue_for(apps: AppService) -> Catalogue:
    """The process's catalogue, one per AppService (it caches registry indexes)."""
    catalogue = _catalogues.get(apps)
    if catalogue is None:
        catalogue = _catalogues[apps] = Catalogue(apps.config, apps)
    return catalogue
