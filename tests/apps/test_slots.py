"""Run slots: one instance's runs never hold every slot; the same instance keeps its order."""

from __future__ import annotations

import asyncio

from roost.apps.slots import RunSlots


async def test_one_instance_cannot_take_every_slot() -> None:
    slots = RunSlots(total=3)  # per instance: 2
    release = asyncio.Event()
    started: list[str] = []

    async def hold(tenant: str, name: str) -> None:
        async with slots.hold(tenant):
            started.append(name)
            await release.wait()

    greedy = [asyncio.ensure_future(hold("evil", f"evil-{i}")) for i in range(5)]
    await asyncio.sleep(0)
    other = asyncio.ensure_future(hold("good", "good"))
    await asyncio.sleep(0)
    # Two of the greedy runs started, the other instance got the third slot at once.
    assert started == ["evil-0", "evil-1", "good"]
    assert slots.in_use == 3
    release.set()
    await asyncio.gather(*greedy, other)
    assert started[3:] == ["evil-2", "evil-3", "evil-4"]  # in arrival order
    assert slots.in_use == 0 and not slots.by_tenant


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    slots = RunSlots(total=1, per_tenant=1)
    release = asyncio.Event()

    async def hold(tenant: str) -> str:
        async with slots.hold(tenant):
            await release.wait()
        return tenant

    first = asyncio.ensure_future(hold("a"))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(hold("b"))
    await asyncio.sleep(0)
    waiting.cancel()
    release.set()
    assert await first == "a"
    assert slots.in_use == 0
    assert await hold("c") == "c"
