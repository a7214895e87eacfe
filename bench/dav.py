"""WebDAV: Roost against nginx (dav + dav_ext) and WsgiDAV, same disk, same client, one run.

    .venv/bin/python bench/dav.py [--small 2000] [--big-mib 256] [--warm-up 1000] [--no-write]

Starts the three servers on loopback ports with fresh roots under one temp folder
(Roost: `roost serve` + the embedded PouchDB Server, or ROOST_COUCHDB_URL), then measures
with one httpx client a big PUT and GET (MiB/s) and PROPFIND Depth 1 of the small-file
folder (ms, median of 5); with `bench/load.js` (Node's HTTP client: httpx's own CPU per
request was the bottleneck of the small-file figures) small PUTs and GETs at concurrency 8
(files/s), every body checked; and the servers' CPU seconds per operation (from /proc, the
server and its children; Roost's figure also counts its store). Prints ratios against the
references and writes docs/benchmarks.md. Before measuring, each server takes `--warm-up`
small PUTs and GETs in a folder of their own, as a server that has been running has: a
store just started compiles its hot code (V8's optimising compiler) during its first
thousands of requests, 3.2 s of its CPU over 2,000 uploads. What those first PUTs cost is
printed too ("cold").
Needs nginx-extras (`apt-get install nginx-extras`) for the nginx column; skipped if absent.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Requests, Turn, basic_auth, drive
from process_cpu import cpu_seconds, process_tree
from report import median, write_section

from roost.config import Config
from roost.embedded_store import EmbeddedStore, free_port
from roost.permissions import PermissionSet
from roost.services import Services

DOMAIN = "davbench.roost.test"
USER, PASSWORD = "test", "test"
CONCURRENCY = 8


@dataclass
class Server:
    name: str
    url: str  # the collection the benchmark works in, ending with /
    auth: tuple[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        return process_tree([p.pid for p in self.processes] + self.extra_pids)

    def cpu_seconds(self, pids: list[int] | None = None) -> float:
        """CPU seconds so far of `pids`, by default the server and every process below it."""
        return cpu_seconds(self.pids() if pids is None else pids)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def _wait_http(url: str, auth: tuple[str, str] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.request("OPTIONS", url, auth=auth, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


# -- the servers ---------------------------------------------------------------------------


def start_roost(work: Path, runner: list[str] | None = None) -> tuple[Server, EmbeddedStore | None]:
    """`roost serve` and its store; `runner` replaces `python -m roost.cli` (a profiler,
    a tracer: the arguments `serve --port N` follow it)."""
    external = os.environ.get("ROOST_COUCHDB_URL")
    store = None
    if external:
        store_url = external
    else:
        store = EmbeddedStore(work / "couchdb")
        store.start()
        store_url = store.url
    prefix = f"davbench{secrets.token_hex(3)}-"
    data = work / "roost-data"
    config = Config(data_dir=data, couchdb_url=store_url, db_prefix=prefix)

    async def setup() -> str:
        services = Services.build(config, store_url)
        instance = await services.instances.create(DOMAIN, secrets.token_urlsafe(12))
        _, secret = await services.app_passwords.create(
            instance, "bench", PermissionSet.from_inline("io.cozy.files")
        )
        await services.aclose()
        return secret

    secret = asyncio.run(setup())
    port = free_port()
    env = dict(
        os.environ,
        ROOST_COUCHDB_URL=store_url,
        ROOST_DB_PREFIX=prefix,
        ROOST_DATA=str(data),
        ROOST_LOG_LEVEL="warning",
        ROOST_DEFAULT_INSTANCE=DOMAIN,
    )
    command = runner or [sys.executable, "-m", "roost.cli"]
    process = subprocess.Popen([*command, "serve", "--port", str(port)], env=env)
    server = Server("Roost", f"http://127.0.0.1:{port}/dav/files/", ("bench", secret), [process])
    if store is not None and store._process is not None:
        server.extra_pids.append(store._process.pid)
    _wait_http(server.url)
    _wait_idle(server)
    return server, store


def _wait_idle(server: Server, *, quiet_share: float = 0.05, longest: float = 120.0) -> None:
    """Wait until the stack's start-up work is over (Banks installs its categoriser app on
    a new instance: a component compile of several CPU seconds), so it is not measured."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        time.sleep(1.0)
        if server.cpu_seconds() - before < quiet_share:
            return


def start_wsgidav(work: Path) -> Server:
    root = work / "wsgidav-root"
    root.mkdir()
    port = free_port()
    config = work / "wsgidav.yaml"
    config.write_text(
        f"host: 127.0.0.1\nport: {port}\nserver: cheroot\nserver_args: {{numthreads: 10}}\n"
        f'verbose: 1\nprovider_mapping: {{"/": "{root}"}}\n'
        "http_authenticator: {domain_controller: null, accept_basic: true, "
        "accept_digest: false, default_to_digest: false}\n"
        f'simple_dc: {{user_mapping: {{"*": {{"{USER}": {{password: "{PASSWORD}"}}}}}}}}\n'
        "property_manager: true\nlock_storage: true\n"
    )
    wsgidav = Path(sys.executable).parent / "wsgidav"
    process = subprocess.Popen(
        [str(wsgidav), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server("WsgiDAV", f"http://127.0.0.1:{port}/", (USER, PASSWORD), [process])
    _wait_http(server.url, server.auth)
    return server


def start_nginx(work: Path) -> Server | None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    module = Path("/usr/lib/nginx/modules/ngx_http_dav_ext_module.so")
    if not Path(nginx).exists() or not module.exists():
        return None
    root = work / "nginx-root"
    (work / "nginx-tmp").mkdir()
    (work / "nginx-logs").mkdir()
    root.mkdir()
    port = free_port()
    (work / "htpasswd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    conf = work / "nginx.conf"
    conf.write_text(
        f"load_module {module};\nuser root;\nworker_processes auto;\n"
        f"pid {work}/nginx.pid;\nerror_log {work}/nginx-logs/error.log;\n"
        "events { worker_connections 1024; }\n"
        "http {\n include /etc/nginx/mime.types; sendfile on; tcp_nopush on;\n"
        f" keepalive_requests 100000; access_log off; client_body_temp_path {work}/nginx-tmp;\n"
        f" server {{ listen 127.0.0.1:{port}; root {root};\n"
        "  location / {\n"
        f'   auth_basic "davbench"; auth_basic_user_file {work}/htpasswd;\n'
        "   dav_methods PUT DELETE MKCOL COPY MOVE; dav_ext_methods PROPFIND OPTIONS;\n"
        "   create_full_put_path on; dav_access user:rw group:rw all:r;\n"
        "   client_max_body_size 0; autoindex on;\n  }\n }\n}\n"
    )
    process = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(work), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server("nginx", f"http://127.0.0.1:{port}/", (USER, PASSWORD), [process])
    _wait_http(server.url, server.auth)
    return server


# -- the measurements ----------------------------------------------------------------------


@dataclass
class Result:
    big_put: float = 0.0  # MiB/s
    big_get: float = 0.0
    small_put: float = 0.0  # files/s
    small_get: float = 0.0
    propfind_ms: float = 0.0  # median of 5
    propfind_first_ms: float = 0.0  # the first one, right after the uploads (cold caches)
    cpu_big_put: float = 0.0  # s per GiB
    cpu_big_get: float = 0.0
    cpu_small_put: float = 0.0  # ms per file
    cpu_small_get: float = 0.0
    cpu_propfind: float = 0.0  # ms per PROPFIND
    store_small_put: float = 0.0  # of cpu_small_put, ms spent by Roost's store
    store_small_get: float = 0.0
    client_small_put: float = 0.0  # ms per file, the load generator's own CPU
    client_small_get: float = 0.0
    cold_cpu_small_put: float = 0.0  # ms per file, the warm-up's PUTs on a fresh server
    entries: int = 0
    ok: bool = True
    notes: list[str] = field(default_factory=list)


def _measure(server: Server, action: Callable[[], None]) -> tuple[float, float]:
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started, server.cpu_seconds() - cpu_before


def warm_up(server: Server, http: httpx.Client, count: int) -> float:
    """`count` small PUTs then GETs in `bench/warm/`; the server's CPU ms per PUT."""
    if count <= 0:
        return 0.0
    http.request("MKCOL", server.url + "bench/warm/").raise_for_status()
    urls = [server.url + f"bench/warm/w{index:05d}.bin" for index in range(count)]
    bodies = [hashlib.sha256(b"warm%d" % index).digest() * 128 for index in range(count)]
    auth = basic_auth(*server.auth)
    cpu_before = server.cpu_seconds()
    drive(Requests(urls, "PUT", auth, bodies=bodies), CONCURRENCY, count)
    cpu = server.cpu_seconds() - cpu_before
    drive(Requests(urls, headers=auth), CONCURRENCY, count)
    return cpu * 1000 / count


def run(server: Server, big: bytes, small_count: int, warm: int) -> Result:
    result = Result()
    limits = httpx.Limits(
        max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY * 2
    )
    with httpx.Client(auth=server.auth, timeout=300, limits=limits) as http:
        base = server.url
        response = http.request("MKCOL", base + "bench/")
        if response.status_code not in (201, 405):
            raise RuntimeError(f"{server.name}: MKCOL {response.status_code}")
        result.cold_cpu_small_put = warm_up(server, http, warm)
        big_mib = len(big) / 2**20

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(big), 2**20):
                yield big[start : start + 2**20]

        def put_big() -> None:
            http.put(
                base + "bench/big.bin",
                content=chunks(),
                headers={"Content-Length": str(len(big))},
            ).raise_for_status()

        seconds, cpu = _measure(server, put_big)
        result.big_put = big_mib / seconds
        result.cpu_big_put = cpu / (len(big) / 2**30)
        digest = hashlib.sha256()

        def get_big() -> None:
            with http.stream("GET", base + "bench/big.bin") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes(2**20):
                    digest.update(chunk)

        seconds, cpu = _measure(server, get_big)
        result.big_get = big_mib / seconds
        result.cpu_big_get = cpu / (len(big) / 2**30)
        if digest.digest() != hashlib.sha256(big).digest():
            result.ok = False
            result.notes.append("big file corrupted")

        http.request("MKCOL", base + "bench/small/")
        bodies = [hashlib.sha256(str(i).encode()).digest() * 128 for i in range(small_count)]
        urls = [base + f"bench/small/f{index:05d}.bin" for index in range(small_count)]
        auth = basic_auth(*server.auth)
        turns: list[Turn] = []

        def put_small() -> None:
            turns.append(
                drive(Requests(urls, "PUT", auth, bodies=bodies), CONCURRENCY, small_count)
            )

        store_before = server.cpu_seconds(server.extra_pids)
        seconds, cpu = _measure(server, put_small)
        result.store_small_put = (
            (server.cpu_seconds(server.extra_pids) - store_before) * 1000 / small_count
        )
        result.small_put = small_count / seconds
        result.cpu_small_put = cpu * 1000 / small_count
        result.client_small_put = turns[-1].client_cpu * 1000 / small_count
        expected = [hashlib.sha256(body).hexdigest() for body in bodies]

        def get_small() -> None:
            turns.append(
                drive(
                    Requests(urls, headers=auth, expect_sha256=expected),
                    CONCURRENCY,
                    small_count,
                    check=False,
                )
            )

        store_before = server.cpu_seconds(server.extra_pids)
        seconds, cpu = _measure(server, get_small)
        result.store_small_get = (
            (server.cpu_seconds(server.extra_pids) - store_before) * 1000 / small_count
        )
        result.small_get = small_count / seconds
        result.cpu_small_get = cpu * 1000 / small_count
        result.client_small_get = turns[-1].client_cpu * 1000 / small_count
        bad = turns[-1].mismatches + sum(
            n for status, n in turns[-1].statuses.items() if status != "200"
        )
        if bad:
            result.ok = False
            result.notes.append(f"{bad} small files wrong")

        timings: list[float] = []
        cpus: list[float] = []
        answers: list[httpx.Response] = []

        def propfind() -> None:
            answers.append(http.request("PROPFIND", base + "bench/small/", headers={"Depth": "1"}))

        for _ in range(5):
            seconds, cpu = _measure(server, propfind)
            timings.append(seconds * 1000)
            cpus.append(cpu * 1000)
        result.entries = answers[-1].text.count("response>") // 2
        result.propfind_ms = median(timings)
        result.propfind_first_ms = timings[0]
        result.cpu_propfind = median(cpus)
        if result.entries != small_count + 1:
            result.ok = False
            result.notes.append(f"PROPFIND listed {result.entries} entries")
    return result


def _ratio(value: float, reference: float | None, *, lower_is_better: bool = False) -> str:
    if reference is None or reference == 0 or value == 0:
        return "-"
    ratio = reference / value if lower_is_better else value / reference
    return f"{ratio:.2f}x"


def table(results: dict[str, Result]) -> str:
    roost = results["Roost"]
    refs = [name for name in ("nginx", "WsgiDAV") if name in results]
    header = (
        "| metric | "
        + " | ".join(results)
        + " | "
        + " | ".join(f"Roost vs {name}" for name in refs)
    )
    lines = [header + " |", "|" + "---|" * (1 + len(results) + len(refs))]
    rows: list[tuple[str, str, str, bool]] = [
        ("PUT 256 MiB, MiB/s", "big_put", "{:.0f}", False),
        ("GET 256 MiB, MiB/s", "big_get", "{:.0f}", False),
        (f"PUT small 4 KiB, c={CONCURRENCY}, files/s", "small_put", "{:.0f}", False),
        (f"GET small 4 KiB, c={CONCURRENCY}, files/s", "small_get", "{:.0f}", False),
        ("PROPFIND Depth 1 (all entries), first, ms", "propfind_first_ms", "{:.1f}", True),
        ("PROPFIND Depth 1 (all entries), median of 5, ms", "propfind_ms", "{:.1f}", True),
        ("server CPU s per GiB PUT", "cpu_big_put", "{:.2f}", True),
        ("server CPU s per GiB GET", "cpu_big_get", "{:.2f}", True),
        ("server CPU ms per small PUT", "cpu_small_put", "{:.2f}", True),
        ("server CPU ms per small PUT, cold (the warm-up's)", "cold_cpu_small_put", "{:.2f}", True),
        ("server CPU ms per small GET", "cpu_small_get", "{:.2f}", True),
        ("server CPU ms per PROPFIND", "cpu_propfind", "{:.0f}", True),
    ]
    for label, attribute, fmt, lower in rows:
        cells = [fmt.format(getattr(result, attribute)) for result in results.values()]
        ratios = [
            _ratio(
                getattr(roost, attribute), getattr(results[name], attribute), lower_is_better=lower
            )
            for name in refs
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    if roost.store_small_put:
        lines.append(
            f"\nOf Roost's CPU per small PUT / GET, its store (PouchDB Server) used "
            f"{roost.store_small_put:.2f} / {roost.store_small_get:.2f} ms."
        )
    lines.append(
        "The load generator itself used "
        + ", ".join(
            f"{name} {r.client_small_put:.2f} / {r.client_small_get:.2f}"
            for name, r in results.items()
        )
        + " ms of CPU per small PUT / GET."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument(
        "--warm-up",
        type=int,
        default=1000,
        help="small PUTs and GETs each server takes before the measures (0: none)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-davbench-"))
    big = os.urandom(args.big_mib * 2**20)
    servers: list[Server] = []
    store: EmbeddedStore | None = None
    results: dict[str, Result] = {}
    try:
        roost, store = start_roost(work)
        servers.append(roost)
        nginx = start_nginx(work)
        if nginx is not None:
            servers.append(nginx)
        servers.append(start_wsgidav(work))
        for server in servers:
            print(f"== {server.name}", flush=True)
            results[server.name] = run(server, big, args.small, args.warm_up)
            print(results[server.name], flush=True)
    finally:
        for server in servers:
            server.stop()
        if store is not None:
            store.stop()
        shutil.rmtree(work, ignore_errors=True)
    output = table(results)
    print(output)
    broken = [f"{name}: {', '.join(r.notes)}" for name, r in results.items() if not r.ok]
    backend = (
        "Apache CouchDB (ROOST_COUCHDB_URL)"
        if os.environ.get("ROOST_COUCHDB_URL")
        else "embedded PouchDB Server 4.2.0"
    )
    body = (
        f"Roost: one `roost serve` process (uvicorn) and its store ({backend}); nginx 1.22 "
        "with dav_ext (sendfile); WsgiDAV 4.4 on cheroot with its property manager and lock "
        "storage. On loopback: httpx for the big file and PROPFIND; `bench/load.js` (Node's "
        "HTTP client, keep-alive; each body checked by its SHA-256) for the small files, "
        f"concurrency {CONCURRENCY}, "
        f"{args.big_mib} MiB big file, {args.small} x 4 KiB small files, after "
        f"{args.warm_up} small PUTs and GETs elsewhere on each server (a store just started "
        "compiles its hot code during its first thousands of requests; the row 'cold' is "
        "what those PUTs cost); PROPFIND once "
        "right after the uploads "
        "(first) and the median of 5 in a row (Roost reuses a listing read within its "
        "cache_ttl, 2 s). "
        "Server CPU counts each server and its child processes (Roost's includes its store). "
        "Ratios: higher is better for Roost. Goals (issue 3): big GET >= 0.8x nginx, "
        "PROPFIND of 2,000 entries <= 50 ms, small PUT >= 1.5x WsgiDAV.\n\n" + output
    )
    if broken:
        body += "\n\nIntegrity problems: " + "; ".join(broken)
    if not args.no_write:
        write_section("WebDAV (bench/dav.py)", body)


if __name__ == "__main__":
    main()
