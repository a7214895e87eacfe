"""JSON in and out of the request path with orjson, giving what `json` gives.

orjson decodes a small document about four times faster than `json` and encodes it about
ten times faster (measured on a contact document; see docs/benchmarks.md). Where the two
would differ, `json` answers:

- decoding: orjson refuses what `json` accepts (`NaN`, `Infinity`, numbers out of a
  double's range, lone surrogates, a byte-order mark, UTF-16/32 text), and reads an
  integer of more than 64 bits as a float. The refusals fall back to `json`, and so does
  any text holding a run of 19 digits or more (the only way to spell such an integer);
- encoding: orjson refuses integers of more than 64 bits, lone surrogates and non-string
  keys (those fall back to `json`), and writes a non-finite float as `null` where `json`
  would write `NaN` (which no JSON reader, the store included, accepts). Values reach
  `dumps` from JSON (request bodies refuse `NaN` and overflows, see `roost.strict_json`)
  or from Roost's own code (sizes, counts, timestamps: finite).

Request bodies from clients are NOT read here: they go through `roost.strict_json`, whose
limits (depth, duplicate keys) are part of the API.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# 19 digits: the shortest integer orjson might not hold exactly (2**63 has 19). Looked for
# as a run of 19 "0" in the text with every digit made "0" and every other byte a space:
# two C loops, 13x faster than the regular expression `\d{19}` (which tried a match at every
# digit, and cost more than decoding a 37 KB `_bulk_get` answer with `json`).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def has_long_digit_run(data: bytes) -> bool:
    """Whether `data` holds 19 ASCII digits in a row."""
    return _LONG_RUN in data.translate(_DIGITS_AS_ZERO)


def loads(data: bytes) -> Any:
    """`json.loads(data)`, through orjson when it gives the same answer."""
    if not has_long_digit_run(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def dumps(value: Any, *, ensure_ascii: bool = False) -> bytes:
    """Compact UTF-8 JSON, as `json.dumps(value, separators=(",", ":"))` encodes it, for
    values read from JSON (see the module's note on non-finite floats).

    `ensure_ascii` only matters where orjson refuses: there `json` answers with it, so a
    lone surrogate is escaped (True) or refused with UnicodeEncodeError (False) as before.
    Otherwise the text is UTF-8, which says the same to any JSON reader as `\\u` escapes.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson.JSONEncodeError is a TypeError: an integer past 64 bits, a lone surrogate,
        # a type it does not know. `json` answers these as it always has.
        text = json.dumps(value, ensure_ascii=ensure_ascii, separators=(",", ":"))
        return text.encode("utf-8")
