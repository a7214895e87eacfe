"""Real `roost` processes for the lifecycle and CLI tests: `roost serve` and CLI commands.

Each runs the installed `roost` entry point in a subprocess on a data directory of the test's
own, always with the embedded store (`ROOST_COUCHDB_URL` is removed from its environment):
these tests are about the processes Roost starts and stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from roost.embedded_store import free_port
from roost.processes import process_is_running
from roost.store_runtime import DataDirectoryLock, StoreRuntime

ROOST = Path(sys.executable).with_name("roost")
START_SECONDS = 60.0


def roost_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["ROOST_DATA"] = str(data_dir)
    # Keep PouchDB Server's own override (CI may point at a global install).
    if "ROOST_POUCHDB_SERVER" in os.environ:
        env["ROOST_POUCHDB_SERVER"] = os.environ["ROOST_POUCHDB_SERVER"]
    return env


def run_cli(
    data_dir: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one `roost` command to completion, as a person would in a second terminal."""
    return subprocess.run(
        [str(ROOST), *args],
        env=env or roost_env(data_dir),
        input=input,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def process_tree(pid: int) -> set[int]:
    """`pid` and all its descendants (Linux /proc)."""
    found = {pid}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found


def running_in_group(pgid: int) -> set[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            members.add(int(entry.name))
    return members


@dataclass
class RoostServer:
    """One `roost serve` subprocess in its own session (so its group can be inspected)."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    # Every pid seen under the server while it ran, the store included.
    started: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"serve-{self.port}.log"

    def start(self) -> RoostServer:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [str(ROOST), "serve", "--port", str(self.port)],
                env=roost_env(self.data_dir),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"roost serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/status", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"roost serve did not answer:\n{self.log.read_text()}")
        self.started = process_tree(self.process.pid)
        runtime = self.runtime()
        assert runtime is not None and runtime.store_pid is not None
        self.started.add(runtime.store_pid)
        return self

    def runtime(self) -> StoreRuntime | None:
        return DataDirectoryLock(self.data_dir).read()

    def running(self) -> StoreRuntime:
        """The runtime file of a server that runs (a test failure if there is none)."""
        runtime = self.runtime()
        assert runtime is not None, "no runtime file: the server is not running"
        return runtime

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server was never started"
        return self.process.pid

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send `sig` and wait for the server to exit; its exit status."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def left_behind(self) -> set[int]:
        """Processes this server started that still run (its group, its tree, its store)."""
        assert self.process is not None
        return {pid for pid in self.started if process_is_running(pid)} | running_in_group(
            self.process.pid
        )

    def wait_gone(self, timeout: float = 10.0) -> set[int]:
        """What is still left after `timeout` (a SIGKILLed server's store dies asynchronously)."""
        deadline = time.monotonic() + timeout
        while (left := self.left_behind()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def kill_all(self) -> None:
        """Test clean-up: never leave a process of a failed test behind."""
        for pid in self.left_behind() if self.process is not None else set():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None and self.process.poll() is None:
            self.process.wait(timeout=10)
