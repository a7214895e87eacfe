from __future__ import annotations

import pytest

from roost.apps.budget import (
    MIB,
    MIN_PYTHON_MEMORY_MIB,
    BudgetError,
    OperatorLimits,
    effective_budget,
)
from roost.apps.manifest import ManifestBudget
from roost.permissions import Budget

LIMITS = OperatorLimits(
    max_fuel=1000,
    max_memory_mib=128,
    max_wall_seconds=10,
    default_fuel=100,
    default_memory_mib=48,
    default_wall_seconds=3,
)


def test_defaults_fill_in() -> None:
    b = effective_budget(None, LIMITS)
    assert (b.fuel, b.memory_bytes, b.wall_seconds) == (100, 48 * MIB, 3.0)


def test_manifest_budget_is_capped_by_operator() -> None:
    b = effective_budget(ManifestBudget(fuel=10**12, memory_mib=4096, wall_seconds=3600), LIMITS)
    assert (b.fuel, b.memory_mib, b.wall_seconds) == (1000, 128, 10.0)
    b = effective_budget(Budget(fuel=10, memory_mib=16, wall_seconds=0.5), LIMITS)
    assert (b.fuel, b.memory_mib, b.wall_seconds) == (10, 16, 0.5)


def test_python_guests_get_their_memory_floor() -> None:
    b = effective_budget(ManifestBudget(memory_mib=8), LIMITS, python_guest=True)
    assert b.memory_mib == MIN_PYTHON_MEMORY_MIB
    with pytest.raises(BudgetError, match="at least 32 MiB"):
        effective_budget(None, OperatorLimits(max_memory_mib=16), python_guest=True)


def test_nonsense_is_refused() -> None:
    with pytest.raises(BudgetError):
        effective_budget(ManifestBudget(fuel=0), LIMITS)
