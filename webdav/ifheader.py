"""The `If:` header of RFC 4918 §10.4: parsing into lists of conditions.

    If = 1*No-tag-list | 1*Tagged-list
    Tagged-list = Resource-Tag 1*List ;  List = "(" 1*Condition ")"
    Condition = ["Not"] (State-token | "[" entity-tag "]")

Evaluation needs the server's state (locks, ETags), so it lives in the handler; this module
only turns text into `IfList`s and says which lock tokens were submitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadRequest


@dataclass(frozen=True)
class Condition:
    negated: bool
    token: str | None = None  # a state token (Coded-URL content)
    etag: str | None = None  # an entity tag, quotes included


@dataclass(frozen=True)
class IfList:
    resource: str | None  # the tag's URL, or None for the request URL
    conditions: tuple[Condition, ...]


def parse_if_header(text: str) -> list[IfList]:
    lists: list[IfList] = []
    position = 0
    length = len(text)
    resource: str | None = None
    tagged: bool | None = None

    def skip_spaces() -> None:
        nonlocal position
        while position < length and text[position] in " \t\r\n":
            position += 1

    while True:
        skip_spaces()
        if position >= length:
            break
        char = text[position]
        if char == "<":
            end = text.find(">", position)
            if end < 0:
                raise BadRequest("malformed If header: unclosed resource tag")
            if tagged is False:
                raise BadRequest("malformed If header: tagged and untagged lists mixed")
            tagged = True
            resource = text[position + 1 : end]
            position = end + 1
            continue
        if char != "(":
            raise BadRequest("malformed If header: a list must start with '('")
        if tagged is None:
            tagged = False
        position += 1
        conditions: list[Condition] = []
        while True:
            skip_spaces()
            if position >= length:
                raise BadRequest("malformed If header: unclosed list")
            if text[position] == ")":
                position += 1
                break
            negated = False
            if text.startswith("Not", position) or text.startswith("not", position):
                negated = True
                position += 3
                skip_spaces()
            if position >= length:
                raise BadRequest("malformed If header")
            if text[position] == "<":
                end = text.find(">", position)
                if end < 0:
                    raise BadRequest("malformed If header: unclosed state token")
                conditions.append(Condition(negated, token=text[position + 1 : end]))
                position = end + 1
            elif text[position] == "[":
                end = text.find("]", position)
                if end < 0:
                    raise BadRequest("malformed If header: unclosed entity tag")
                conditions.append(Condition(negated, etag=text[position + 1 : end].strip()))
                position = end + 1
            else:
                raise BadRequest("malformed If header: expected a state token or an entity tag")
        if not conditions:
            raise BadRequest("malformed If header: empty list")
        lists.append(IfList(resource if tagged else None, tuple(conditions)))
    if not lists:
        raise BadRequest("malformed If header: no list")
    return lists


def submitted_tokens(lists: list[IfList]) -> set[str]:
    """Every lock token named (not negated) in the header: the tokens the client holds."""
    return {
        condition.token
        for if_list in lists
        for condition in if_list.conditions
        if condition.token is not None and not condition.negated
    }


def etags_match(wanted: str, actual: str | None) -> bool:
    if actual is None:
        return False

    def strip(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return strip(wanted) == strip(actual)
