"""`roost serve` as a service: stop signals, crashes, a second server, restarts in a row.

Real processes only: `roost serve` runs in a subprocess with its embedded PouchDB Server on
a data directory of the test's own; data is written and read back over HTTP with a token
printed by the real CLI, and "nothing left behind" is checked in the process table.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.embedded_store import (
    free_port,
    pouchdb_server_command,
    store_directory,
)
from roost.processes import process_is_running
from roost.store_runtime import RUNTIME_NAME, DataDirectoryLock, StoreRuntime
from tests.conftest import PASSPHRASE
from tests.roost_process import RoostServer, run_cli

CONTACTS = "io.cozy.contacts"
STOP_SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
# How many restarts in a row (each costs a Python start-up and a store start, 3-9 s); the
# issue asks that a hundred work: `ROOST_TEST_RESTARTS=100 .venv/bin/pytest
# tests/test_lifecycle.py -k in_a_row --timeout 3000` (see docs/operating.md).
RESTARTS = int(os.environ.get("ROOST_TEST_RESTARTS", "10"))


class Box:
    """A data directory, the servers started on it, and one instance with a token."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.servers: list[RoostServer] = []
        self.domain = f"life{secrets.token_hex(3)}.localhost"
        self.token = ""

    def serve(self) -> RoostServer:
        server = RoostServer(self.data_dir)
        self.servers.append(server)
        return server.start()

    def create_instance(self) -> None:
        """With a server running: the CLI beside it creates the instance and a token."""
        added = run_cli(self.data_dir, "instances", "add", self.domain, "--passphrase", PASSPHRASE)
        assert added.returncode == 0, added.stderr
        issued = run_cli(self.data_dir, "token", self.domain, "--scope", CONTACTS, "--ttl", "1d")
        assert issued.returncode == 0, issued.stderr
        self.token = issued.stdout.strip()

    def _headers(self) -> dict[str, str]:
        return {"Host": self.domain, "Authorization": f"Bearer {self.token}"}

    def write(self, server: RoostServer, name: str) -> str:
        response = httpx.post(
            f"{server.url}/data/{CONTACTS}/", json={"fullname": name}, headers=self._headers()
        )
        assert response.status_code == 201, response.text
        doc_id: str = response.json()["id"]
        return doc_id

    def read(self, server: RoostServer, doc_id: str) -> str:
        response = httpx.get(f"{server.url}/data/{CONTACTS}/{doc_id}", headers=self._headers())
        assert response.status_code == 200, response.text
        name: str = response.json()["fullname"]
        return name

    def all_names(self, server: RoostServer) -> set[str]:
        response = httpx.get(
            f"{server.url}/data/{CONTACTS}/_all_docs",
            params={"include_docs": "true"},
            headers=self._headers(),
        )
        assert response.status_code == 200, response.text
        return {row["doc"]["fullname"] for row in response.json()["rows"]}


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    made = Box(tmp_path / "data")
    yield made
    for server in made.servers:
        server.kill_all()


def _runtime_file(data_dir: Path) -> Path:
    return data_dir / RUNTIME_NAME


# -- stop signals ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_leaves_no_process_and_a_restart_keeps_the_data(
    box: Box, sig: signal.Signals
) -> None:
    first = box.serve()
    runtime = first.runtime()
    assert runtime is not None and runtime.role == "serve"
    assert runtime.owner_pid == first.pid
    assert _runtime_file(box.data_dir).stat().st_mode & 0o777 == 0o600
    box.create_instance()
    doc_id = box.write(first, "Before the stop")

    assert first.stop(sig) == 0

    assert first.left_behind() == set()
    assert not _runtime_file(box.data_dir).exists()
    second = box.serve()
    assert box.read(second, doc_id) == "Before the stop"
    assert second.stop() == 0
    assert second.left_behind() == set()


def test_after_sigkill_the_store_goes_too_and_a_restart_keeps_the_data(box: Box) -> None:
    first = box.serve()
    box.create_instance()
    doc_id = box.write(first, "Before the crash")
    store_pid = first.running().store_pid

    first.stop(signal.SIGKILL)

    # The store does not outlive the server, even one that had no chance to clean up.
    assert first.wait_gone() == set()
    assert store_pid is not None and not process_is_running(store_pid)
    second = box.serve()
    assert box.read(second, doc_id) == "Before the crash"
    assert second.running().owner_pid == second.pid
    assert second.stop() == 0
    assert second.left_behind() == set()


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "unrecorded"])
def test_a_store_left_running_is_stopped_before_a_new_one_starts(box: Box, recorded: bool) -> None:
    first = box.serve()
    box.create_instance()
    doc_id = box.write(first, "Kept by the store")
    assert first.stop() == 0
    # A store left behind by an owner that died without stopping it (on a platform without
    # the death signal, or a store that ignored it): a real PouchDB Server on the same
    # files, with its databases open, so a second store there would fail on LevelDB's lock.
    port = free_port()
    couch = store_directory(box.data_dir / "couchdb")
    options = {"--port": str(port), "--host": "127.0.0.1", "--dir": str(couch)}
    stray = subprocess.Popen(
        [*pouchdb_server_command(), *itertools.chain(*options.items()), "--no-stdout-logs"],
        cwd=couch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _open_every_database(f"http://127.0.0.1:{port}")
        if recorded:
            lock = DataDirectoryLock(box.data_dir)
            assert lock.try_acquire()
            lock.write(
                StoreRuntime(
                    owner_pid=first.pid,
                    role="serve",
                    store_pid=stray.pid,
                    port=port,
                )
            )
            lock.release()

        second = box.serve()

        assert stray.wait(timeout=30) is not None
        assert box.read(second, doc_id) == "Kept by the store"
        assert second.running().store_pid != stray.pid
        assert second.stop() == 0
        assert second.left_behind() == set()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


def _open_every_database(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            names = httpx.get(f"{url}/_all_dbs", timeout=2).json()
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the stray store never answered"
            time.sleep(0.1)
    assert names, "the stray store sees no database"
    for name in names:
        assert httpx.get(f"{url}/{name}", timeout=10).status_code == 200


# -- one server per data directory ------------------------------------------------------------


def test_a_second_serve_on_the_same_data_is_refused_in_one_line(box: Box) -> None:
    first = box.serve()
    before = _runtime_file(box.data_dir).read_bytes()

    second = run_cli(box.data_dir, "serve", "--port", str(first.port + 1))

    assert second.returncode == 1
    assert second.stderr == (
        f"error: the data directory {box.data_dir} is in use by roost serve (pid {first.pid})\n"
    )
    assert second.stdout == ""
    # Nothing changed: the first server still owns the directory and still answers.
    assert _runtime_file(box.data_dir).read_bytes() == before
    assert httpx.get(f"{first.url}/status").status_code == 200
    assert first.stop() == 0
    assert first.left_behind() == set()


# -- restarts in a row ------------------------------------------------------------------------


def _restart_in_a_row(box: Box, times: int) -> None:
    signals = itertools.cycle([*STOP_SIGNALS, signal.SIGKILL])
    written: set[str] = set()
    for turn in range(times):
        server = box.serve()
        if turn == 0:
            box.create_instance()
        name = f"written in turn {turn}"
        box.write(server, name)
        written.add(name)
        assert box.all_names(server) == written, f"turn {turn}"
        sig = next(signals)
        status = server.stop(sig)
        assert status == (-signal.SIGKILL if sig == signal.SIGKILL else 0), f"turn {turn}"
        assert server.wait_gone() == set(), f"turn {turn} ({sig.name})"
    last = box.serve()
    assert box.all_names(last) == written
    assert last.stop() == 0


def test_restarts_in_a_row_lose_nothing(box: Box) -> None:
    _restart_in_a_row(box, RESTARTS)
