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

from roost.jobs.cron import CronError, CronSchedule
from roost.jobs.errors import InvalidTrigger
from roost.jobs.events import parse_event_rules
from roost.permissions import FILES_DOCTYPE
from roost.permissions.describe import plain_noun
from roost.tokens import parse_duration

__all__ = ["Phrase", "describe_schedule", "describe_trigger", "event_folder_ids"]

WEEKDAYS: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ALL_HOURS: Final = tuple(range(24))
_ALL_MONTHS: Final = tuple(range(1, 13))
_ALL_DAYS: Final = frozenset(range(1, 32))
_ALL_WEEKDAYS: Final = frozenset(range(7))
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


def _cron(arguments: str) -> Phrase:
    # Read by the one cron parser the scheduler uses, so a phrase never describes a
    # schedule other than the one that runs (seconds, for cozy-stack's 6 fields, are moot).
    try:
        cron = CronSchedule.parse(arguments)
    except CronError:
        return REGULARLY
    if len(cron.minutes) != 1 or cron.months != _ALL_MONTHS:
        return REGULARLY
    every_day, every_weekday = cron.days == _ALL_DAYS, cron.weekdays == _ALL_WEEKDAYS
    if cron.hours == _ALL_HOURS and every_day and every_weekday:
        return Phrase("Every hour")
    step = cron.hours[1] - cron.hours[0] if len(cron.hours) > 1 else 0
    if step and cron.hours == tuple(range(0, 24, step)) and every_day and every_weekday:
        return Phrase("Every %(count)s hours", {"count": str(step)})
    if len(cron.hours) != 1:
        return REGULARLY
    at = {"time": f"{cron.hours[0]:02d}:{cron.minutes[0]:02d}"}
    if every_day and every_weekday:
        return Phrase("Every day around %(time)s (UTC)", at)
    if every_day and len(cron.weekdays) == 1:
        weekday = WEEKDAYS[min(cron.weekdays)]
        return Phrase("Every %(weekday)s around %(time)s (UTC)", {**at, "weekday": weekday})
    if every_weekday and len(cron.days) == 1:
        day = str(min(cron.days))
        return Phrase("Every month on day %(day)s around %(time)s (UTC)", {**at, "day": day})
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
