"""The machinery of tests/test_robustness.py: a seeded instance, principals, probes, checks.

A probe is one HTTP request sent in-process to the real app (real PouchDB Server behind
it). `Site.send` never lets an application exception escape: a crash becomes an `Outcome`
with status 500 and the traceback, so a failing assertion shows what broke and where.
`Site.snapshot` records every database of the instance (document counts and update
sequence) and the instance's blobs on disk, to prove a refused request wrote nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import traceback
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
from starlette.routing import BaseRoute, Route

from roost.access_log import ACCESS_DOCTYPE
from roost.app import route_table
from roost.app_passwords import APP_PASSWORDS_DOCTYPE
from roost.couch import quote_db
from roost.errors import NotFound
from roost.instances import Instance
from roost.services import Services
from roost.sessions import COOKIE_NAME

ITEMS: Final = "org.example.items"  # no schema: any JSON object is a valid document
MISSING_ID: Final = "robustness-missing-id"

# -- what the route table holds ------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One method of one route of `roost.app.route_table()`."""

    template: str  # the route's path format, e.g. "/data/{doctype}/{docid}"
    method: str
    params: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def is_dav(self) -> bool:
        return self.template.startswith("/dav/")


def endpoints(routes: Iterable[BaseRoute] | None = None) -> list[Endpoint]:
    """Every (route, method) pair, HEAD only where a route lists it besides GET."""
    found: list[Endpoint] = []
    seen: set[tuple[str, str]] = set()
    for route in routes if routes is not None else route_table():
        if not isinstance(route, Route) or route.methods is None:
            continue  # AppOriginRoute: only on app origins, probed on its own
        for method in sorted(route.methods):
            if (route.path_format, method) in seen:
                continue
            seen.add((route.path_format, method))
            found.append(Endpoint(route.path_format, method, tuple(route.param_convertors)))
    return found


def allowed_methods(path: str) -> set[str]:
    """The methods some route of the table answers for a concrete (decoded) path."""
    from starlette.routing import Match

    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    methods: set[str] = set()
    for route in route_table():
        if isinstance(route, Route):
            match, _ = route.matches(scope)
            if match != Match.NONE and route.methods:
                methods |= route.methods
    return methods


# -- absurd input --------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A path segment as it goes on the wire (already percent-encoded)."""

    label: str
    wire: str
    # True: no route may accept it (the answer must be a 4xx); False: it is a legal, if
    # odd, identifier, and only "no 5xx, JSON errors" is required.
    never_valid: bool


ABSURD_IDS: Final = (
    Segment("very-long", "x" * 5000, True),
    Segment("unicode", quote("é😀中文-ünï"), False),
    Segment("nul", "a%00b", True),
    Segment("control-chars", "%01%02%1b", True),
    Segment("newline", "a%0Ab", True),
    Segment("del-char", "a%7Fb", False),
    Segment("dot", "%2E", True),
    Segment("dotdot", "%2E%2E", True),
    Segment("dotdot-traversal", "..%2F..%2Fetc%2Fpasswd", True),
    Segment("encoded-slash", "a%2Fb", False),
    Segment("double-encoded-slash", "a%252Fb", False),
    Segment("design-doc", "_design%2Fx", True),
    Segment("underscore", "_all_docs", False),
    Segment("local-doc", "_local%2Fx", False),  # /data/{doctype}/_local/x exists
    Segment("space", "%20", False),
    Segment("json-ish", quote('{"$gt":null}'), False),
    Segment("backslash", "a%5Cb", False),
)

INVALID_DOCTYPES: Final = (
    Segment("uppercase", "IO.COZY.CONTACTS", True),
    Segment("double-dot", "io..cozy", True),
    Segment("leading-dot", ".io.cozy", True),
    # A valid name whose database name is too long for the store: refused wherever a
    # database is named (test_overlong_doctypes_never_reach_the_store); trivial routes
    # that name none (`_ensure_full_commit`, an empty `_revs_diff`) may answer 2xx.
    Segment("too-long", "a." + "b" * 400, False),
    Segment("underscore", "_users", True),
    Segment("replicator", "_replicator", True),
    Segment("space", "io.cozy%20x", True),
    Segment("unicode", quote("io.cozy.é"), True),
    Segment("nul", "io.cozy%00x", True),
    Segment("dotdot", "%2E%2E", True),
    Segment("slash", "io%2Fcozy", True),
    Segment("sessions", "io.cozy.sessions", True),
    Segment("permissions", "io.cozy.permissions", True),
)


def _deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@dataclass(frozen=True)
class Body:
    label: str
    content: bytes
    content_type: str | None = "application/json"


# Bodies no JSON route may accept: each must be refused with a 4xx and no write.
MALFORMED_BODIES: Final = (
    Body("empty", b""),
    Body("whitespace", b" \r\n\t "),
    Body("truncated-object", b'{"a": '),
    Body("truncated-array", b"[1, 2"),
    Body("truncated-string", b'{"a": "abc'),
    Body("trailing-garbage", b'{"a": 1} xyz'),
    Body("single-quotes", b"{'a': 1}"),
    Body("bare-word", b"nul"),
    Body("invalid-utf8", b'{"a": "\xff\xfe"}'),
    Body("utf16-bom", '{"a": 1}'.encode("utf-16")),
    Body("nan", b'{"a": NaN}'),
    Body("infinity", b'{"a": Infinity}'),
    Body("overflow-float", b'{"a": 1e999}'),
    Body("huge-int", b'{"a": 1' + b"0" * 5000 + b"}"),
    Body("lone-surrogate", b'{"a": "\\ud800"}'),
    Body("deep-array-100k", _deep_array(100_000)),
    Body("deep-object-50k", _deep_object(50_000)),
    Body("deep-array-1500", _deep_array(1500)),
    Body("non-object-number", b"42"),
    Body("non-object-string", b'"just a string"'),
    Body("non-object-null", b"null"),
    Body("non-object-true", b"true"),
    Body("non-object-array", b"[]"),
    Body("xml-content-type", b'{"a": 1}', "application/xml"),
    Body("octet-content-type", b'{"a": 1}', "application/octet-stream"),
    Body("garbage-content-type", b'{"a": 1}', "\x01/\x02"),
)


@dataclass(frozen=True)
class QueryProbe:
    label: str
    params: tuple[tuple[str, str], ...]


# Bad values of the query parameters the API reads, sent to every route that reads them.
BAD_QUERIES: Final = (
    QueryProbe("limit-negative", (("limit", "-1"),)),
    QueryProbe("limit-text", (("limit", "ten"),)),
    QueryProbe("limit-float", (("limit", "1.5"),)),
    QueryProbe("limit-huge", (("limit", "9" * 40),)),
    QueryProbe("skip-negative", (("skip", "-5"),)),
    QueryProbe("skip-huge", (("skip", "9" * 40),)),
    QueryProbe("skip-text", (("skip", "1e3"),)),
    QueryProbe("page-limit-zero", (("page[limit]", "0"),)),
    QueryProbe("page-limit-negative", (("page[limit]", "-3"),)),
    QueryProbe("page-limit-huge", (("page[limit]", "9" * 40),)),
    QueryProbe("page-limit-unicode-digits", (("page[limit]", "١٢"),)),
    QueryProbe("page-cursor-control", (("page[cursor]", "\x00\x01"),)),
    QueryProbe("rev-garbage", (("rev", "garbage"),)),
    QueryProbe("rev-stale", (("rev", "1-00000000000000000000000000000000"),)),
    QueryProbe("rev-huge", (("rev", "9" * 400 + "-abc"),)),
    QueryProbe("open-revs-garbage", (("open_revs", "[garbage"),)),
    QueryProbe("open-revs-object", (("open_revs", '{"a":1}'),)),
    QueryProbe("open-revs-deep", (("open_revs", "[" * 5000 + "]" * 5000),)),
    QueryProbe("revs-not-bool", (("revs", "maybe"),)),
    QueryProbe("conflicts-not-bool", (("conflicts", "2"),)),
    QueryProbe("include-docs-not-bool", (("include_docs", "yes"),)),
    QueryProbe("descending-not-bool", (("descending", "-1"),)),
    QueryProbe("keys-not-json", (("keys", "[a,b"),)),
    QueryProbe("keys-object", (("keys", '{"a": 1}'),)),
    QueryProbe("keys-numbers", (("keys", "[1, 2]"),)),
    QueryProbe("keys-deep", (("keys", "[" * 5000 + "]" * 5000),)),
    QueryProbe("keys-lone-surrogate", (("keys", '["\\ud800"]'),)),
    QueryProbe("startkey-not-json", (("startkey", "abc"),)),
    QueryProbe("startkey-number", (("startkey", "42"),)),
    QueryProbe("endkey-nan", (("endkey", "NaN"),)),
    QueryProbe("since-garbage", (("since", "[garbage"),)),
    QueryProbe("since-control", (("since", "\x00"),)),
    QueryProbe("feed-unknown", (("feed", "firehose"),)),
    QueryProbe("timeout-text", (("feed", "longpoll"), ("timeout", "soon"))),
    QueryProbe("heartbeat-negative", (("heartbeat", "-1"),)),
    QueryProbe("style-unknown", (("style", "everything"),)),
    QueryProbe("filter-unknown", (("filter", "_view"),)),
    QueryProbe("doc-ids-garbage", (("filter", "_doc_ids"), ("doc_ids", "[x"))),
    QueryProbe("type-unknown", (("Type", "symlink"), ("Name", "x"))),
    QueryProbe("name-dotdot", (("Type", "directory"), ("Name", ".."))),
    QueryProbe("name-slash", (("Type", "directory"), ("Name", "a/b"))),
    QueryProbe("name-nul", (("Type", "directory"), ("Name", "a\x00b"))),
    QueryProbe("name-empty", (("Type", "directory"), ("Name", ""))),
    QueryProbe("name-too-long", (("Type", "directory"), ("Name", "n" * 2000))),
    QueryProbe("tags-control", (("Type", "directory"), ("Name", "t"), ("Tags", "\x01"))),
    QueryProbe(
        "created-at-garbage", (("Type", "directory"), ("Name", "c"), ("CreatedAt", "yesterday"))
    ),
    QueryProbe("updated-at-garbage", (("UpdatedAt", "2024-13-45T99:99:99Z"),)),
    QueryProbe("size-negative", (("Type", "file"), ("Name", "s"), ("Size", "-1"))),
    QueryProbe("size-text", (("Type", "file"), ("Name", "s"), ("Size", "big"))),
    QueryProbe(
        "executable-not-bool", (("Type", "file"), ("Name", "e"), ("Executable", "sometimes"))
    ),
    QueryProbe("dl-not-bool", (("Dl", "perhaps"),)),
    QueryProbe("path-relative", (("Path", "relative/path"),)),
    QueryProbe("path-dotdot", (("Path", "/../../etc/passwd"),)),
    QueryProbe("path-nul", (("Path", "/a\x00b"),)),
    QueryProbe("path-empty", (("Path", ""),)),
    QueryProbe("path-long", (("Path", "/" + "a/" * 2000),)),
    QueryProbe("access-limit-zero", (("limit", "0"),)),
    QueryProbe("before-garbage", (("before", "\x00not-a-key"),)),
    QueryProbe("app-control", (("app", "\x00"),)),
    QueryProbe("worker-garbage", (("worker", "../../x"),)),
    QueryProbe("consent-true", (("consent", "true"),)),
    QueryProbe("redirect-absolute", (("redirect", "https://evil.example/"),)),
    QueryProbe("repeated-param", (("limit", "1"), ("limit", "x"))),
    QueryProbe("unknown-params", (("zzz", "\x00"), ("__proto__", "{}"))),
)


# -- outcomes and the checks on them -------------------------------------------------------


@dataclass
class Outcome:
    method: str
    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    crash: str | None = None  # the traceback when the app raised (project frames only)
    label: str = ""  # which variant of a probe family this was

    def describe(self) -> str:
        text = f"{self.method} {self.url[:300]} -> {self.status}"
        if self.label:
            text = f"[{self.label}] {text}"
        if self.crash:
            return f"{text}\n{self.crash}"
        return f"{text} {self.body[:300]!r}"

    def json(self) -> Any:
        return json.loads(self.body)


JSON_TYPES: Final = ("application/json", "application/vnd.api+json")


def problem(
    outcome: Outcome,
    *,
    json_errors: bool = True,
    allowed_5xx: Iterable[int] = (),
    reason_keys: tuple[str, ...] = ("reason",),
) -> str | None:
    """Why this answer breaks the rule (a 5xx, or a 4xx without a JSON reason), or None.

    OAuth 2 protocol routes may say why in "error_description" (RFC 6749 §5.2).
    """
    if outcome.crash is not None or (outcome.status >= 500 and outcome.status not in allowed_5xx):
        return f"server error: {outcome.describe()}"
    if not json_errors or not 400 <= outcome.status < 500 or outcome.method == "HEAD":
        return None
    content_type = outcome.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in JSON_TYPES:
        return f"{outcome.status} is not JSON ({content_type!r}): {outcome.describe()}"
    try:
        payload = outcome.json()
    except ValueError:
        return f"{outcome.status} has an invalid JSON body: {outcome.describe()}"
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("error"), str)
        and any(isinstance(payload.get(key), str) and payload[key] for key in reason_keys)
    ):
        return f"{outcome.status} body lacks error/{'|'.join(reason_keys)}: {outcome.describe()}"
    return None


def problems(outcomes: Iterable[Outcome], **kwargs: Any) -> list[str]:
    return [p for p in (problem(o, **kwargs) for o in outcomes) if p is not None]


# -- the seeded instance -------------------------------------------------------------------


@dataclass
class Snapshot:
    databases: dict[str, tuple[int, int, str]]
    blobs: set[Path]
    doctypes: tuple[str, ...] | None  # what was looked at (None: every database)

    def changes_since(self, before: Snapshot) -> list[str]:
        out = []
        for db in sorted(set(self.databases) | set(before.databases)):
            old, new = before.databases.get(db), self.databases.get(db)
            if old == new:
                continue
            if old is None and new is not None and new[:2] == (0, 0):
                continue  # an empty database appearing is not a written document
            out.append(f"{db}: {old} -> {new}")
        for path in sorted(self.blobs ^ before.blobs):
            out.append(f"blob {'added' if path in self.blobs else 'removed'}: {path}")
        return out


# Databases every request may legitimately touch: the access log of non-owner requests.
_UNWATCHED: Final = (ACCESS_DOCTYPE,)
# Databases whose documents an authenticated request may update as bookkeeping (an app
# password's `last_used_at`): there only the number of documents is compared.
# The failed-login limiter keeps one counter document beside the sessions
# (stack/login_limiter.py), which a refused login updates on purpose: sessions are compared
# by their number, that document left out.
SESSIONS_DOCTYPE: Final = "io.cozy.sessions"
LOGIN_FAILURES_ID: Final = "login-failures"
_COUNTS_ONLY: Final = (APP_PASSWORDS_DOCTYPE, SESSIONS_DOCTYPE)


@dataclass
class Site:
    """A fresh instance with documents, files and principals to aim requests at."""

    app: Any
    services: Services
    instance: Instance
    other: Instance
    session_cookie: str
    tokens: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, str] = field(default_factory=dict)
    timeout: float = 15.0
    _resolved: dict[str, str] = field(default_factory=dict)

    # -- sending ---------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(
            transport=transport, base_url=f"http://{self.instance.domain}", timeout=self.timeout
        )

    def auth(self, principal: str) -> dict[str, str]:
        """Headers for a named principal: "owner", "anonymous", or a token of `tokens`."""
        if principal == "owner":
            return {"cookie": f"{COOKIE_NAME}={self.session_cookie}"}
        if principal == "anonymous":
            return {}
        return {"authorization": f"Bearer {self.tokens[principal]}"}

    async def send(
        self,
        method: str,
        url: str,
        *,
        principal: str = "owner",
        headers: Mapping[str, str | bytes] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        params: Iterable[tuple[str, str]] | None = None,
        host: str | bytes | None = None,
        label: str = "",
    ) -> Outcome:
        all_headers: dict[str, str | bytes] = {**self.auth(principal), **(headers or {})}
        if host is not None:
            all_headers["host"] = host
        async with self.client() as http:
            request = http.build_request(
                method,
                url,
                # httpx's stub takes str or bytes values, not both in one mapping; its
                # runtime takes both, and raw bytes (a latin-1 Host) are the point here.
                headers=all_headers,  # type: ignore[arg-type]
                content=content,
                params=list(params) if params is not None else None,
            )
            shown = str(request.url)
            try:
                # In-process transport: no socket timeout applies, so a hang is caught here.
                response = await asyncio.wait_for(http.send(request), self.timeout)
            except TimeoutError:
                crash = f"no answer within {self.timeout} s"
                return Outcome(method, shown, 500, httpx.Headers(), b"", crash, label)
            except Exception as error:  # the app crashed: that is the finding, with its frames
                crash = _crash_summary(error)
                return Outcome(method, shown, 500, httpx.Headers(), b"", crash, label)
            return Outcome(
                method, shown, response.status_code, response.headers, response.content, None, label
            )

    # -- state -----------------------------------------------------------------------------

    async def snapshot(self, doctypes: Iterable[str] | None = None) -> Snapshot:
        """The instance's state: every database, or only those of `doctypes` (cheaper)."""
        couch = self.services.couch
        if doctypes is None:
            names = await self._all_databases()
        else:
            doctypes = tuple(doctypes)
            names = [self.instance.db(doctype) for doctype in doctypes]
        counts_only = {self.instance.db(doctype) for doctype in _COUNTS_ONLY}
        databases: dict[str, tuple[int, int, str]] = {}
        for db in names:
            try:
                info = await couch.json_request("GET", f"/{quote_db(db)}")
            except NotFound:
                continue
            count = int(info.get("doc_count", 0))
            if db == self.instance.db(SESSIONS_DOCTYPE) and await couch.get_doc_or_none(
                db, LOGIN_FAILURES_ID
            ):
                count -= 1  # the failed-login counter: a refused login is meant to write it
            databases[db] = (
                count,
                int(info.get("doc_del_count", 0)),
                "-" if db in counts_only else str(info.get("update_seq")),
            )
        root = self.services.config.files_dir
        blobs = {p for p in (root / self.instance.domain).rglob("*") if p.is_file()}
        temp = root / ".tmp"
        if temp.exists():
            blobs |= {p for p in temp.rglob("*") if p.is_file()}
        return Snapshot(databases, blobs, doctypes)

    async def _all_databases(self) -> list[str]:
        couch = self.services.couch
        prefix = self.instance.prefix
        skipped = {self.instance.db(doctype) for doctype in _UNWATCHED}
        names: list[str] = []
        for listed in await couch.all_dbs():
            if not listed.startswith(prefix):
                continue
            if listed not in self._resolved:
                # PouchDB Server lists `p/io-cozy-x` as `pio-cozy-x` (CouchClient.databases_under).
                real = listed
                if not listed.startswith(prefix + "/"):
                    candidate = f"{prefix}/{listed[len(prefix) :]}"
                    real = candidate if await couch.db_exists(candidate) else ""
                self._resolved[listed] = real
            if self._resolved[listed] and self._resolved[listed] not in skipped:
                names.append(self._resolved[listed])
        return names

    # -- path filling ----------------------------------------------------------------------

    def fill(self, endpoint: Endpoint, **overrides: str) -> str:
        """The endpoint's URL with seeded values (or `overrides`, already on-the-wire)."""
        values = {name: quote(self.valid_param(name), safe="") for name in endpoint.params}
        values.update(overrides)
        return endpoint.template.format(**values)

    def valid_param(self, name: str) -> str:
        fixed = {
            "doctype": ITEMS,
            "docid": self.seeds["item_id"],
            "file_id": self.seeds["file_id"],
            "dir_id": self.seeds["dir_id"],
            "version_id": self.seeds["version_id"],
            "trigger_id": MISSING_ID,
            "job_id": MISSING_ID,
            "worker": "robustness-worker",
            "slug": "robustnessapp",
            "staging": "0123456789abcdef",
            "password_id": self.seeds["password_id"],
            "localid": "robustness-checkpoint",
            "path": "robust-dir/a.txt",
        }
        # A parameter this suite does not know yet (a new route) gets an unknown id.
        return fixed.get(name, MISSING_ID)


def _crash_summary(error: BaseException) -> str:
    """The exception and the frames of Roost's own code (not the framework's, not ours)."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if "/lib/python" not in frame.filename and "/tests/" not in frame.filename
    ]
    lines = [f"  {frame.filename}:{frame.lineno} in {frame.name}: {frame.line}" for frame in frames]
    return "\n".join([*lines[-6:], f"{type(error).__name__}: {str(error)[:300]}"])


def basic(user: str | bytes, password: str | bytes) -> str:
    raw = (user.encode() if isinstance(user, str) else user) + b":"
    raw += password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(raw).decode()


def unsigned_jwt(claims: Mapping[str, Any]) -> str:
    def part(value: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
