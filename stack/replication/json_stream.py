"""Read a store's `{"results": [...], "last_seq": …}` answer row by row, as bytes arrive.

A `_changes` answer can hold every document of a doctype; Roost never holds it whole.
Rows are decoded by the C JSON decoder (`raw_decode`) as soon as they are complete, and
each comes with its exact source text, so a row passed on unchanged is not re-encoded.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, NamedTuple

from roost.errors import StoreUnavailable

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_DELIMITERS = frozenset(" \t\n\r,]}")


class Row(NamedTuple):
    value: Any
    text: str


class ResultsStream:
    """Feed bytes with `feed`; get the complete rows of the `results` array back.

    The other members of the top-level object (`last_seq`, `pending`) land in `meta`.
    Call `close()` after the last chunk: it raises if the answer was cut short.
    """

    def __init__(self, array_key: str = "results") -> None:
        self.array_key = array_key
        self.meta: dict[str, Any] = {}
        self._text = ""
        self._pos = 0
        self._state = "start"
        self._key: str | None = None
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> list[Row]:
        self._text = self._text[self._pos :] + self._utf8.decode(data)
        self._pos = 0
        rows: list[Row] = []
        while self._step(rows):
            pass
        return rows

    def close(self) -> None:
        self._utf8.decode(b"", final=True)
        if self._state != "done":
            raise StoreUnavailable("the store's answer ended in the middle of a JSON document")

    # -- the state machine --------------------------------------------------------------

    def _skip_whitespace(self) -> str | None:
        self._pos = _WHITESPACE.match(self._text, self._pos).end()  # type: ignore[union-attr]
        return self._text[self._pos] if self._pos < len(self._text) else None

    def _decode(self) -> tuple[Any, str] | None:
        """The next complete JSON value, or None when more bytes are needed."""
        start = self._pos
        try:
            value, end = _DECODER.raw_decode(self._text, start)
        except json.JSONDecodeError:
            return None
        # A number is complete only once a delimiter follows: "-0." may go on as "-0.5".
        if not isinstance(value, (dict, list, str)) and (
            end == len(self._text) or self._text[end] not in _DELIMITERS
        ):
            return None
        self._pos = end
        return value, self._text[start:end]

    def _expect(self, char: str | None, allowed: str) -> None:
        if char is None or char not in allowed:
            raise StoreUnavailable(f"unexpected {char!r} in the store's answer (wanted {allowed})")

    def _step(self, rows: list[Row]) -> bool:
        """Advance by one token; False when the buffer holds nothing more to use."""
        char = self._skip_whitespace()
        if char is None or self._state == "done":
            return False
        state = self._state
        if state == "start":
            self._expect(char, "{")
            self._pos += 1
            self._state = "key_or_end"
        elif state in ("key_or_end", "key"):
            if char == "}" and state == "key_or_end":
                self._pos += 1
                self._state = "done"
                return False
            self._expect(char, '"')
            decoded = self._decode()
            if decoded is None:
                return False
            self._key = decoded[0]
            self._state = "colon"
        elif state == "colon":
            self._expect(char, ":")
            self._pos += 1
            self._state = "value"
        elif state == "value":
            if self._key == self.array_key and char == "[":
                self._pos += 1
                self._state = "row_or_end"
                return True
            decoded = self._decode()
            if decoded is None:
                return False
            self.meta[str(self._key)] = decoded[0]
            self._state = "member_end"
        elif state in ("row_or_end", "row"):
            if char == "]" and state == "row_or_end":
                self._pos += 1
                self._state = "member_end"
                return True
            return self._read_rows(rows)
        elif state == "row_end":
            self._expect(char, ",]")
            self._pos += 1
            self._state = "row" if char == "," else "member_end"
        elif state == "member_end":
            self._expect(char, ",}")
            self._pos += 1
            if char == "}":
                self._state = "done"
                return False
            self._state = "key"
        return True

    def _read_rows(self, rows: list[Row]) -> bool:
        """Rows and the commas between them in one loop (the bulk of any answer); back to
        the general steps at the end of the array or of the bytes received so far."""
        text, pos, end_of_text = self._text, self._pos, len(self._text)
        whitespace = _WHITESPACE.match
        decode = _DECODER.raw_decode
        while True:
            try:
                value, end = decode(text, pos)
            except json.JSONDecodeError:
                self._pos = pos
                return False
            if not isinstance(value, (dict, list, str)) and (
                end == end_of_text or text[end] not in _DELIMITERS
            ):
                self._pos = pos
                return False
            rows.append(Row(value, text[pos:end]))
            pos = whitespace(text, end).end()  # type: ignore[union-attr]
            if pos == end_of_text:
                self._pos, self._state = pos, "row_end"
                return False
            char = text[pos]
            if char == "]":
                self._pos, self._state = pos + 1, "member_end"
                return True
            self._expect(char, ",]")
            self._state = "row"  # after a comma, a row must come (no "]")
            pos = whitespace(text, pos + 1).end()  # type: ignore[union-attr]
            if pos == end_of_text:
                self._pos, self._state = pos, "row"
                return False
