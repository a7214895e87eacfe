"""The embedded CouchDB-compatible store: a supervised PouchDB Server child process.

Used when `ROOST_COUCHDB_URL` is unset. It listens on a free loopback port, keeps its data
under `$ROOST_DATA/couchdb`, is restarted if it dies (PouchDB Server crashes on some
requests, see docs/architecture.md), and is stopped with the stack.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

log = logging.getLogger("roost.store")

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pouchdb_server_command() -> list[str]:
    explicit = os.environ.get("ROOST_POUCHDB_SERVER")
    if explicit:
        return [explicit]
    local = REPO_ROOT / "node_modules" / ".bin" / "pouchdb-server"
    if local.exists():
        return [str(local)]
    found = shutil.which("pouchdb-server")
    if found:
        return [found]
    raise RuntimeError(
        "pouchdb-server is not installed: run `npm ci` at the repository root "
        "(scripts/setup.sh does it), or set ROOST_COUCHDB_URL to an Apache CouchDB."
    )


class EmbeddedStore:
    """Start, watch and stop one PouchDB Server process."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._spawn()
        self.wait_ready(timeout)
        self._watcher = threading.Thread(target=self._watch, name="roost-store-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        log_file = (self.directory / "pouchdb-server.log").open("ab")
        # cwd = data dir: PouchDB Server writes config.json and log.txt in its cwd.
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                *pouchdb_server_command(),
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--config",
                str(self.directory / "config.json"),
                "--no-stdout-logs",
            ],
            cwd=self.directory,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"pouchdb-server exited with {self._process.returncode}; "
                    f"see {self.directory / 'pouchdb-server.log'}"
                )
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"pouchdb-server did not answer on {self.url} within {timeout:.0f} s")

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            process = self._process
            if process is not None and process.poll() is not None:
                log.warning("embedded store exited with %s; restarting", process.returncode)
                self.restarts += 1
                try:
                    self._spawn()
                    self.wait_ready()
                except RuntimeError:
                    log.exception("embedded store failed to restart")

    def kill(self) -> None:
        """Stop the process without stopping supervision (tests use it to simulate a crash)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def pause(self) -> None:
        """Stop supervision and the process: the store stays down until `resume()`."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        self.kill()

    def resume(self) -> None:
        self._stopping.clear()
        self.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
