"""The component linker: WASI p2 (granting nothing) plus the ``roost:app`` interfaces.

One module per WIT interface (:mod:`.data`, :mod:`.files`, :mod:`.http`, :mod:`.log`,
:mod:`.notify`, and from world 0.2.0 :mod:`.outbox`) over a small shared core (:mod:`.core`:
the guard, the one permission decision, the host-call budget, the aggregated access entries).
Each version links only the interfaces its world has (``roost.apps.WORLD_INTERFACES``).

The linker defines the exact interface names of every released world version
(``roost:app/data@0.1.0`` ...), so old apps keep linking when a new world is added. A
function a later version added to an interface (``data.create-many`` from 0.3.0) is linked
under that version and the following ones only.
"""

from __future__ import annotations

from wasmtime import component

from roost.apps import WORLD_ADDED_FUNCTIONS, WORLD_INTERFACES, WORLD_PACKAGE, WORLD_VERSIONS
from roost.apps.engine import AppEngine
from roost.apps.host import data, files, http, notify, outbox
from roost.apps.host.core import MAX_PAYLOAD_BYTES, HostImpl, error_json, guard
from roost.apps.host.log import log

__all__ = ["INTERFACES", "MAX_PAYLOAD_BYTES", "build_linker", "error_json", "functions_of"]

INTERFACES: dict[str, list[tuple[str, str, HostImpl]]] = {
    "data": data.FUNCTIONS + data.BULK_FUNCTIONS,
    "files": files.FUNCTIONS,
    "http": http.FUNCTIONS,
    "notify": notify.FUNCTIONS,
    "outbox": outbox.FUNCTIONS,
}


def _linked_in(version: str, iface: str, name: str) -> bool:
    """Whether world ``version`` has ``iface.name`` (added by that version or an older one)."""
    for added_in, added in WORLD_ADDED_FUNCTIONS.items():
        if name in added.get(iface, ()):
            return WORLD_VERSIONS.index(version) >= WORLD_VERSIONS.index(added_in)
    return True


def functions_of(version: str, iface: str) -> list[str]:
    """The functions the linker defines for ``roost:app/{iface}@{version}``."""
    if iface == "log":
        return ["log"]
    if iface not in WORLD_INTERFACES[version]:
        return []
    return [name for name, _, _ in INTERFACES[iface] if _linked_in(version, iface, name)]


def build_linker(engine: AppEngine) -> component.Linker:
    """A linker for every released world version. Share it: it holds no per-run state."""
    linker = component.Linker(engine.engine)
    linker.add_wasip2()
    with linker.root() as root:
        for version in WORLD_VERSIONS:
            for iface, funcs in INTERFACES.items():
                linked = functions_of(version, iface)
                if not linked:
                    continue
                with root.add_instance(f"{WORLD_PACKAGE}/{iface}@{version}") as inst:
                    for name, verb, impl in funcs:
                        if name not in linked:
                            continue
                        inst.add_func(name, guard(iface, name, verb, impl))
            with root.add_instance(f"{WORLD_PACKAGE}/log@{version}") as inst:
                inst.add_func("log", log)
    return linker
