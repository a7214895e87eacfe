"""The embedded CouchDB-compatible store: a supervised PouchDB Server child process.

Used when `ROOST_COUCHDB_URL` is unset. It listens on a free loopback port, keeps its data
under `$ROOST_DATA/couchdb`, is restarted if it dies (PouchDB Server crashes on some
requests, see docs/architecture.md), and is stopped with the stack.

The process is PouchDB Server started through Roost's launcher (`pouchdb_server/`), which
keeps at most `ROOST_STORE_OPEN_DATABASES` databases open and closes the least recently used
idle ones (express-pouchdb alone never closes one, about four descriptors each): see
docs/scaling.md.

No store outlives its owner: `stop()` ends it; on Linux the child also asks the kernel for
SIGTERM when the thread that started it dies (so a SIGKILLed owner takes its store with it);
and `stop_stray_stores` finds and stops, before a new start, any store still running on the
same directory (a platform without that guard, a store that ignored it). Who owns the
store of a data directory is recorded by `roost.store_runtime`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Final

import httpx

from roost.errors import StoreUnavailable
from roost.processes import process_is_running

log = logging.getLogger("roost.store")

REPO_ROOT = Path(__file__).resolve().parent.parent

# From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


# PouchDB Server's request log (`log.txt`) at its default level, "info", gets a line per
# request: a write per request and a file that only grows. Warnings and errors still go to it.
STORE_LOG_LEVEL = "warning"


def seed_store_config(path: Path) -> None:
    """Give PouchDB Server's `config.json` Roost's defaults where it names none (a value an
    operator set is kept; a file that is not a JSON object is left for the store to refuse)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        return
    if not isinstance(config, dict):
        return
    section = config.setdefault("log", {})
    if not isinstance(section, dict) or "level" in section:
        return
    section["level"] = STORE_LOG_LEVEL
    partial = path.with_name(path.name + ".roost-tmp")
    partial.write_text(json.dumps(config, indent=2), encoding="utf-8")
    partial.replace(path)


class StoreStartError(StoreUnavailable):
    """The embedded store could not be started (not installed, exited, never answered)."""


def free_port(avoid: Collection[int] = ()) -> int:
    """A loopback port free right now, other than those in `avoid` (ports the caller is
    about to bind itself: free now, so the kernel may hand them out too)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


# Roost's PouchDB Server: PouchDB Server with a cap on the databases it keeps open
# (docs/scaling.md); it ships with the package and runs the installed pouchdb-server.
LAUNCHER = Path(__file__).resolve().parent / "pouchdb_server" / "pouchdb-server.js"
OPEN_DATABASES_VARIABLE = "ROOST_STORE_OPEN_DATABASES"


def _package_of(executable: Path) -> Path | None:
    """The pouchdb-server package directory of `executable` (its bin, a link to it, or the
    directory itself), or None if it is not one."""
    resolved = executable.resolve()
    for candidate in (resolved, resolved.parent.parent):
        if (candidate / "lib" / "index.js").is_file() and (candidate / "package.json").is_file():
            return candidate
    return None


def pouchdb_server_package() -> Path:
    explicit = os.environ.get("ROOST_POUCHDB_SERVER")
    if explicit:
        on_path = shutil.which(explicit) if os.sep not in explicit else None
        package = _package_of(Path(on_path or explicit))
        if package is None:
            raise StoreStartError(
                f"ROOST_POUCHDB_SERVER={explicit} is not pouchdb-server: give its "
                "node_modules/.bin/pouchdb-server or its package directory"
            )
        return package
    local = REPO_ROOT / "node_modules" / ".bin" / "pouchdb-server"
    found = str(local) if local.exists() else shutil.which("pouchdb-server")
    package = _package_of(Path(found)) if found else None
    if package is None:
        raise StoreStartError(
            "pouchdb-server is not installed: run `npm ci` at the repository root "
            "(scripts/setup.sh does it), or set ROOST_COUCHDB_URL to an Apache CouchDB"
        )
    return package


# V8's young generation held to 1 MiB (its starting size; by default it grows to 16 MiB
# under load and is not given back): the store's resident memory after a burst of work
# went from 92 to 74-79 MB, and its CPU per small PUT, GET and replicated document did not
# move beyond the noise (docs/benchmarks.md, "Idle memory"). One V8 worker thread instead
# of one per core (garbage collection and compilation in the background): each thread
# kept its own C heap; 1.7-4.9 MB less at rest, the same CPU per GET and POST in five
# side-by-side pairs.
NODE_FLAGS: Final = ("--max-semi-space-size=1", "--v8-pool-size=1")


def store_environment() -> dict[str, str]:
    """The store's environment: Roost's own, with glibc's malloc held to two arenas unless
    the operator chose a number. With one V8 worker thread, node's threads (LevelDB's and
    libuv's) still each kept a heap of their own: 0.9 MB less at rest over five side-by-side
    pairs, with the same CPU per GET (1.56 ms both) and POST (1.79 against 1.81 ms)."""
    return {"MALLOC_ARENA_MAX": "2", **os.environ}


def pouchdb_server_command() -> list[str]:
    """The command starting the embedded store, before PouchDB Server's own options."""
    node = shutil.which("node")
    if node is None:
        raise StoreStartError(
            "node is not installed: the embedded store (PouchDB Server) needs Node.js, "
            "or set ROOST_COUCHDB_URL to an Apache CouchDB"
        )
    return [node, *NODE_FLAGS, str(LAUNCHER), "--package", str(pouchdb_server_package())]


def open_databases_setting() -> int | None:
    """`ROOST_STORE_OPEN_DATABASES`: how many databases the embedded store keeps open (None:
    the store sizes it from its descriptor limit)."""
    raw = os.environ.get(OPEN_DATABASES_VARIABLE, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise StoreStartError(f"{OPEN_DATABASES_VARIABLE} must be a positive integer, not {raw!r}")
    return int(raw)


def store_directory(directory: Path) -> Path:
    """The absolute directory PouchDB Server keeps its databases in.

    Before this was made absolute, a relative `--dir` was resolved by PouchDB Server against
    its working directory (the store directory itself), so the databases of a relative
    `ROOST_DATA` lived one level deeper; such a directory keeps being used, so nothing is lost.
    """
    absolute = directory.resolve()
    if not directory.is_absolute():
        legacy = absolute / directory
        if legacy.is_dir() and any(legacy.iterdir()):
            return legacy.resolve()
    return absolute


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGTERM the child when the spawning thread dies."""
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def guard() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The store sizes how many databases it keeps open (about four descriptors each)
        # from its descriptor limit: give it all the descriptors it may have.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        # The parent may have died between fork and prctl: then no signal would ever come.
        if os.getppid() != parent:
            os._exit(1)

    return guard


def _command_line(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        raw = b""
    if raw:
        return raw.rstrip(b"\0").decode(errors="replace").split("\0")
    if sys.platform == "linux":
        return None
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["ps", "-ww", "-o", "command=", "-p", str(pid)],  # noqa: S607 - ps from PATH
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        return None
    return out.split() or None


def is_store_of(pid: int, directory: Path) -> bool:
    """Whether `pid` is a PouchDB Server on `directory` (not a recycled pid of anything else)."""
    argv = _command_line(pid)
    if not argv or not any("pouchdb-server" in part for part in argv):
        return False
    return "--dir" in argv[:-1] and argv[argv.index("--dir") + 1] == str(directory)


def _stores_on(directory: Path) -> list[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and is_store_of(int(entry.name), directory):
            found.append(int(entry.name))
    return found


def stop_process(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; returns once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not process_is_running(pid):
                return
            time.sleep(0.05)
    raise StoreStartError(f"process {pid} did not stop; stop it by hand")


def stop_stray_stores(directory: Path, recorded_pid: int | None) -> list[int]:
    """Stop every PouchDB Server still running on `directory`; the pids that were stopped.

    `recorded_pid` comes from the runtime file; on Linux the process table is searched too,
    for a store started by an owner that died before it could record it.
    """
    directory = store_directory(directory)
    candidates = set(_stores_on(directory))
    if recorded_pid is not None and is_store_of(recorded_pid, directory):
        candidates.add(recorded_pid)
    stopped = []
    for pid in sorted(candidates):
        if process_is_running(pid):
            log.warning("stopping a store left running on %s (pid %s)", directory, pid)
            stop_process(pid)
            stopped.append(pid)
    return stopped


class EmbeddedStore:
    """Start, watch and stop one PouchDB Server process.

    One supervisor thread spawns the process, restarts it when it dies and stops it: on
    Linux the child's death signal is tied to the thread that spawned it, so every spawn
    happens on the thread that lives exactly as long as the supervision.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        on_spawn: Callable[[int, int], None] | None = None,
        open_databases: int | None = None,
        avoid_ports: Collection[int] = (),
    ) -> None:
        self.directory = store_directory(directory)
        # How many databases the store keeps open; None: ROOST_STORE_OPEN_DATABASES, else
        # the store's default (sized from its descriptor limit).
        self.open_databases = open_databases
        # `avoid_ports`: `roost serve`'s own HTTP port, not bound yet when the store starts.
        self.port = port or free_port(avoid_ports)
        # Called with (pid, port) after each (re)spawn, before the store answers.
        self._on_spawn = on_spawn
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 30.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._start_error = None
        started = threading.Event()
        self._watcher = threading.Thread(
            target=self._supervise, args=(timeout, started), name="roost-store", daemon=True
        )
        self._watcher.start()
        try:
            started.wait()
        except BaseException:
            # A signal handler raised while the store was starting: do not leave it behind.
            self.stop()
            raise
        if self._start_error is not None:
            self._watcher.join()
            raise self._start_error

    def _supervise(self, timeout: float, started: threading.Event) -> None:
        try:
            self._spawn()
            self.wait_ready(timeout)
        except BaseException as error:  # handed to the thread in start()
            self._start_error = error
            self._terminate()
            started.set()
            return
        started.set()
        while not self._stopping.wait(0.5):
            process = self._process
            if process is not None and process.poll() is not None:
                log.warning("embedded store exited with %s; restarting", process.returncode)
                self.restarts += 1
                try:
                    self._spawn()
                    self.wait_ready()
                except StoreUnavailable:
                    log.exception("embedded store failed to restart")
        self._terminate()

    def _spawn(self) -> None:
        command = pouchdb_server_command()
        cap = self.open_databases or open_databases_setting()
        if cap is not None:
            command += ["--open-databases", str(cap)]
        seed_store_config(self.directory / "config.json")
        log_file = (self.directory / "pouchdb-server.log").open("ab")
        # cwd = data dir: PouchDB Server writes config.json and log.txt in its cwd.
        # Its own session: a Ctrl-C in the terminal reaches Roost, which stops the store in
        # order, instead of killing the store under a server still answering requests.
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                *command,
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--config",
                str(self.directory / "config.json"),
                # PouchDB Server's own short flag: its option parser reads the long
                # "--no-stdout-logs" as "stdout-logs: false" and keeps tailing its log.
                "-n",
            ],
            cwd=self.directory,
            env=store_environment(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # only prctl and getppid: fork-safe
        )
        log_file.close()
        if self._on_spawn is not None:
            self._on_spawn(self._process.pid, self.port)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._process is not None and self._process.poll() is not None:
                raise StoreStartError(
                    f"pouchdb-server exited with {self._process.returncode}; "
                    f"see {self.directory / 'pouchdb-server.log'}"
                )
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        if self._stopping.is_set():
            raise StoreStartError("the embedded store was stopped while starting")
        raise StoreStartError(f"pouchdb-server did not answer on {self.url} within {timeout:.0f} s")

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop the process without stopping supervision (tests use it to simulate a crash)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def pause(self) -> None:
        """Stop supervision and the process: the store stays down until `resume()`."""
        self.stop()

    def resume(self) -> None:
        self.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        self._terminate()
