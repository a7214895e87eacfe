"""The failed-login limit holds across stacks: failures through either count together."""

from __future__ import annotations

from roost.config import Config
from roost.instances import Instance
from tests.conftest import PASSPHRASE
from tests.scaleout.conftest import Stack


async def test_failures_through_two_stacks_add_up_to_one_lockout(
    stacks: list[Stack], fleet_instance: Instance, config: Config
) -> None:
    for attempt in range(config.login_max_failures):
        stack = stacks[attempt % 2]
        wrong = await stack.http.post("/auth/login", json={"passphrase": "wrong wrong"})
        assert wrong.status_code == 401
    # Each stack saw fewer failures than the limit, yet both refuse the right passphrase.
    for stack in stacks:
        refused = await stack.http.post("/auth/login", json={"passphrase": PASSPHRASE})
        assert refused.status_code == 429
        assert refused.headers.get_list("set-cookie") == []


async def test_a_success_on_one_stack_resets_the_count_on_the_other(
    stacks: list[Stack], fleet_instance: Instance, config: Config
) -> None:
    first, second = stacks
    for _ in range(config.login_max_failures - 1):
        wrong = await first.http.post("/auth/login", json={"passphrase": "wrong wrong"})
        assert wrong.status_code == 401
    assert (
        await second.http.post("/auth/login", json={"passphrase": PASSPHRASE})
    ).status_code == 200
    # Without the reset, the next failure would lock the instance out.
    for _ in range(2):
        wrong = await first.http.post("/auth/login", json={"passphrase": "wrong wrong"})
        assert wrong.status_code == 401
