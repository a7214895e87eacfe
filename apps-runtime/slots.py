"""Run slots: a cap on concurrent app runs, and a smaller cap per instance.

One instance's apps may hold at most ``per_tenant`` of the ``total`` slots, so another
instance's run always finds one free (when ``per_tenant < total``). Waiters are served in
arrival order among those whose instance is under its cap. Pure asyncio bookkeeping with
futures created on the waiter's loop (no loop-bound primitive: tests and the stack may use
several loops over one runtime).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["RunSlots"]


class RunSlots:
    def __init__(self, total: int, per_tenant: int | None = None) -> None:
        self.total = max(1, total)
        self.per_tenant = max(1, per_tenant if per_tenant is not None else self.total - 1)
        self.in_use = 0
        self.by_tenant: dict[str, int] = defaultdict(int)
        self._waiters: list[tuple[str, asyncio.Future[None]]] = []

    def _can_start(self, tenant: str) -> bool:
        return self.in_use < self.total and self.by_tenant[tenant] < self.per_tenant

    def _take(self, tenant: str) -> None:
        self.in_use += 1
        self.by_tenant[tenant] += 1

    @asynccontextmanager
    async def hold(self, tenant: str) -> AsyncIterator[None]:
        """Wait for a slot for ``tenant``; free it on exit (also on cancellation)."""
        # A waiter only waits while its own instance (or the whole pool) is full, so another
        # instance with room goes ahead of it; the same instance keeps its order.
        queued_same = any(t == tenant for t, _ in self._waiters)
        if not queued_same and self._can_start(tenant):
            self._take(tenant)
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (tenant, future)
            self._waiters.append(entry)
            try:
                await future
            except BaseException:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                elif future.done() and not future.cancelled():
                    self._release(tenant)  # granted, then cancelled before use
                raise
        try:
            yield
        finally:
            self._release(tenant)

    def _release(self, tenant: str) -> None:
        self.in_use -= 1
        self.by_tenant[tenant] -= 1
        if self.by_tenant[tenant] <= 0:
            del self.by_tenant[tenant]
        for entry in list(self._waiters):
            waiting_tenant, future = entry
            if future.done():
                self._waiters.remove(entry)
                continue
            if self._can_start(waiting_tenant):
                self._waiters.remove(entry)
                self._take(waiting_tenant)
                future.set_result(None)
