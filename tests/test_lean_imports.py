"""What a Roost process loads: the server's modules without httpx's command line,
cryptography or Pillow until they are used, and still HS256 tokens, sealed connector
credentials and registry signatures when they are."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def run_fresh(code: str) -> dict[str, object]:
    """`code` in a new interpreter (this process already loaded everything); its last
    line prints a JSON answer."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_the_server_starts_without_the_libraries_it_does_not_call() -> None:
    loaded = run_fresh(
        """
        import json, sys
        import roost.app, roost.cli, roost.serve, uvicorn
        left_out = ("cryptography", "PIL", "rich", "pygments", "httpx._main", "watchfiles")
        print(json.dumps({m: sys.modules.get(m) is not None for m in left_out}))
        """
    )
    assert loaded == {
        "cryptography": False,
        "PIL": False,
        "rich": False,
        "pygments": False,
        "httpx._main": False,
        "watchfiles": False,
    }


def test_what_was_left_out_still_works_when_used() -> None:
    worked = run_fresh(
        """
        import json, sys, tempfile
        from pathlib import Path
        import roost.app
        from roost.appstore.accounts import AccountVault
        from roost.appstore.signing import generate_key_pair
        from roost.instances import Instance
        from roost.permissions.tokens import issue_token, verify_token

        signing = {"secret": b"k" * 32, "issuer": "alice.example", "stamp": "1"}
        token = issue_token(audience="cli", subject="x", ttl=None, **signing)
        claims = verify_token(token, **signing)
        instance = Instance(
            "alice.example", "p_", "", b"s" * 32, "1", None, "k" * 64, "2026-12-07", "1-a"
        )
        vault = AccountVault(None)
        sealed = vault.seal(instance, "acc", "bank", {"password": "secret"})
        opened = vault.open(instance, "acc", "bank", sealed)
        with tempfile.TemporaryDirectory() as tmp:
            key = generate_key_pair(Path(tmp) / "key")
            signed = key.public.verify(key.sign(b"index"), b"index")
        print(json.dumps({
            "token": claims.subject == "x",
            "credentials": opened == {"password": "secret"},
            "signature": signed,
        }))
        """
    )
    assert worked == {"token": True, "credentials": True, "signature": True}
