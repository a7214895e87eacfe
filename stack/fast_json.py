"""JSON in and out of the request path with orjson, giving exactly what `json` gives.

orjson decodes a small document about four times faster than `json` and encodes it about
ten times faster (measured on a contact document; see docs/benchmarks.md). Where the two
would differ, `json` answers:

- decoding: orjson refuses what `json` accepts (`NaN`, `Infinity`, numbers out of a
  double's range, lone surrogates, a byte-order mark, UTF-16/32 text), and reads an
  integer of more than 64 bits as a float. The refusals fall back to `json`, and so does
  any text holding a run of 19 digits or more (the only way to spell such an integer);
- encoding: orjson refuses integers of more than 64 bits and writes non-finite floats as
  `null`. Callers that encode values read from JSON only (never a computed float) use
  `dumps`; its refusals fall back to `json`.

Request bodies from clients are NOT read here: they go through `roost.strict_json`, whose
limits (depth, duplicate keys) are part of the API.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# 19 digits: the shortest integer orjson might not hold exactly (2**63 has 19).
_LONG_DIGITS = re.compile(rb"\d{19}")


def loads(data: bytes) -> Any:
    """`json.loads(data)`, through orjson when it gives the same answer."""
    if _LONG_DIGITS.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`
    encodes it, for values read from JSON (see the module's note on non-finite floats)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson.JSONEncodeError is a TypeError: an integer past 64 bits, a lone surrogate,
        # a type it does not know. `json` answers these as it always has.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
