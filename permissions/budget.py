"""Resource budget of one run of an app or connector (a Roost extension to cozy rules)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRule

__all__ = ["Budget", "budget_within"]

_FIELDS = ("fuel", "memory_mib", "wall_seconds", "host_calls", "host_bytes")


def _check_int(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRule(f"budget {name} must be a whole number, got {value!r}")
    if value <= 0:
        raise InvalidRule(f"budget {name} must be positive, got {value}")


@dataclass(frozen=True)
class Budget:
    """Limits per run: `fuel` (wasm instructions), `memory_mib`, `wall_seconds`, and the
    host-call budget: `host_calls` (calls) and `host_bytes` (bytes moved through them).

    None means "no limit from this budget" (the runtime's own caps still apply).
    """

    fuel: int | None = None
    memory_mib: int | None = None
    wall_seconds: float | None = None
    host_calls: int | None = None
    host_bytes: int | None = None

    def __post_init__(self) -> None:
        _check_int("fuel", self.fuel)
        _check_int("memory_mib", self.memory_mib)
        _check_int("host_calls", self.host_calls)
        _check_int("host_bytes", self.host_bytes)
        wall = self.wall_seconds
        if wall is not None:
            if isinstance(wall, bool) or not isinstance(wall, int | float):
                raise InvalidRule(f"budget wall_seconds must be a number, got {wall!r}")
            if not math.isfinite(wall) or wall <= 0:
                raise InvalidRule(f"budget wall_seconds must be positive and finite, got {wall}")
            object.__setattr__(self, "wall_seconds", float(wall))

    @property
    def unlimited(self) -> bool:
        return all(getattr(self, name) is None for name in _FIELDS)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS if getattr(self, name) is not None}

    @classmethod
    def from_json(cls, data: Any) -> Budget:
        if not isinstance(data, Mapping):
            raise InvalidRule(f"budget must be an object, got {data!r}")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise InvalidRule(
                f"unknown budget key(s) {sorted(map(str, unknown))}: expected " + ", ".join(_FIELDS)
            )
        return cls(**{name: data.get(name) for name in _FIELDS})


def _limit_within(child: float | None, parent: float | None) -> bool:
    if parent is None:
        return True
    return child is not None and child <= parent


def budget_within(child: Budget | None, parent: Budget | None) -> bool:
    """True when every limit of `parent` is also imposed, at most as high, by `child`."""
    if parent is None:
        return True
    c = child if child is not None else Budget()
    return (
        _limit_within(c.fuel, parent.fuel)
        and _limit_within(c.memory_mib, parent.memory_mib)
        and _limit_within(c.wall_seconds, parent.wall_seconds)
        and _limit_within(c.host_calls, parent.host_calls)
        and _limit_within(c.host_bytes, parent.host_bytes)
    )
