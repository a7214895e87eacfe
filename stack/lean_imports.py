"""Keep three libraries' unused parts out of every Roost process (run by ``roost/__init__``).

A one-person box runs on a Raspberry Pi, where `roost serve` at rest is measured
(`bench/idle_rss.py`). Three dependencies load, when imported, code Roost never calls:

- **httpx** imports its command-line client (`httpx._main`) whenever click, rich and
  pygments happen to be installed (here they come with the development tools): 3.6 MB
  and 70 ms of start-up. Marking the module absent gives what an install without them
  gives: httpx's own fallback, a `main` that says the extras are missing.
- **PyJWT** imports cryptography's asymmetric keys and X.509 (7 MB) to offer RS/ES/EdDSA
  tokens. Roost signs and accepts HS256 only (`roost.permissions.tokens` pins it), so jwt
  is imported here while cryptography is hidden from it; PyJWT then offers the HMAC
  algorithms alone. Connector accounts and registry signatures import cryptography
  themselves when they are first used.
- **uvicorn** imports its file-watching reloader (watchfiles, a Rust extension: 0.6 MB)
  whenever watchfiles is installed. `roost serve` never reloads; uvicorn's fallback is
  its own polling reloader, which is never started either.

Each is done only when the library was not imported yet, so nothing already loaded is
changed.
"""

from __future__ import annotations

import sys

__all__ = ["load_lean"]


def load_lean() -> None:
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if "uvicorn" not in sys.modules:
        sys.modules.setdefault("uvicorn.supervisors.watchfilesreload", None)  # type: ignore[arg-type]
    if "jwt" not in sys.modules and "cryptography" not in sys.modules:
        sys.modules["cryptography"] = None  # type: ignore[assignment]
        try:
            import jwt  # noqa: F401
        finally:
            del sys.modules["cryptography"]
