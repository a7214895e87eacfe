"""Roost's WebAssembly app runtime (import name ``roost.apps``).

Small modules, one job each:

- :mod:`roost.apps.engine` - the process-wide wasmtime Engine and its epoch ticker.
- :mod:`roost.apps.compiler` - compile and validate at install, ``.cwasm`` cache, ``load()``.
- :mod:`roost.apps.manifest` - ``manifest.json`` parsing and validation.
- :mod:`roost.apps.package` - reading a package folder or ``.tar.gz`` safely.
- :mod:`roost.apps.budget` - per-run budgets capped by operator maxima.
- :mod:`roost.apps.services` - the Protocols the stack implements (data, files, http, notify, log).
- :mod:`roost.apps.host` - the component linker: one module per WIT interface, shared core.
- :mod:`roost.apps.egress` - the real ``http.fetch``: egress rules, address checks, pinning.
- :mod:`roost.apps.host.outbox` - proposing egress the person approves (world 0.2.0).
- :mod:`roost.apps.host.data` - documents; from world 0.3.0 also bulk calls (``get-many``...).
- :mod:`roost.apps.runner` - ``run_app``: a fresh Store per run, limits, traps to reasons.
"""

from __future__ import annotations

WORLD_PACKAGE = "roost:app"
WORLD_VERSIONS: tuple[str, ...] = ("0.1.0", "0.2.0", "0.3.0")
#: The interfaces each released world imports (wit/roost.wit, wit/0.2.0/roost.wit,
#: wit/0.3.0/roost.wit).
WORLD_INTERFACES: dict[str, tuple[str, ...]] = {
    "0.1.0": ("data", "files", "http", "log", "notify"),
    "0.2.0": ("data", "files", "http", "log", "notify", "outbox"),
    "0.3.0": ("data", "files", "http", "log", "notify", "outbox"),
}
#: Functions a world version added to an interface it shares with older versions.
WORLD_ADDED_FUNCTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "0.3.0": {"data": ("get-many", "create-many", "update-many")},
}

__all__ = ["WORLD_ADDED_FUNCTIONS", "WORLD_INTERFACES", "WORLD_PACKAGE", "WORLD_VERSIONS"]
