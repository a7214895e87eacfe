"""``manifest.json``: parse and validate an app's manifest (Cozy-like shape).

::

    {
      "slug": "bank-connector", "name": "Bank connector", "version": "1.0.0",
      "type": "konnector",                        # or "webapp"
      "description": ["line shown at install", "..."],
      "permissions": {                            # Cozy's map form
        "operations": {"type": "io.cozy.bank.operations", "verbs": ["GET", "POST"],
                        "description": "import your bank operations"}
      },
      "egress": ["https://bank.example.com"],      # the only hosts http.fetch may reach
      "budget": {"fuel": 20000000000, "memory_mib": 64, "wall_seconds": 30},
      "triggers": ["@every 24h", {"type": "@event", "arguments": "io.cozy.bills:CREATED"}],
      "fields": {"login": {"type": "text"}, "password": {"type": "password"}},
      "world": "roost:app@0.1.0"
    }

All problems are collected and reported together in :class:`ManifestError`.

Triggers have one grammar, the jobs service's (``roost.jobs``), which this package may not
import (``roost.apps`` depends on ``roost.permissions`` and its own ports only). So the
grammar is a port: :data:`TriggerGrammar`, passed to :func:`parse_manifest` or
:func:`check_triggers`. Without one only the shape is checked (a ``@type`` string and an
arguments string); the stack always passes ``roost.jobs.trigger_problem``, before it writes
anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roost.apps import WORLD_PACKAGE, WORLD_VERSIONS
from roost.permissions import InvalidRule, PermissionSet, normalise_egress_pattern

__all__ = [
    "FIELD_TYPES",
    "AppManifest",
    "ManifestBudget",
    "ManifestError",
    "ManifestPermission",
    "TriggerGrammar",
    "TriggerSpec",
    "check_triggers",
    "parse_manifest",
]

TriggerGrammar = Callable[..., "str | None"]
"""``grammar(type, arguments)``: why this trigger is invalid, or None when it is valid; a
trigger with a ``debounce`` is asked ``grammar(type, arguments, debounce)``."""

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
TRIGGER_TYPE_RE = re.compile(r"^@[a-z]+$")
FIELD_TYPES = frozenset({"text", "password", "email", "number", "date", "url", "hidden"})
APP_TYPES = frozenset({"webapp", "konnector"})
TOP_KEYS = frozenset(
    {
        "slug",
        "name",
        "version",
        "type",
        "description",
        "permissions",
        "egress",
        "budget",
        "triggers",
        "fields",
        "world",
        "editor",
        "icon",
        "categories",
        "locales",
        "developer",
        "license",
        "source",
        "name_prefix",
        "langs",
        "vendor_link",
    }
)
MAX_DESCRIPTION_LINES = 50


class ManifestError(ValueError):
    """The manifest is invalid. ``errors`` lists every problem, each prefixed by its place."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid manifest: " + "; ".join(self.errors))


@dataclass(frozen=True)
class ManifestPermission:
    name: str
    type: str
    verbs: tuple[str, ...]
    values: tuple[str, ...]
    selector: str | None
    description: str

    def to_rule(self) -> dict[str, Any]:
        """The Cozy rule map entry (what ``PermissionSet.from_json`` reads)."""
        rule: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.verbs:
            rule["verbs"] = list(self.verbs)
        if self.values:
            rule["values"] = list(self.values)
        if self.selector:
            rule["selector"] = self.selector
        return rule


@dataclass(frozen=True)
class ManifestBudget:
    fuel: int | None = None
    memory_mib: int | None = None
    wall_seconds: float | None = None
    host_calls: int | None = None
    host_bytes: int | None = None


@dataclass(frozen=True)
class TriggerSpec:
    """A trigger as declared: ``type`` (``@cron``...) and its ``arguments`` string."""

    type: str
    arguments: str = ""
    #: ``@event`` only: changes within this delay (``"2s"``) make one run.
    debounce: str | None = None

    def __str__(self) -> str:
        return f"{self.type} {self.arguments}".strip()


@dataclass(frozen=True)
class ManifestField:
    name: str
    type: str
    label: str
    required: bool
    #: The value the app uses when an account leaves the field empty (an importer's folder).
    default: str | None = None


@dataclass(frozen=True)
class AppManifest:
    slug: str
    name: str
    version: str
    type: str
    description: tuple[str, ...]
    permissions: tuple[ManifestPermission, ...]
    egress: tuple[str, ...]
    budget: ManifestBudget
    triggers: tuple[TriggerSpec, ...]
    fields: tuple[ManifestField, ...]
    world: str
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def is_konnector(self) -> bool:
        return self.type == "konnector"

    @property
    def doctype(self) -> str:
        """Where the installed app is recorded: ``io.cozy.apps`` or ``io.cozy.konnectors``."""
        return "io.cozy.konnectors" if self.is_konnector else "io.cozy.apps"

    def permissions_map(self) -> dict[str, dict[str, Any]]:
        """Cozy's permission map form (name -> rule), as stored in ``io.cozy.permissions``."""
        return {p.name: p.to_rule() for p in self.permissions}

    def grant_json(self) -> dict[str, Any]:
        """The grant in ``io.cozy.permissions`` form: rules map plus egress and budget."""
        data: dict[str, Any] = dict(self.permissions_map())
        if self.egress:
            data["egress"] = list(self.egress)
        budget = self.to_json()["budget"]
        if budget:
            data["budget"] = budget
        return data

    def grant(self) -> PermissionSet:
        """The permission set the person grants by installing this app."""
        return PermissionSet.from_json(self.grant_json())

    def describe(self) -> list[str]:
        """Plain-English lines for the consent page (from ``roost.permissions``)."""
        return self.grant().describe()

    def to_json(self) -> dict[str, Any]:
        """A normalised copy, as stored in the app document."""
        return {
            "slug": self.slug,
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "description": list(self.description),
            "permissions": self.permissions_map(),
            "egress": list(self.egress),
            "budget": {
                k: v
                for k, v in (
                    ("fuel", self.budget.fuel),
                    ("memory_mib", self.budget.memory_mib),
                    ("wall_seconds", self.budget.wall_seconds),
                    ("host_calls", self.budget.host_calls),
                    ("host_bytes", self.budget.host_bytes),
                )
                if v is not None
            },
            "triggers": [
                str(t)
                if t.debounce is None
                else {"type": t.type, "arguments": t.arguments, "debounce": t.debounce}
                for t in self.triggers
            ],
            "fields": {
                f.name: {"type": f.type, "label": f.label, "required": f.required}
                | ({"default": f.default} if f.default is not None else {})
                for f in self.fields
            },
            "world": self.world,
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_triggers(triggers: Sequence[TriggerSpec], grammar: TriggerGrammar) -> list[str]:
    """Every problem `grammar` finds in `triggers`, each prefixed with where it is."""
    errors: list[str] = []
    for i, spec in enumerate(triggers):
        if spec.debounce is not None:
            problem = grammar(spec.type, spec.arguments, spec.debounce)
        else:
            problem = grammar(spec.type, spec.arguments)
        if problem is not None:
            errors.append(f"triggers[{i}]: {problem}")
    return errors


def _parse_triggers(
    raw: object, errors: list[str], grammar: TriggerGrammar | None
) -> tuple[TriggerSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append("triggers: must be a list")
        return ()
    out: list[TriggerSpec] = []
    for i, item in enumerate(raw):
        where = f"triggers[{i}]"
        if isinstance(item, str):
            kind, _, args = item.strip().partition(" ")
            spec = TriggerSpec(kind, args.strip())
        elif isinstance(item, Mapping):
            kind_v, args_v = item.get("type"), item.get("arguments", "")
            debounce_v = item.get("debounce")
            if not isinstance(kind_v, str) or not isinstance(args_v, str):
                errors.append(f"{where}: needs string 'type' and 'arguments'")
                continue
            if debounce_v is not None and not isinstance(debounce_v, str):
                errors.append(f"{where}.debounce: a duration like '2s'")
                continue
            spec = TriggerSpec(kind_v.strip(), args_v.strip(), debounce_v)
        else:
            errors.append(f"{where}: must be a string like '@every 1h' or an object")
            continue
        if not TRIGGER_TYPE_RE.match(spec.type):
            errors.append(f"{where}: a trigger type looks like @every or @cron, not {spec.type!r}")
            continue
        out.append(spec)
    if grammar is not None:
        errors.extend(check_triggers(out, grammar))
    return tuple(out)


def _parse_permissions(raw: object, errors: list[str]) -> tuple[ManifestPermission, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        errors.append("permissions: must be an object mapping a name to a rule")
        return ()
    out: list[ManifestPermission] = []
    for name, rule in raw.items():
        where = f"permissions.{name}"
        if not isinstance(rule, Mapping):
            errors.append(f"{where}: must be an object with type, verbs, description")
            continue
        unknown = set(rule) - {"type", "verbs", "values", "selector", "description"}
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)}")
        doctype = rule.get("type")
        if not isinstance(doctype, str) or not doctype:
            errors.append(f"{where}.type: a doctype name is required")
            continue
        verbs = rule.get("verbs", [])
        if not isinstance(verbs, list) or not all(isinstance(v, str) for v in verbs):
            errors.append(f"{where}.verbs: must be a list of verbs")
            verbs = []
        values = rule.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f"{where}.values: must be a list of strings")
            values = []
        selector = rule.get("selector")
        if selector is not None and (not isinstance(selector, str) or not selector):
            errors.append(f"{where}.selector: must be a field name")
            selector = None
        desc = rule.get("description")
        if not isinstance(desc, str) or not desc.strip():
            errors.append(f"{where}.description: say why the app needs it (shown at install)")
            desc = ""
        out.append(
            ManifestPermission(
                name=str(name),
                type=doctype,
                verbs=tuple(verbs),
                values=tuple(values),
                selector=selector,
                description=desc.strip(),
            )
        )
    return tuple(out)


def _parse_budget(raw: object, errors: list[str]) -> ManifestBudget:
    if raw is None:
        return ManifestBudget()
    if not isinstance(raw, Mapping):
        errors.append("budget: must be an object with fuel, memory_mib, wall_seconds")
        return ManifestBudget()
    unknown = set(raw) - {"fuel", "memory_mib", "wall_seconds", "host_calls", "host_bytes"}
    if unknown:
        errors.append(f"budget: unknown keys {sorted(unknown)}")
    fuel, mem, wall = raw.get("fuel"), raw.get("memory_mib"), raw.get("wall_seconds")
    if fuel is not None and not (_is_int(fuel) and fuel > 0):
        errors.append(f"budget.fuel: must be a positive integer, got {fuel!r}")
        fuel = None
    if mem is not None and not (_is_int(mem) and mem > 0):
        errors.append(f"budget.memory_mib: must be a positive integer, got {mem!r}")
        mem = None
    if wall is not None and not (_is_number(wall) and wall > 0):
        errors.append(f"budget.wall_seconds: must be a positive number, got {wall!r}")
        wall = None
    host = {}
    for key in ("host_calls", "host_bytes"):
        value = raw.get(key)
        if value is not None and not (_is_int(value) and value > 0):
            errors.append(f"budget.{key}: must be a positive integer, got {value!r}")
            value = None
        host[key] = value
    return ManifestBudget(fuel=fuel, memory_mib=mem, wall_seconds=wall, **host)


def _parse_fields(raw: object, app_type: object, errors: list[str]) -> tuple[ManifestField, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        errors.append("fields: must be an object mapping a field name to {type, label}")
        return ()
    if raw and app_type != "konnector":
        errors.append("fields: only konnectors have account fields")
    out: list[ManifestField] = []
    for name, spec in raw.items():
        where = f"fields.{name}"
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", str(name)):
            errors.append(f"{where}: invalid field name")
            continue
        if not isinstance(spec, Mapping):
            errors.append(f"{where}: must be an object like {{'type': 'password'}}")
            continue
        ftype = spec.get("type", "text")
        if ftype not in FIELD_TYPES:
            errors.append(f"{where}.type: one of {sorted(FIELD_TYPES)}, got {ftype!r}")
            continue
        label = spec.get("label", name)
        required = spec.get("required", True)
        default = spec.get("default")
        if not isinstance(label, str) or not isinstance(required, bool):
            errors.append(f"{where}: label must be a string and required a boolean")
            continue
        if default is not None and not isinstance(default, str):
            errors.append(f"{where}.default: must be a string")
            continue
        out.append(ManifestField(str(name), str(ftype), label, required, default))
    return tuple(out)


def _parse_egress(raw: object, errors: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(e, str) and e for e in raw):
        errors.append("egress: must be a list of 'https://host[:port]' patterns")
        return ()
    out: list[str] = []
    for i, pattern in enumerate(raw):
        try:
            out.append(normalise_egress_pattern(pattern))
        except InvalidRule as exc:
            errors.append(f"egress[{i}]: {exc}")
    return tuple(out)


def parse_manifest(
    raw: bytes | str | Mapping[str, Any], *, trigger_grammar: TriggerGrammar | None = None
) -> AppManifest:
    """Parse and validate a manifest; raise :class:`ManifestError` listing every problem.

    Triggers are judged by `trigger_grammar` when given (see the module's docstring).
    """
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError([f"manifest.json is not valid JSON: {exc}"]) from None
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise ManifestError(["manifest.json must hold a JSON object"])
    errors: list[str] = []
    unknown = set(data) - TOP_KEYS
    if unknown:
        errors.append(f"unknown keys {sorted(unknown)}")
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        errors.append(f"slug: lowercase letters, digits and dashes, 1-63 characters, got {slug!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors.append("name: a non-empty string of at most 100 characters is required")
    version = data.get("version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        errors.append(f"version: must look like 1.2.3, got {version!r}")
    app_type = data.get("type")
    if app_type not in APP_TYPES:
        errors.append(f"type: must be 'webapp' or 'konnector', got {app_type!r}")
    desc_raw = data.get("description", [])
    description: tuple[str, ...] = ()
    if isinstance(desc_raw, str):
        description = tuple(line for line in desc_raw.splitlines() if line.strip())
    elif isinstance(desc_raw, list) and all(isinstance(d, str) for d in desc_raw):
        description = tuple(desc_raw)
    else:
        errors.append("description: a string or a list of lines")
    if len(description) > MAX_DESCRIPTION_LINES:
        errors.append(f"description: at most {MAX_DESCRIPTION_LINES} lines")
    # A manifest naming no world was written for the first one (it predates the others).
    world = data.get("world", f"{WORLD_PACKAGE}@{WORLD_VERSIONS[0]}")
    known_worlds = {f"{WORLD_PACKAGE}@{v}" for v in WORLD_VERSIONS}
    if world not in known_worlds:
        errors.append(f"world: one of {sorted(known_worlds)}, got {world!r}")
    permissions = _parse_permissions(data.get("permissions"), errors)
    egress = _parse_egress(data.get("egress"), errors)
    budget = _parse_budget(data.get("budget"), errors)
    triggers = _parse_triggers(data.get("triggers"), errors, trigger_grammar)
    fields = _parse_fields(data.get("fields"), app_type, errors)
    if errors:
        raise ManifestError(errors)
    assert isinstance(slug, str) and isinstance(name, str) and isinstance(version, str)
    manifest = AppManifest(
        slug=slug,
        name=name.strip(),
        version=version,
        type=str(app_type),
        description=description,
        permissions=permissions,
        egress=egress,
        budget=budget,
        triggers=triggers,
        fields=fields,
        world=str(world),
        raw=dict(data),
    )
    try:
        manifest.grant()
    except InvalidRule as exc:
        raise ManifestError([f"permissions: {exc}"]) from None
    return manifest
