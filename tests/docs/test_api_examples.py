"""The request/response examples of docs/api/*.md, run against a live Roost server.

Documentation is a contract (Datasette's habit): each page's examples run in document order
as one scenario on a fresh instance, over real TCP to uvicorn and the real store, and each
answer is checked against the documented one (docs/api/README.md says how they are written
and compared). An example on which the page is right and the server wrong is marked
`known-difference` in the page and reported here as xfail with its reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from roost.instances import Instance
from tests.conftest import LiveServer
from tests.docs.api_examples import (
    Answer,
    Example,
    ExampleFormatError,
    Page,
    parse_page,
)
from tests.docs.api_matching import Bindings, compare_json, load_documented_json

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"
# Headers whose value is the moment or the machine, never the contract.
VOLATILE_HEADERS = {"date", "server"}
# A deadline for a realtime frame, not a measure: generous on a shared two-core machine.
SOCKET_WAIT = 30.0


def _load() -> tuple[list[Page], list[str]]:
    pages: list[Page] = []
    errors: list[str] = []
    for path in sorted(DOCS.glob("*.md")):
        if path.name == "README.md":
            continue
        try:
            pages.append(parse_page(path))
        except ExampleFormatError as error:
            errors.append(str(error))
    return pages, errors


PAGES, FORMAT_ERRORS = _load()
EXAMPLES = [example for page in PAGES for example in page.examples]


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)


class Scenarios:
    """Runs each page's examples once, in order, and keeps each example's outcome."""

    def __init__(
        self,
        live_server: LiveServer,
        new_instance: Callable[..., Awaitable[Instance]],
        issue_token: Callable[..., Awaitable[str]],
    ) -> None:
        self.live_server = live_server
        self.new_instance = new_instance
        self.issue_token = issue_token
        self.outcomes: dict[str, Outcome] = {}

    async def outcome(self, example: Example) -> Outcome:
        if example.name not in self.outcomes:
            page = next(page for page in PAGES if page.name == example.page)
            await self._run(page)
        return self.outcomes[example.name]

    async def _run(self, page: Page) -> None:
        instance = await self.new_instance("docs")
        token = None
        if page.setup.token_scope:
            token = await self.issue_token(instance, page.setup.token_scope, ttl_seconds=3600)
        bindings = Bindings({page.setup.instance: instance.domain})
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{self.live_server.port}", timeout=60
            ) as http,
            PageSocket(self.live_server.port, instance.domain) as sockets,
        ):
            ordered = [e for e in page.examples if e.marker != "last"]
            ordered += [e for e in page.examples if e.marker == "last"]
            for example in ordered:
                outcome = Outcome()
                self.outcomes[example.name] = outcome
                if example.marker == "skip":
                    continue
                try:
                    outcome.errors = await self._play(example, http, sockets, bindings, token)
                except (httpx.HTTPError, OSError, ValueError, AssertionError) as error:
                    # Reported on this example; the scenario goes on with the next one.
                    outcome.errors = [f"could not run: {error!r}"]

    async def _play(
        self,
        example: Example,
        http: httpx.AsyncClient,
        sockets: PageSocket,
        bindings: Bindings,
        token: str | None,
    ) -> list[str]:
        if example.frames:
            return await sockets.play(example, bindings, token)
        if example.answer is None:
            return []
        page = next(page for page in PAGES if page.name == example.page)
        host = bindings.substitute(page.setup.instance)  # the test instance's host
        request = _build(http, example, bindings, host, token)
        if page.setup.https:
            # What a TLS proxy in front adds; uvicorn trusts it from the loopback.
            request.headers["X-Forwarded-Proto"] = "https"
        response = await http.send(request)
        unordered = example.marker == "unordered"
        return _compare(example.answer, response, bindings, unordered)


class PageSocket:
    """The page's one realtime socket, opened by its first `websocket` example and kept
    open across the page's other examples (whose writes it then sees)."""

    def __init__(self, port: int, domain: str) -> None:
        self.port = port
        self.domain = domain
        self.socket: ClientConnection | None = None
        self.stack = AsyncExitStack()

    async def __aenter__(self) -> PageSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()

    async def play(self, example: Example, bindings: Bindings, token: str | None) -> list[str]:
        if self.socket is None:
            self.socket = await self.stack.enter_async_context(
                connect(
                    f"ws://{self.domain}:{self.port}{example.request.target}",
                    host="127.0.0.1",
                    port=self.port,
                    subprotocols=[Subprotocol("io.cozy.websocket")],
                    open_timeout=SOCKET_WAIT,
                )
            )
        errors: list[str] = []
        for direction, text in example.frames:
            documented = load_documented_json(text)
            if direction == ">":
                if documented.get("method") == "AUTH" and "…" in documented.get("payload", ""):
                    documented["payload"] = token  # the page's token, shown shortened
                await self.socket.send(bindings.substitute(json.dumps(documented)))
                continue
            try:
                frame = json.loads(await asyncio.wait_for(self.socket.recv(), SOCKET_WAIT))
            except TimeoutError:
                return [*errors, f"no frame within {SOCKET_WAIT} s, expected {text}"]
            errors += compare_json(documented, frame, bindings)
        return errors


def _build(
    http: httpx.AsyncClient,
    example: Example,
    bindings: Bindings,
    host: str,
    token: str | None,
) -> httpx.Request:
    documented = example.request
    headers: list[tuple[str, str]] = [("Host", host)]
    credentials = False
    content_type = ""
    for name, value in documented.headers:
        lowered = name.lower()
        if lowered in ("host", "content-length"):
            continue  # the instance's own host; httpx counts the body itself
        if lowered == "authorization" and "…" in value:
            if token is None:
                raise AssertionError(f"{example.name}: elided credentials but no page token")
            value = f"Bearer {token}"
        if lowered in ("authorization", "cookie"):
            credentials = True
        if lowered == "content-type":
            content_type = value
        headers.append((name, bindings.substitute(value)))
    if not credentials and token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    body = bindings.substitute(documented.body)
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = body.replace("\n", "")  # form bodies are wrapped for reading only
    return http.build_request(
        documented.method,
        bindings.substitute(documented.target),
        headers=headers,
        content=body.encode() if body else None,
    )


def _compare(
    answer: Answer, response: httpx.Response, bindings: Bindings, unordered: bool
) -> list[str]:
    if response.status_code != answer.status:
        return [
            f"status: documented {answer.status}, got {response.status_code}: {response.text[:300]}"
        ]
    errors: list[str] = []
    for name, value in answer.headers:
        lowered = name.lower()
        if lowered in VOLATILE_HEADERS:
            continue
        if lowered == "set-cookie":
            cookie = value.split("=", 1)[0]
            sent = [
                v for v in response.headers.get_list("set-cookie") if v.startswith(cookie + "=")
            ]
            if not any(bindings.match_text(value, candidate) for candidate in sent):
                errors.append(f"Set-Cookie: documented {value!r}, got {sent!r}")
            continue
        actual = response.headers.get(name)
        if actual is None or not bindings.match_text(value, actual):
            errors.append(f"{name}: documented {value!r}, got {actual!r}")
    if not answer.body:
        return errors
    try:
        documented = load_documented_json(answer.body)
    except ValueError:
        if not bindings.match_text(answer.body, response.text):
            errors.append(f"body: documented {answer.body!r}, got {response.text[:300]!r}")
        return errors
    try:
        actual = response.json()
    except ValueError:
        return [*errors, f"body: documented JSON, got {response.text[:300]!r}"]
    return errors + compare_json(documented, actual, bindings, unordered=unordered)


@pytest.fixture(scope="module")
def scenarios(
    live_server: LiveServer,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
) -> Scenarios:
    return Scenarios(live_server, new_instance, issue_token)


def test_every_page_follows_the_convention() -> None:
    assert not FORMAT_ERRORS, "\n".join(FORMAT_ERRORS)
    assert {page.name for page in PAGES} >= {"auth.md", "data.md", "files.md", "oauth.md"}
    for page in PAGES:
        if page.examples:
            assert page.setup.declared, f"{page.name}: say what the examples run as"
        for example in page.examples:
            if example.marker is not None:
                assert example.reason, f"{example.name}: a marker says why"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
async def test_example(example: Example, scenarios: Scenarios) -> None:
    if example.marker == "skip":
        pytest.skip(example.reason)
    outcome = await scenarios.outcome(example)
    if example.marker == "known-difference":
        if outcome.errors:
            pytest.xfail(f"{example.reason}: {'; '.join(outcome.errors)}")
        pytest.fail(f"{example.name} is marked known-difference but now agrees: remove the marker")
    assert not outcome.errors, f"{example.name} ({example.heading}):\n" + "\n".join(outcome.errors)
