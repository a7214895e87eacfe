"""Run threads (`roost.apps.run_threads`): reused from run to run, never a bottleneck.

A finished run's thread takes the next run; a run stuck in its thread never delays another
(a new thread starts); parked threads are few and end when left idle."""

from __future__ import annotations

import threading
import time
import weakref

from roost.apps.run_threads import RunThreads


def _run(threads: RunThreads) -> int:
    """Submit one job and wait for it; returns the ident of the thread that ran it."""
    done = threading.Event()
    seen: list[int] = []

    def body() -> None:
        seen.append(threading.get_ident())
        done.set()

    threads.submit(body)
    assert done.wait(5)
    return seen[0]


def _wait_parked(threads: RunThreads, count: int) -> None:
    deadline = time.monotonic() + 5
    while threads.parked() != count:
        assert time.monotonic() < deadline, f"{threads.parked()} parked, not {count}"
        time.sleep(0.005)


def test_runs_one_after_another_share_one_thread() -> None:
    threads = RunThreads()
    first = _run(threads)
    _wait_parked(threads, 1)
    assert {_run(threads) for _ in range(20)} == {first}
    assert threads.started == 1


def test_a_stuck_run_never_delays_the_next() -> None:
    threads = RunThreads()
    release = threading.Event()
    stuck_started = threading.Event()

    def stuck() -> None:
        stuck_started.set()
        release.wait(10)

    threads.submit(stuck)
    assert stuck_started.wait(5)
    try:
        # The stuck thread is not parked: the next run gets a thread of its own, at once.
        other = _run(threads)
        assert other != 0
        assert threads.started == 2
    finally:
        release.set()


def test_at_most_keep_threads_park() -> None:
    threads = RunThreads(keep=2)
    release = threading.Event()
    running = threading.Semaphore(0)

    def held() -> None:
        running.release()
        release.wait(10)

    for _ in range(5):
        threads.submit(held)
    for _ in range(5):
        assert running.acquire(timeout=5)
    release.set()
    _wait_parked(threads, 2)
    time.sleep(0.05)
    assert threads.parked() == 2  # the three others ended


def test_a_parked_thread_left_idle_ends() -> None:
    threads = RunThreads(idle_seconds=0.05)
    ident = _run(threads)
    (thread,) = [t for t in threading.enumerate() if t.ident == ident]
    thread.join(5)
    assert not thread.is_alive()
    assert threads.parked() == 0
    _run(threads)
    assert threads.started == 2


def test_a_parked_thread_holds_nothing_of_its_runs() -> None:
    """A run's closure keeps its component (tens of MB) alive: once the runs are done, the
    parked thread must not keep any of them, the first included."""

    class Component:
        pass

    threads = RunThreads()
    gone: list[weakref.ref[Component]] = []
    for _ in range(2):  # the thread's first run, then a run it took when parked
        component = Component()
        gone.append(weakref.ref(component))
        done = threading.Event()

        def body(held: Component = component, done: threading.Event = done) -> None:
            assert held is not None
            done.set()

        threads.submit(body)
        assert done.wait(5)
        _wait_parked(threads, 1)
        del body, component
    assert threads.started == 1
    assert [ref() for ref in gone] == [None, None]
