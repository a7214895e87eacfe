"""The data directory's record of who owns its embedded store: a lock and a runtime file.

Exactly one process owns the embedded PouchDB Server of a data directory at a time: a
`roost serve`, or a CLI command when no server runs. The owner holds an exclusive `flock` on
`$ROOST_DATA/roost.lock` for as long as it lives (the kernel releases it when the process
dies, however it dies) and records in `$ROOST_DATA/store-runtime.json` (mode 0600: readable
only by the data directory's owner) its own pid and role and the store's pid and port.

Other processes read the runtime file to find the running store (a CLI command beside a
server) or the store a crashed owner left behind (the next owner stops it before starting its
own, so the store's files are never opened twice).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from roost.errors import Conflict, Forbidden

Role = Literal["serve", "command"]

LOCK_NAME = "roost.lock"
RUNTIME_NAME = "store-runtime.json"


class DataDirectoryInUse(Conflict):
    """Another Roost process owns the data directory (a second `roost serve`, typically)."""


class DataDirectoryUnusable(Forbidden):
    """The data directory cannot be created, or it (or its lock) belongs to another user."""


@dataclass(frozen=True)
class StoreRuntime:
    """What the runtime file holds; `store_pid` and `port` are unset until the store runs."""

    owner_pid: int
    role: Role
    store_pid: int | None = None
    port: int | None = None

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port else None

    def describe(self) -> str:
        who = "roost serve" if self.role == "serve" else "a roost command"
        return f"{who} (pid {self.owner_pid})"


class DataDirectoryLock:
    """The owner's lock on a data directory and the runtime file that goes with it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.lock_path = data_dir / LOCK_NAME
        self.runtime_path = data_dir / RUNTIME_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if no live process holds it; never waits."""
        if self._fd is not None:
            return True
        try:
            # A new data directory is private to its owner: it holds everyone's data.
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise DataDirectoryUnusable(
                f"cannot create the data directory {self.data_dir}: {error.strerror}"
            ) from None
        # Not inherited by children (Python's default): the store must not keep the lock
        # alive after its owner died, or the next owner could never take over.
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except PermissionError:
            raise DataDirectoryUnusable(
                f"cannot open {self.lock_path}: run roost as the user that owns {self.data_dir}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(self) -> StoreRuntime | None:
        """The runtime file's record, or None when there is none (or it cannot be parsed)."""
        try:
            data = json.loads(self.runtime_path.read_text())
            return StoreRuntime(
                owner_pid=int(data["owner_pid"]),
                role="serve" if data["role"] == "serve" else "command",
                store_pid=int(data["store_pid"]) if data.get("store_pid") else None,
                port=int(data["port"]) if data.get("port") else None,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, runtime: StoreRuntime) -> None:
        """Replace the runtime file atomically (readers never see half a record)."""
        assert self._fd is not None, "only the lock holder writes the runtime file"
        partial = self.runtime_path.with_name(f".{RUNTIME_NAME}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(runtime), out)
        # The mode of a file left by an older run under another umask is reset too.
        os.chmod(partial, 0o600)
        os.replace(partial, self.runtime_path)

    def clear(self) -> None:
        assert self._fd is not None, "only the lock holder clears the runtime file"
        with contextlib.suppress(FileNotFoundError):
            self.runtime_path.unlink()

    def refusal(self) -> DataDirectoryInUse:
        """The one-line error for a process that wanted the lock and could not take it."""
        runtime = self.read()
        holder = runtime.describe() if runtime else "another roost process"
        return DataDirectoryInUse(f"the data directory {self.data_dir} is in use by {holder}")
