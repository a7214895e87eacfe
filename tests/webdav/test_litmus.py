"""litmus, the WebDAV conformance suite (Debian `litmus`), against /dav/files/."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest

from tests.webdav.conftest import DavSite

SUITES = ["basic", "copymove", "props", "locks", "http"]


@pytest.mark.skipif(shutil.which("litmus") is None, reason="litmus is not installed")
@pytest.mark.parametrize("suite", SUITES)
def test_litmus_suite_passes(dav_site: DavSite, suite: str, tmp_path) -> None:
    with dav_site.client() as http:
        response = http.request("MKCOL", f"/dav/files/litmus-{suite}/")
        assert response.status_code in (201, 405)
    result = subprocess.run(
        ["litmus", f"{dav_site.url}litmus-{suite}/", "user", dav_site.password],
        env={"TESTS": suite, "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    summary = re.findall(
        r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", output
    )
    assert summary, output
    failed = sum(int(row[3]) for row in summary)
    assert failed == 0, output
    assert result.returncode == 0, output


def test_options_advertises_class_2(dav_site: DavSite) -> None:
    response = httpx.options(dav_site.url)
    assert response.status_code == 200
    assert response.headers["DAV"] == "1, 2"
    assert response.headers["MS-Author-Via"] == "DAV"
    root = httpx.options(dav_site.base + "/")
    assert root.status_code == 200 and root.headers["DAV"] == "1, 2"
