"""Per-run budgets: what the manifest asks for, capped by the operator's maxima.

Fuel is wasmtime's instruction budget: about 1e10 fuel per CPU-second of guest code
(measured: a spinning Python guest burns 1e10 fuel in ~0.98 s; one ordinary run of a small
Python app uses ~0.3 M). Memory is a Store limit on linear memory. Wall time is an epoch
deadline (ticks of the engine's ticker) and also bounds host calls made by the run; the
runner abandons a guest blocked in a WASI call at the deadline (see runner.py). Host calls
have their own budget: a number of calls and a number of bytes moved through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_HOST_BYTES",
    "DEFAULT_HOST_CALLS",
    "DEFAULT_MAX_OUTPUT_BYTES",
    "FUEL_PER_CPU_SECOND",
    "MIB",
    "MIN_PYTHON_MEMORY_MIB",
    "BudgetError",
    "BudgetLike",
    "OperatorLimits",
    "RunBudget",
    "effective_budget",
]

MIB = 1024 * 1024
FUEL_PER_CPU_SECOND = 10_000_000_000
#: A componentize-py guest needs ~12.4 MiB just to start; below 32 MiB it fails quickly.
MIN_PYTHON_MEMORY_MIB = 32


class BudgetError(ValueError):
    """A budget cannot be satisfied (e.g. the operator's memory cap is below a guest's floor)."""


class BudgetLike(Protocol):
    """Anything with optional fuel / memory_mib / wall_seconds (manifest or permission budget)."""

    @property
    def fuel(self) -> int | None: ...

    @property
    def memory_mib(self) -> int | None: ...

    @property
    def wall_seconds(self) -> float | None: ...


DEFAULT_HOST_CALLS = 10_000
DEFAULT_HOST_BYTES = 64 * MIB
#: The largest result or error a run may return (config ``apps_max_output_bytes``).
DEFAULT_MAX_OUTPUT_BYTES = MIB


@dataclass(frozen=True)
class OperatorLimits:
    """Operator maxima and defaults for a run (config keys ``apps.max_*`` / ``apps.default_*``)."""

    max_fuel: int = 30 * FUEL_PER_CPU_SECOND
    max_memory_mib: int = 256
    max_wall_seconds: float = 60.0
    default_fuel: int = 2 * FUEL_PER_CPU_SECOND
    default_memory_mib: int = 64
    default_wall_seconds: float = 10.0
    #: Cap on one host call (a fetch, a query), itself inside the run's wall time.
    max_host_call_seconds: float = 30.0
    max_host_calls: int = 100_000
    max_host_bytes: int = 512 * MIB
    default_host_calls: int = DEFAULT_HOST_CALLS
    default_host_bytes: int = DEFAULT_HOST_BYTES
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES


@dataclass(frozen=True)
class RunBudget:
    """The limits of one run, all set on the Store before instantiation."""

    fuel: int
    memory_bytes: int
    wall_seconds: float
    host_calls: int = DEFAULT_HOST_CALLS
    host_bytes: int = DEFAULT_HOST_BYTES
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES

    @property
    def memory_mib(self) -> float:
        return self.memory_bytes / MIB


def _positive(value: float | None, name: str) -> None:
    if value is not None and (isinstance(value, bool) or value <= 0):
        raise BudgetError(f"budget {name} must be a positive number, got {value!r}")


def effective_budget(
    requested: BudgetLike | None,
    limits: OperatorLimits | None = None,
    *,
    python_guest: bool = False,
) -> RunBudget:
    """The manifest's (or grant's) budget, defaults filled in, capped by the operator's maxima.

    ``python_guest``: the component imports WASI (componentize-py); it then gets at least
    ``MIN_PYTHON_MEMORY_MIB``, and if the operator's cap is lower, :class:`BudgetError`.
    """
    limits = limits or OperatorLimits()
    fuel = requested.fuel if requested is not None else None
    memory_mib = requested.memory_mib if requested is not None else None
    wall = requested.wall_seconds if requested is not None else None
    _positive(fuel, "fuel")
    _positive(memory_mib, "memory_mib")
    _positive(wall, "wall_seconds")
    fuel = min(fuel if fuel is not None else limits.default_fuel, limits.max_fuel)
    mem = min(
        memory_mib if memory_mib is not None else limits.default_memory_mib,
        limits.max_memory_mib,
    )
    if python_guest and mem < MIN_PYTHON_MEMORY_MIB:
        if limits.max_memory_mib < MIN_PYTHON_MEMORY_MIB:
            raise BudgetError(
                f"Python guests need at least {MIN_PYTHON_MEMORY_MIB} MiB of memory; "
                f"the operator allows {limits.max_memory_mib} MiB"
            )
        mem = MIN_PYTHON_MEMORY_MIB
    wall_s = min(wall if wall is not None else limits.default_wall_seconds, limits.max_wall_seconds)
    # Older budget objects (and permission documents) have no host-call fields.
    calls = getattr(requested, "host_calls", None)
    moved = getattr(requested, "host_bytes", None)
    _positive(calls, "host_calls")
    _positive(moved, "host_bytes")
    calls = min(calls if calls is not None else limits.default_host_calls, limits.max_host_calls)
    moved = min(moved if moved is not None else limits.default_host_bytes, limits.max_host_bytes)
    return RunBudget(
        fuel=int(fuel),
        memory_bytes=int(mem * MIB),
        wall_seconds=float(wall_s),
        host_calls=int(calls),
        host_bytes=int(moved),
        max_output_bytes=limits.max_output_bytes,
    )
