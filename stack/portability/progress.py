"""How long work reports how far it got: the CLI draws a bar, the web job keeps a figure."""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    def stage(self, label: str, total: int | None, unit: str) -> None:
        """A new step begins (`total` None when unknown); `unit` is "docs" or "B"."""

    def advance(self, amount: int) -> None: ...

    def close(self) -> None: ...


class SilentProgress:
    """Keeps the current step and its count, for a status page."""

    def __init__(self) -> None:
        self.label = ""
        self.done = 0
        self.total: int | None = None

    def stage(self, label: str, total: int | None, unit: str) -> None:
        self.label, self.done, self.total = label, 0, total

    def advance(self, amount: int) -> None:
        self.done += amount

    def close(self) -> None:
        return None


class BarProgress:
    """A tqdm bar per step on stderr (the archive or a report may go to stdout)."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._bar: tqdm[Any] | None = None

    def stage(self, label: str, total: int | None, unit: str) -> None:
        self.close()
        self._bar = self._tqdm(
            total=total,
            desc=label,
            unit=unit if unit == "B" else f" {unit}",
            unit_scale=unit == "B",
            unit_divisor=1024,
            leave=False,
            dynamic_ncols=True,
        )

    def advance(self, amount: int) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
