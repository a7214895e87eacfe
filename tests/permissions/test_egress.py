"""Egress patterns: the origins a connector may reach; everything else is unreachable."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import (
    InvalidRule,
    egress_allows,
    normalise_egress_pattern,
    pattern_covers,
)

CASES: list[tuple[list[str], str, bool]] = [
    (["https://api.bank.example"], "https://api.bank.example/v1/accounts?x=1", True),
    (["https://api.bank.example"], "https://api.bank.example", True),
    (["https://api.bank.example"], "https://api.bank.example:443/x", True),
    (["https://api.bank.example"], "https://API.Bank.Example/x", True),
    (["https://api.bank.example"], "https://api.bank.example./x", True),
    (["https://api.bank.example"], "https://api.bank.example:8443/x", False),
    (["https://api.bank.example"], "http://api.bank.example/x", False),
    (["https://api.bank.example"], "https://evil.example/https://api.bank.example", False),
    (["https://api.bank.example"], "https://api.bank.example.evil.example/", False),
    (["https://api.bank.example"], "https://x.api.bank.example/", False),
    (["https://api.bank.example"], "https://user:pw@api.bank.example/", False),
    (["https://api.bank.example"], "https://api.bank.example@evil.example/", False),
    (["https://api.bank.example"], "https://evil.example\\@api.bank.example/", False),
    (["https://api.bank.example"], "https://api.bank.example:/", False),
    (["https://api.bank.example"], "https://api.bank.example:0/", False),
    (["https://api.bank.example"], "//api.bank.example/", False),
    (["https://api.bank.example"], "api.bank.example", False),
    (["https://api.bank.example"], "ftp://api.bank.example/", False),
    (["https://api.bank.example"], "https:// api.bank.example/", False),
    (["https://api.bank.example"], "https://api%2ebank.example/", False),
    (["https://api.bank.example:8443"], "https://api.bank.example:8443/x", True),
    (["https://api.bank.example:443"], "https://api.bank.example/x", True),
    (["http://localhost:8080"], "http://localhost:8080/x", True),
    (["http://localhost"], "http://localhost:80/", True),
    (["http://127.0.0.1:9000"], "http://127.0.0.1:9000/x", True),
    (["http://127.0.0.1:9000"], "http://127.0.0.01:9000/x", False),
    (["http://127.0.0.1:9000"], "http://2130706433:9000/x", False),
    (["https://[::1]:8443"], "https://[0:0::1]:8443/x", True),
    (["https://*.example.org"], "https://a.example.org/x", True),
    (["https://*.example.org"], "https://a.b.example.org/x", True),
    (["https://*.example.org"], "https://example.org/x", False),
    (["https://*.example.org"], "https://badexample.org/x", False),
    (["https://*.example.org"], "https://a.example.org.evil/x", False),
    (["https://*.example.org"], "http://a.example.org/x", False),
    (["https://bücher.de"], "https://xn--bcher-kva.de/x", True),
    (["https://xn--bcher-kva.de"], "https://BÜCHER.de/x", True),
    (["https://*.bücher.de"], "https://shop.bücher.de/x", True),
    ([], "https://example.org", False),
    (["not a pattern", "https://a.example"], "https://a.example/", True),
    (["https://a.example", "https://b.example"], "https://b.example/", True),
]


@pytest.mark.parametrize(("patterns", "url", "expected"), CASES)
def test_egress_allows(patterns: list[str], url: str, expected: bool) -> None:
    assert egress_allows(patterns, url) is expected


@pytest.mark.parametrize(
    ("pattern", "canonical"),
    [
        ("https://api.example.org", "https://api.example.org"),
        ("HTTPS://API.EXAMPLE.ORG/", "https://api.example.org"),
        ("https://api.example.org:443", "https://api.example.org"),
        ("https://api.example.org:8443", "https://api.example.org:8443"),
        ("http://localhost:80", "http://localhost"),
        ("https://*.Example.org", "https://*.example.org"),
        ("https://bücher.de", "https://xn--bcher-kva.de"),
        ("https://[0:0::1]", "https://[::1]"),
        ("https://example.org.", "https://example.org"),
    ],
)
def test_normalise(pattern: str, canonical: str) -> None:
    assert normalise_egress_pattern(pattern) == canonical
    assert normalise_egress_pattern(canonical) == canonical


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("example.org", "scheme"),
        ("ftp://example.org", "scheme"),
        ("https://example.org/path", "origin only"),
        ("https://example.org?q", "origin only"),
        ("https://user@example.org", "credentials"),
        ("https://*", "leftmost"),
        ("https://*.org", "two labels"),
        ("https://a.*.example.org", "leftmost"),
        ("https://*example.org", "leftmost"),
        ("https://**.example.org", "leftmost"),
        ("https://*.127.0.0.1", "IP"),
        ("https://example.org:99999", "range"),
        ("https://example.org:0", "range"),
        ("https://example.org:abc", "port"),
        ("https://exa mple.org", "whitespace"),
        ("https://", "empty"),
        ("https://-bad-.example", "label"),
        ("https://1.2.3", "IPv4"),
    ],
)
def test_invalid_patterns(pattern: str, why: str) -> None:
    with pytest.raises(InvalidRule, match=why):
        normalise_egress_pattern(pattern)


@pytest.mark.parametrize(
    ("parent", "child", "expected"),
    [
        ("https://a.example", "https://a.example", True),
        ("https://a.example", "https://A.EXAMPLE:443", True),
        ("https://*.example.org", "https://a.example.org", True),
        ("https://*.example.org", "https://*.a.example.org", True),
        ("https://*.example.org", "https://*.example.org", True),
        ("https://*.example.org", "https://example.org", False),
        ("https://a.example.org", "https://*.example.org", False),
        ("https://a.example", "http://a.example", False),
        ("https://a.example", "https://a.example:444", False),
        ("https://*.example.org", "https://*.badexample.org", False),
        ("garbage", "https://a.example", False),
    ],
)
def test_pattern_covers(parent: str, child: str, expected: bool) -> None:
    assert pattern_covers(parent, child) is expected


labels = st.sampled_from(["a", "b", "api", "example", "org", "x-y"])
hosts = st.lists(labels, min_size=1, max_size=4).map(".".join)
patterns = st.builds(
    lambda scheme, wildcard, host, port: f"{scheme}://{'*.' if wildcard else ''}{host}{port}",
    st.sampled_from(["https", "http"]),
    st.booleans(),
    hosts.filter(lambda h: "." in h),
    st.sampled_from(["", ":443", ":80", ":8443"]),
)
urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["https", "http"]),
    hosts,
    st.sampled_from(["", ":443", ":80", ":8443"]),
    st.sampled_from(["", "/", "/x?y=1"]),
)


@settings(max_examples=300, deadline=None)
@given(patterns, patterns, urls)
def test_covering_is_sound(parent: str, child: str, url: str) -> None:
    """If `parent` covers `child`, no URL reachable under child is unreachable under parent."""
    if pattern_covers(parent, child) and egress_allows([child], url):
        assert egress_allows([parent], url)
