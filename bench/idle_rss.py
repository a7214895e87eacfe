#!/usr/bin/env python3
"""Idle memory of a one-person box: `roost serve` and its embedded store, five apps installed.

What a Raspberry Pi owner runs: `roost serve --demo` on a fresh data directory (the
embedded PouchDB Server, the demo instance, Banks' categoriser installed by the stack
itself), then four more apps installed with the CLI while it serves (doc-stats in C,
health-bills, insurance-offer and import-bank in Python), each run once through the
server so its component is loaded, then left alone. Prints the resident memory (RSS, and
PSS, which shares the pages of common files fairly) of both processes after start-up,
after the installs and runs, and after an idle minute; writes docs/benchmarks.md.

    .venv/bin/python bench/idle_rss.py [--idle 60] [--no-write]

Needs `examples/apps/build.sh` first (the apps' wasm).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from roost.embedded_store import EmbeddedStore, free_port

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "alice.localhost"
INSTALLED = ("doc-stats", "health-bills", "insurance-offer", "import-bank")
GOAL_MIB = 150


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def roost(data: Path, *args: str) -> str:
    env = {**os.environ, "ROOST_DATA": str(data)}
    done = subprocess.run(
        [sys.executable, "-m", "roost.cli", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"roost {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def wait_until(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def sample(label: str, pids: dict[str, int]) -> dict[str, object]:
    row: dict[str, object] = {"when": label}
    total_rss = total_pss = 0
    for name, pid in pids.items():
        rss, pss = memory_kib(pid)
        row[name] = (rss, pss)
        total_rss += rss
        total_pss += pss
    row["total"] = (total_rss, total_pss)
    print(
        f"{label:<34}"
        + "".join(
            f"  {name} {v[0] / 1024:6.1f} MiB (PSS {v[1] / 1024:6.1f})"  # type: ignore[index]
            for name, v in row.items()
            if name != "when"
        )
    )
    return row


def floors(tmp: Path) -> dict[str, object]:
    """What the two programs hold loaded and idle, before any request: the floor.

    Python with every module `roost serve` imports, and a fresh PouchDB Server with no
    database yet.
    """
    python = subprocess.Popen(
        [sys.executable, "-c", "import time, roost.app, roost.cli; time.sleep(60)"]
    )
    store = EmbeddedStore(tmp / "floor-store")
    store.start()
    try:
        time.sleep(5)
        assert store._process is not None
        return sample(
            "floor: loaded, no request", {"roost serve": python.pid, "store": store._process.pid}
        )
    finally:
        python.kill()
        python.wait()
        store.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=150.0, help="seconds left idle at the end")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    for slug in INSTALLED:
        if not (ROOT / "examples" / "apps" / slug / "app.wasm").is_file():
            raise SystemExit("build the example apps first: bash examples/apps/build.sh")

    with tempfile.TemporaryDirectory(prefix="roost-idle-") as tmp:
        floor = floors(Path(tmp))
        data = Path(tmp) / "data"
        port = free_port()
        env = {**os.environ, "ROOST_DATA": str(data), "ROOST_LOG_LEVEL": "warning"}
        # A cold component cache, as on a new box: the categoriser and the four apps are
        # compiled during the run (by the server, then by the CLI).
        server = subprocess.Popen(
            [sys.executable, "-m", "roost.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "serve.log", "w"),
        )
        try:
            base = f"http://127.0.0.1:{port}"
            client = httpx.Client(base_url=base, headers={"Host": DOMAIN}, timeout=60)
            wait_until("roost serve", lambda: client.get("/status").status_code == 200, 120)
            runtime = json.loads((data / "store-runtime.json").read_text())
            pids = {"roost serve": server.pid, "store": int(runtime["store_pid"])}
            passphrase = (data / "demo-passphrase.txt").read_text().strip()
            login = client.post("/auth/login", json={"passphrase": passphrase})
            login.raise_for_status()

            def installed() -> set[str]:
                answer = client.get("/apps/")
                return {a["slug"] for a in answer.json()} if answer.is_success else set()

            # Banks installs its categoriser by itself, in the background.
            wait_until("the categoriser", lambda: "categorise-operations" in installed(), 600)
            time.sleep(5)
            rows = [sample("started, categoriser installed", pids)]
            for slug in INSTALLED:
                roost(
                    data, "apps", "install", DOMAIN, str(ROOT / "examples" / "apps" / slug), "--yes"
                )
            for slug in (*INSTALLED, "categorise-operations"):
                client.post(f"/apps/{slug}/run", json={})  # an error answer still loads it
            rows.append(sample(f"{len(installed())} apps installed, each run", pids))
            waited = 0.0
            while waited < args.idle:  # the curve, printed; the last point is recorded
                step = min(30.0, args.idle - waited)
                time.sleep(step)
                waited += step
                last = sample(f"idle {waited:.0f} s", pids)
            rows.append(last)
        finally:
            server.terminate()
            server.wait(timeout=30)

    last = rows[-1]
    total = last["total"][0] / 1024  # type: ignore[index]
    print(f"idle total RSS {total:.1f} MiB (goal <= {GOAL_MIB} MiB)")
    if args.no_write:
        return
    lines = [
        "`bench/idle_rss.py`: `roost serve --demo` on a fresh data directory with the",
        "embedded store; Banks' categoriser installs itself, four more apps are installed",
        "with the CLI while it serves (doc-stats in C; health-bills, insurance-offer and",
        "import-bank in Python) and each app is run once through the server.",
        "",
        "| moment | roost serve RSS (PSS) | store RSS (PSS) | together RSS (PSS) |",
        "|---|---|---|---|",
    ]
    for row in [*rows, floor]:
        cells = [
            f"{row[k][0] / 1024:.1f} MiB ({row[k][1] / 1024:.1f})"  # type: ignore[index]
            for k in ("roost serve", "store", "total")
        ]
        lines.append(f"| {row['when']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Goal: at most {GOAL_MIB} MB together, idle, five apps installed. The last row is",
        "the floor: Python with every module `roost serve` imports, doing nothing, and a",
        "fresh PouchDB Server with no database, before any request.",
    ]
    write_section("Idle memory (five apps installed)", "\n".join(lines))


if __name__ == "__main__":
    main()
