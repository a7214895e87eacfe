"""http.fetch's real implementation, against HTTP servers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.apps.egress import EgressFetcher, EgressPolicy, address_refusal
from roost.apps.services import EgressDenied, FetchRequest, ServiceError, TooLarge

from .servers import EchoHandler, Server, serve


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(EchoHandler) as s:
        yield s


def allow_local(**kw: object) -> EgressFetcher:
    return EgressFetcher(EgressPolicy(allow_private_hosts=frozenset({"127.0.0.1"}), **kw))  # type: ignore[arg-type]


def get(url: str) -> FetchRequest:
    return FetchRequest("GET", url)


async def test_allow_listed_loopback_host_works(server: Server) -> None:
    resp = await allow_local().fetch(get(server.url + "/ok"), [server.url])
    assert (resp.status, resp.body) == (200, b"hello")
    assert resp.hosts == ("127.0.0.1",)


async def test_loopback_refused_unless_allow_listed(server: Server) -> None:
    with pytest.raises(EgressDenied, match="loopback"):
        await EgressFetcher().fetch(get(server.url + "/ok"), [server.url])
    assert server.hits == []  # refused before any connection


async def test_not_in_egress_is_refused(server: Server) -> None:
    with pytest.raises(EgressDenied, match="egress"):
        await allow_local().fetch(get(server.url + "/ok"), ["https://bank.example.com"])
    with pytest.raises(EgressDenied):
        await allow_local().fetch(get(server.url + "/ok"), [])
    assert server.hits == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://100.64.0.1/", "non-public"),
    ],
)
async def test_forbidden_addresses(url: str, why: str) -> None:
    fetcher = EgressFetcher()
    with pytest.raises(EgressDenied, match=why):
        await fetcher.fetch(get(url), [url.rstrip("/").split("/latest")[0]])


async def test_metadata_refused_even_when_allow_listed() -> None:
    fetcher = EgressFetcher(EgressPolicy(allow_private_hosts=frozenset({"169.254.169.254"})))
    with pytest.raises(EgressDenied, match="metadata"):
        await fetcher.fetch(get("http://169.254.169.254/"), ["http://169.254.169.254"])


async def test_a_name_resolving_to_loopback_is_refused(server: Server) -> None:
    url = f"http://localhost:{server.port}/ok"
    with pytest.raises(EgressDenied, match=r"resolves to .*loopback"):
        await EgressFetcher().fetch(get(url), [f"http://localhost:{server.port}"])

    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "127.0.0.1"]  # one public answer, one loopback

    fetcher = EgressFetcher(resolver=rebinding)
    with pytest.raises(EgressDenied, match="loopback"):
        await fetcher.fetch(get("https://api.example.com/"), ["https://api.example.com"])
    assert server.hits == []


async def test_connects_to_the_checked_address_with_the_right_host_header(
    server: Server,
) -> None:
    async def pinned(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    fetcher = EgressFetcher(
        EgressPolicy(allow_private_hosts=frozenset({"bank.test"})), resolver=pinned
    )
    url = f"http://bank.test:{server.port}/echo"
    resp = await fetcher.fetch(
        FetchRequest("POST", url, (("X-Test", "1"), ("Host", "evil.test")), b"{}"),
        [f"http://bank.test:{server.port}"],
    )
    seen = json.loads(resp.body)
    assert seen["headers"]["Host"] == f"bank.test:{server.port}"
    assert seen["headers"]["X-Test"] == "1" and seen["body"] == "{}"
    assert resp.bytes_out == 2


async def test_every_redirect_is_checked(server: Server) -> None:
    fetcher = allow_local()
    egress = [server.url]
    # To a host outside egress:
    to = "https://evil.example.com/steal"
    with pytest.raises(EgressDenied, match="redirect target"):
        await fetcher.fetch(get(f"{server.url}/redirect?to={to}"), egress)
    # To a forbidden address that *is* in egress:
    to = "http://169.254.169.254/latest"
    with pytest.raises(EgressDenied, match="metadata"):
        await fetcher.fetch(
            get(f"{server.url}/redirect?to={to}"), [*egress, "http://169.254.169.254"]
        )
    # To a name in egress that resolves to loopback but is not allow-listed:
    to = f"http://localhost:{server.port}/ok"
    with pytest.raises(EgressDenied, match="loopback"):
        await fetcher.fetch(
            get(f"{server.url}/redirect?to={to}"), [*egress, f"http://localhost:{server.port}"]
        )
    # A redirect inside the grant is followed; 303 turns POST into GET.
    resp = await fetcher.fetch(
        FetchRequest("POST", f"{server.url}/redirect?to=/echo&code=303", body=b"x"), egress
    )
    assert resp.status == 200 and json.loads(resp.body)["method"] == "GET"
    assert resp.url == f"{server.url}/echo"


async def test_redirect_loops_are_bounded(server: Server) -> None:
    fetcher = allow_local(max_redirects=2)
    hop3 = "/redirect%25253Fto%25253D/ok"
    loop = f"{server.url}/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D{hop3}"
    with pytest.raises(ServiceError, match="redirects"):
        await fetcher.fetch(get(loop), [server.url])


async def test_response_size_cap(server: Server) -> None:
    fetcher = allow_local(max_response_bytes=10_000)
    ok = await fetcher.fetch(get(f"{server.url}/big?n=10000"), [server.url])
    assert len(ok.body) == 10_000
    with pytest.raises(TooLarge):
        await fetcher.fetch(get(f"{server.url}/big?n=10001"), [server.url])
    with pytest.raises(TooLarge):  # no Content-Length: counted while streaming
        await fetcher.fetch(get(f"{server.url}/chunked?n=50000"), [server.url])


def test_address_refusal_table() -> None:
    ip = ipaddress.ip_address
    assert address_refusal(ip("93.184.215.14")) is None
    assert address_refusal(ip("2606:4700::1111")) is None
    assert address_refusal(ip("127.0.0.1"), allow_private=True) is None
    assert (
        address_refusal(ip("64:ff9b::a9fe:a9fe"), allow_private=True) == "a cloud metadata address"
    )
    assert address_refusal(ip("2002:0a00:0001::1")) == "a private address"  # 6to4 of 10.0.0.1


async def test_unreachable_port_is_an_error_not_a_crash() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(ServiceError) as exc:
        await allow_local().fetch(get(url), [f"http://127.0.0.1:{port}"])
    assert exc.value.code == "fetch_failed"


async def test_https_pins_the_checked_address_and_verifies_the_name(tmp_path: Path) -> None:
    import ssl

    from .servers import serve_tls, tls_files

    ca, cert, key = tls_files(tmp_path, "bank.test")
    trust = ssl.create_default_context(cafile=str(ca))
    with serve_tls(EchoHandler, cert, key) as server:
        origin = f"https://bank.test:{server.port}"

        async def to_loopback(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        policy = EgressPolicy(allow_private_hosts=frozenset({"bank.test"}))
        fetcher = EgressFetcher(policy, resolver=to_loopback, verify=trust)
        resp = await fetcher.fetch(get(origin + "/echo"), [origin])
        assert resp.status == 200
        assert json.loads(resp.body)["headers"]["Host"] == f"bank.test:{server.port}"
        # The certificate is checked against the name, not the pinned address.
        other = EgressFetcher(
            EgressPolicy(allow_private_hosts=frozenset({"other.test"})),
            resolver=to_loopback,
            verify=trust,
        )
        with pytest.raises(ServiceError) as exc:
            await other.fetch(
                get(f"https://other.test:{server.port}/ok"), [f"https://other.test:{server.port}"]
            )
        assert exc.value.code == "fetch_failed"
