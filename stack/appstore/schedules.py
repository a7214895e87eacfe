"""When a connector runs, in plain words, from its triggers.

``@cron 0 5 * * *`` reads "Every day around 05:00 (UTC)", ``@every 1h`` "Every hour",
``@event io.cozy.files:CREATED:<folder id>:dir_id`` "Runs when you add a file to /Bank
statements". An importer's trigger watches every file and the importer itself keeps to its
folder (its account's ``folder`` field, else its manifest's default): the caller passes
those folders as ``watched``, so the person reads "Runs when you add a file to
/Imports/Bank statements", not a schedule. Anything a simple sentence cannot say reads "On a
regular schedule" rather than showing the expression. Each phrase is an English message id
with values, translated by the page (``collect.po``); folder ids are turned into paths by
the caller (``folders``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from roost.jobs.errors import InvalidTrigger
from roost.jobs.events import parse_event_rules
from roost.permissions import FILES_DOCTYPE
from roost.permissions.describe import plain_noun
from roost.tokens import parse_duration

__all__ = ["Phrase", "describe_schedule", "describe_trigger", "event_folder_ids"]

WEEKDAYS: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAY_NAMES: Final = {name[:3].lower(): i for i, name in enumerate(WEEKDAYS)}
# The crontab macros a manifest may use (roost.jobs.cron reads the same ones).
_CRON_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EVENT_WORDS: Final = {"CREATED": "added", "UPDATED": "changed", "DELETED": "deleted"}


@dataclass(frozen=True)
class Phrase:
    """An English message id and its values (``text % values`` once translated)."""

    text: str
    values: Mapping[str, str] = field(default_factory=dict)

    def english(self) -> str:
        return self.text % dict(self.values) if self.values else self.text


ONLY_BY_HAND: Final = Phrase("Only when you run it")
REGULARLY: Final = Phrase("On a regular schedule")


def _number(text: str, low: int, high: int) -> int | None:
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def _weekday(text: str) -> int | None:
    if text.lower() in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[text.lower()]
    day = _number(text, 0, 7)
    return None if day is None else day % 7


def _cron(arguments: str) -> Phrase:
    fields = _CRON_MACROS.get(arguments.strip().lower(), arguments).split()
    if len(fields) == 6:
        fields = fields[1:]  # cozy-stack's form has seconds first
    if len(fields) != 5:
        return REGULARLY
    minute_text, hour_text, day, month, weekday = fields
    minute = _number(minute_text, 0, 59)
    if minute is None or month not in ("*", "?"):
        return REGULARLY
    if hour_text == "*" and day in ("*", "?") and weekday in ("*", "?"):
        return Phrase("Every hour")
    if hour_text.startswith("*/") and day in ("*", "?") and weekday in ("*", "?"):
        step = _number(hour_text[2:], 1, 23)
        return Phrase("Every %(count)s hours", {"count": str(step)}) if step else REGULARLY
    hour = _number(hour_text, 0, 23)
    if hour is None:
        return REGULARLY
    at = {"time": f"{hour:02d}:{minute:02d}"}
    if day in ("*", "?") and weekday in ("*", "?"):
        return Phrase("Every day around %(time)s (UTC)", at)
    if day in ("*", "?"):
        index = _weekday(weekday)
        if index is None:
            return REGULARLY
        return Phrase("Every %(weekday)s around %(time)s (UTC)", {**at, "weekday": WEEKDAYS[index]})
    if weekday in ("*", "?"):
        date = _number(day, 1, 31)
        if date is None:
            return REGULARLY
        return Phrase("Every month on day %(day)s around %(time)s (UTC)", {**at, "day": str(date)})
    return REGULARLY


def _every(arguments: str) -> Phrase:
    try:
        period = parse_duration(arguments.strip())
    except ValueError:
        return REGULARLY
    for unit, words in (
        (timedelta(days=7), ("Every week", "Every %(count)s weeks")),
        (timedelta(days=1), ("Every day", "Every %(count)s days")),
        (timedelta(hours=1), ("Every hour", "Every %(count)s hours")),
        (timedelta(minutes=1), ("Every minute", "Every %(count)s minutes")),
    ):
        if period >= unit and period % unit == timedelta(0):
            count = period // unit
            return Phrase(words[0]) if count == 1 else Phrase(words[1], {"count": str(count)})
    return REGULARLY


def event_folder_ids(arguments: str) -> list[str]:
    """The folder ids an ``@event`` on files watches (to look their paths up)."""
    try:
        rules = parse_event_rules(arguments)
    except (InvalidTrigger, ValueError):
        return []
    return [
        value
        for rule in rules
        if rule.doctype == FILES_DOCTYPE and rule.selector == "dir_id"
        for value in rule.values
    ]


def _event(arguments: str, folders: Mapping[str, str], watched: Sequence[str]) -> Phrase:
    try:
        rules = parse_event_rules(arguments)
    except (InvalidTrigger, ValueError):
        return Phrase("When some of your data changes")
    if not rules:
        return Phrase("When some of your data changes")
    rule = rules[0]
    if rule.doctype == FILES_DOCTYPE:
        places = [folders[v] for v in rule.values if rule.selector == "dir_id" and v in folders]
        if not places and not rule.values:
            places = list(watched)
        if places:
            return Phrase("Runs when you add a file to %(folder)s", {"folder": ", ".join(places)})
        return Phrase("Runs when you add a file to your Drive")
    verbs = [_EVENT_WORDS[v] for v in ("CREATED", "UPDATED", "DELETED") if v in rule.verbs]
    how = " or ".join(verbs)
    return Phrase("When %(what)s are %(how)s", {"what": plain_noun(rule.doctype), "how": how})


def describe_trigger(
    kind: str,
    arguments: str,
    folders: Mapping[str, str] | None = None,
    watched: Sequence[str] = (),
) -> Phrase:
    """One trigger, in plain words; ``watched``: the folders an importer keeps to."""
    if kind == "@cron":
        return _cron(arguments)
    if kind == "@every":
        return _every(arguments)
    if kind == "@event":
        return _event(arguments, folders or {}, watched)
    if kind == "@webhook":
        return Phrase("When another service calls its web address")
    if kind == "@at":
        return Phrase("Once, at %(time)s", {"time": arguments.strip()})
    if kind == "@in":
        return Phrase("Once, shortly")
    return REGULARLY


def describe_schedule(
    triggers: Sequence[tuple[str, str]],
    folders: Mapping[str, str] | None = None,
    watched: Sequence[str] = (),
) -> list[Phrase]:
    """Every trigger of a connector in plain words; by hand only when it has none."""
    phrases: list[Phrase] = []
    for kind, arguments in triggers:
        phrase = describe_trigger(kind, arguments, folders, watched)
        if phrase not in phrases:
            phrases.append(phrase)
    return phrases or [ONLY_BY_HAND]
