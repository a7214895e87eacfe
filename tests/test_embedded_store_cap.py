"""The embedded store keeps a bounded number of databases open and reopens closed ones.

A real PouchDB Server, started through Roost's launcher with a small cap (20 databases), is
driven over HTTP with far more databases than that: every write must read back, sequences
must only grow and survive a close, open `_changes` feeds must keep their database, view
and Mango indexes must keep answering, and the store's open descriptors (read from /proc)
must stay within a bound derived from the cap — where keeping every database open would
cost several times that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.embedded_store import EmbeddedStore, StoreStartError

CAP = 20
DATABASES = 100
CONCURRENCY = 8
# An open LevelDB holds about four descriptors (LOCK, LOG, MANIFEST, its write-ahead log)
# and a table file or two once read; a request in flight holds its database open beyond
# the cap, and each connection is a socket.
FDS_PER_DATABASE = 6

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")


def _fds(pid: int) -> list[str]:
    found = []
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.append(os.readlink(entry))
        except OSError:  # closed while listing
            continue
    return found


def _open_databases(pid: int, directory: Path) -> set[str]:
    """The LevelDB directories the store holds open (each holds its LOCK file)."""
    return {
        str(Path(target).parent.relative_to(directory))
        for target in _fds(pid)
        if target.endswith("/LOCK") and target.startswith(str(directory))
    }


class Sampler:
    """The most descriptors and open databases seen in the store while a block ran."""

    def __init__(self, store: EmbeddedStore) -> None:
        assert store.pid is not None
        self.pid = store.pid
        self.directory = store.directory
        self.max_fds = 0
        self.max_open = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.max_fds = max(self.max_fds, len(_fds(self.pid)))
        self.max_open = max(self.max_open, len(_open_databases(self.pid, self.directory)))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.sample()


@dataclass(frozen=True)
class Idle:
    """The store before any test database: its descriptors and its own open databases."""

    fds: int
    open: int


IDLE: dict[int, Idle] = {}  # by store pid


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path_factory.mktemp("capped"), open_databases=CAP)
    store.start()
    assert store.pid is not None
    IDLE[store.pid] = Idle(len(_fds(store.pid)), len(_open_databases(store.pid, store.directory)))
    yield store
    store.stop()


def _idle(store: EmbeddedStore) -> Idle:
    assert store.pid is not None
    return IDLE[store.pid]


@pytest.fixture
async def client(capped: EmbeddedStore) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(base_url=capped.url, timeout=60, limits=limits) as http:
        yield http


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.url, response.text)
    return response.json()


def _seq(value: Any) -> int:
    """The numeric position of a sequence id (an integer here, `N-…` on CouchDB)."""
    return int(str(value).split("-", 1)[0])


async def _each(names: list[str], work: Any) -> None:
    queue = list(names)

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _create(client: httpx.AsyncClient, names: list[str]) -> None:
    async def create(name: str) -> None:
        _ok(await client.put(f"/{name}"))

    await _each(names, create)


async def _churn(client: httpx.AsyncClient, names: list[str], rounds: int = 1) -> None:
    """Write one new document in each database and read it back, `rounds` times over."""
    for _ in range(rounds):

        async def touch(name: str) -> None:
            doc_id = secrets.token_hex(4)
            _ok(await client.put(f"/{name}/{doc_id}", json={"churn": True}))
            assert _ok(await client.get(f"/{name}/{doc_id}"))["churn"] is True

        await _each(names, touch)


# Beyond the cap: the databases held by requests in flight, and those opened by requests
# that arrived while idle ones were being closed (a close takes a few milliseconds).
SLACK = 2 * CONCURRENCY


def _bound(idle_fds: int) -> int:
    return idle_fds + (CAP + SLACK) * FDS_PER_DATABASE + 2 * CONCURRENCY


async def test_many_databases_stay_readable_and_descriptors_bounded(
    capped: EmbeddedStore, client: httpx.AsyncClient
) -> None:
    idle_fds, idle_open = _idle(capped).fds, _idle(capped).open
    names = [f"many-{n:03d}" for n in range(DATABASES)]
    # Keeping them all open would cost about four descriptors each: far above the bound.
    assert idle_fds + DATABASES * 4 > _bound(idle_fds) * 1.5

    latest: dict[str, tuple[int, str]] = {}  # name -> (value, rev)
    seqs: dict[str, int] = {}

    async with Sampler(capped) as sampler:
        await _create(client, names)
        for value in range(4):

            async def write(name: str, value: int = value) -> None:
                doc: dict[str, Any] = {"value": value}
                if name in latest:
                    doc["_rev"] = latest[name][1]
                written = _ok(await client.put(f"/{name}/doc", json=doc))
                latest[name] = (value, written["rev"])

            async def read(name: str) -> None:
                doc = _ok(await client.get(f"/{name}/doc"))
                assert (doc["value"], doc["_rev"]) == latest[name]
                seq = _seq(_ok(await client.get(f"/{name}"))["update_seq"])
                assert seq > seqs.get(name, 0)
                seqs[name] = seq

            await _each(names, write)
            await _each(names, read)

    for name in names:
        assert _seq(_ok(await client.get(f"/{name}"))["update_seq"]) == seqs[name]
    assert sampler.max_open <= idle_open + CAP + SLACK, (sampler.max_open, idle_open)
    assert sampler.max_fds <= _bound(idle_fds), (sampler.max_fds, idle_fds)


async def test_a_longpoll_keeps_its_database_while_others_churn(
    capped: EmbeddedStore, client: httpx.AsyncClient
) -> None:
    watched = f"watched-{secrets.token_hex(3)}"
    others = [f"churn-{n:03d}" for n in range(3 * CAP)]
    _ok(await client.put(f"/{watched}"))
    await _create(client, others)
    since = _ok(await client.get(f"/{watched}"))["update_seq"]

    async with httpx.AsyncClient(base_url=capped.url, timeout=120) as polling:
        poll = asyncio.create_task(
            polling.get(f"/{watched}/_changes", params={"feed": "longpoll", "since": since})
        )
        continuous_lines: list[str] = []

        async def follow() -> None:
            params = {"feed": "continuous", "since": since, "heartbeat": 1000}
            # Uncompressed: PouchDB Server's gzip holds a continuous feed's lines back.
            headers = {"Accept-Encoding": "identity"}
            url = f"/{watched}/_changes"
            async with polling.stream("GET", url, params=params, headers=headers) as feed:
                async for line in feed.aiter_lines():
                    if line.strip():
                        continuous_lines.append(line)
                        return

        continuous = asyncio.create_task(follow())
        await _churn(client, others, rounds=3)
        assert capped.pid is not None
        assert watched in _open_databases(capped.pid, capped.directory)
        assert not poll.done()

        _ok(await client.put(f"/{watched}/news", json={"n": 1}))
        answer = await asyncio.wait_for(poll, 60)
        await asyncio.wait_for(continuous, 60)

    assert answer.status_code == 200
    assert [change["id"] for change in answer.json()["results"]] == ["news"]
    assert _seq(answer.json()["last_seq"]) == _seq(since) + 1
    assert len(continuous_lines) == 1 and '"news"' in continuous_lines[0]


async def test_changes_sequences_and_checkpoints_unchanged_after_a_reopen(
    capped: EmbeddedStore, client: httpx.AsyncClient
) -> None:
    name = f"replica-{secrets.token_hex(3)}"
    _ok(await client.put(f"/{name}"))
    result = _ok(
        await client.post(
            f"/{name}/_bulk_docs", json={"docs": [{"_id": f"d{n:02d}", "n": n} for n in range(25)]}
        )
    )
    assert all(row.get("ok") for row in result)
    _ok(await client.put(f"/{name}/_local/checkpoint", json={"last_seq": 25}))
    before = _ok(await client.get(f"/{name}/_changes", params={"since": 0}))
    info_before = _ok(await client.get(f"/{name}"))

    churned = [f"reopen-{n:03d}" for n in range(2 * CAP)]
    await _create(client, churned)
    await _churn(client, churned, rounds=2)
    assert capped.pid is not None
    assert name not in _open_databases(capped.pid, capped.directory)  # it was closed

    assert _ok(await client.get(f"/{name}/_changes", params={"since": 0})) == before
    info_after = _ok(await client.get(f"/{name}"))
    assert (info_after["update_seq"], info_after["doc_count"]) == (
        info_before["update_seq"],
        info_before["doc_count"],
    )
    assert _ok(await client.get(f"/{name}/_local/checkpoint"))["last_seq"] == 25
    _ok(await client.put(f"/{name}/after", json={}))
    latest = _ok(await client.get(f"/{name}/_changes", params={"since": before["last_seq"]}))
    assert [row["id"] for row in latest["results"]] == ["after"]
    assert _seq(latest["last_seq"]) == _seq(before["last_seq"]) + 1


async def test_views_and_mango_indexes_answer_while_databases_close(
    capped: EmbeddedStore, client: httpx.AsyncClient
) -> None:
    indexed = [f"indexed-{n:02d}" for n in range(6)]
    await _create(client, indexed)
    design = {
        "views": {"by_n": {"map": "function (doc) { if (doc.n !== undefined) emit(doc.n); }"}}
    }
    for name in indexed:
        docs = [
            {"_id": f"d{n:02d}", "n": n, "kind": "even" if n % 2 == 0 else "odd"} for n in range(10)
        ]
        _ok(await client.post(f"/{name}/_bulk_docs", json={"docs": docs}))
        _ok(await client.put(f"/{name}/_design/q", json=design))
        _ok(
            await client.post(
                f"/{name}/_index", json={"index": {"fields": ["kind"]}, "name": "k", "ddoc": "kind"}
            )
        )

    async def query(name: str) -> None:
        found = _ok(
            await client.post(
                f"/{name}/_find",
                json={"selector": {"kind": "odd"}, "use_index": "kind", "fields": ["_id"]},
            )
        )
        assert sorted(doc["_id"] for doc in found["docs"]) == [f"d{n:02d}" for n in range(1, 10, 2)]
        rows = _ok(
            await client.get(f"/{name}/_design/q/_view/by_n", params={"startkey": 7, "endkey": 9})
        )["rows"]
        assert [row["key"] for row in rows] == [7, 8, 9]

    churned = [f"viewchurn-{n:03d}" for n in range(2 * CAP)]
    await _create(client, churned)
    for _ in range(3):
        # Queries run while other databases are opened and closed around them.
        await asyncio.gather(_churn(client, churned), *(query(name) for name in indexed))
        await _each(indexed, query)
        # New documents are indexed after a close too.
        for name in indexed:
            _ok(
                await client.put(
                    f"/{name}/new-{secrets.token_hex(2)}", json={"n": 100, "kind": "new"}
                )
            )

    for name in indexed:
        found = _ok(
            await client.post(
                f"/{name}/_find", json={"selector": {"kind": "new"}, "use_index": "kind"}
            )
        )
        assert len(found["docs"]) == 3


async def test_a_database_deleted_and_created_again_under_the_cap(
    capped: EmbeddedStore, client: httpx.AsyncClient
) -> None:
    name = f"again-{secrets.token_hex(3)}"
    _ok(await client.put(f"/{name}"))
    _ok(await client.put(f"/{name}/old", json={"v": 1}))
    churned = [f"delchurn-{n:03d}" for n in range(2 * CAP)]
    await _create(client, churned)
    await _churn(client, churned)  # closes it

    assert _ok(await client.delete(f"/{name}"))["ok"] is True
    assert (await client.get(f"/{name}/old")).status_code == 404
    _ok(await client.put(f"/{name}"))
    assert (await client.get(f"/{name}/old")).status_code == 404
    _ok(await client.put(f"/{name}/new", json={"v": 2}))
    assert _ok(await client.get(f"/{name}"))["doc_count"] == 1
    # Deleted while open this time.
    assert _ok(await client.delete(f"/{name}"))["ok"] is True
    assert (await client.get(f"/{name}")).status_code == 404
    await _churn(client, churned)


def test_the_setting_reaches_the_store_and_a_bad_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOST_STORE_OPEN_DATABASES", "33")
    store = EmbeddedStore(tmp_path / "set")
    store.start()
    try:
        assert httpx.get(store.url).status_code == 200
    finally:
        store.stop()
    assert (
        "keeping at most 33 databases open" in (store.directory / "pouchdb-server.log").read_text()
    )

    monkeypatch.setenv("ROOST_STORE_OPEN_DATABASES", "many")
    refused = EmbeddedStore(tmp_path / "bad")
    with pytest.raises(
        StoreStartError, match="ROOST_STORE_OPEN_DATABASES must be a positive integer"
    ):
        refused.start()
    assert refused.pid is None


async def test_clients_gone_mid_request_leave_nothing_held(
    capped: EmbeddedStore, client: httpx.AsyncClient
) -> None:
    name = f"abandoned-{secrets.token_hex(3)}"
    _ok(await client.put(f"/{name}"))
    docs = [{"_id": f"d{n:02d}", "kind": "odd" if n % 2 else "even"} for n in range(20)]
    _ok(await client.post(f"/{name}/_bulk_docs", json={"docs": docs}))
    _ok(await client.post(f"/{name}/_index", json={"index": {"fields": ["kind"]}, "ddoc": "k"}))
    churned = [f"gonechurn-{n:03d}" for n in range(2 * CAP)]
    await _create(client, churned)
    query = {"selector": {"kind": "odd"}, "use_index": "k"}

    async def abandon(steps: int) -> None:
        # A client that gives up after `steps` turns of the loop: before, while or after
        # its request waits for the view gate or for its database.
        async with httpx.AsyncClient(base_url=capped.url, timeout=60) as gone:
            for path in (f"/{name}/_find", f"/{churned[steps % len(churned)]}/_all_docs"):
                method = "POST" if path.endswith("_find") else "GET"
                body = query if method == "POST" else None
                task = asyncio.create_task(gone.request(method, path, json=body))
                for _ in range(steps):
                    await asyncio.sleep(0)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await task

    for _ in range(3):
        await asyncio.gather(_churn(client, churned), *(abandon(steps) for steps in range(12)))

    # Nothing abandoned holds a database or the view gate: closing goes on, views answer.
    await _churn(client, churned)
    assert capped.pid is not None
    assert len(_open_databases(capped.pid, capped.directory)) <= _idle(capped).open + CAP + SLACK
    found = _ok(await client.post(f"/{name}/_find", json=query))
    assert len(found["docs"]) == 10
