"""`free_port` never hands out a port its caller is about to bind itself.

`roost serve --port P` starts its embedded store before binding P: the store's port must
not be P, which is still free at that moment (a lifecycle test once lost that race)."""

from __future__ import annotations

import socket

from roost.embedded_store import free_port


def test_a_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_ports_to_avoid_are_never_returned() -> None:
    avoid = set(range(0, 45_000))  # the kernel's first picks are in here half the time
    for _ in range(50):
        assert free_port(avoid) >= 45_000
