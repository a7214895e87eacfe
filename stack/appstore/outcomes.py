"""What a connector's run came to, in plain words: the error vocabulary of connectors.

A connector fails with a code, ``TYPE[.DETAIL]`` as in Cozy (``LOGIN_FAILED``,
``LOGIN_FAILED.TOO_MANY_ATTEMPTS``), in the JSON of its ``err`` result:
``{"error": "LOGIN_FAILED", "message": "..."}`` (the SDK's ``fail`` and ``run_connector``
write it). The stack adds the codes of what happened around the guest: a budget hit, a
refused host call, a crash. Each code has a title and an advice for the person; the full
code is looked up first, then its type, and anything unknown reads as ``UNKNOWN_ERROR``.
docs/apps.md ("Reporting errors from a connector") is the connector developer's copy.

Titles and advices are English message ids: the pages translate them (``collect.po``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from roost.apps.runner import RunResult
from roost.apps.services import AccessEntry
from roost.appstore.runs import guest_value
from roost.permissions.describe import plain_noun

__all__ = [
    "OK",
    "VOCABULARY",
    "WAITS_FOR_PERSON",
    "Outcome",
    "code_of",
    "outcome_for",
    "outcome_of_run",
]

OK: Final = "OK"


@dataclass(frozen=True)
class _Words:
    title: str
    advice: str
    #: Running again as is would fail the same way (or lock the person out): no retry.
    final: bool = True


#: Every code Collect explains. Connectors report the first block; the stack the second.
VOCABULARY: Final[Mapping[str, _Words]] = {
    OK: _Words("Done", "", final=False),
    "LOGIN_FAILED": _Words(
        "Wrong password",
        "The site refused the login or the password. Check them in the account below.",
    ),
    "LOGIN_FAILED.TOO_MANY_ATTEMPTS": _Words(
        "Blocked for a while by the site",
        "After too many attempts the site blocks the account for a while. "
        "Try again later, and check the password below.",
    ),
    "USER_ACTION_NEEDED": _Words(
        "Action needed on the site",
        "Sign in on the site itself and do what it asks (new terms, a new password…), "
        "then run the connector again.",
    ),
    "CHALLENGE_ASKED": _Words(
        "The site asks for a second code",
        "Sign in once on the site from your browser, then run the connector again.",
    ),
    "VENDOR_DOWN": _Words(
        "The site did not answer",
        "The site could not be reached or answered with an error. Nothing to do on your "
        "side: the connector tries again at its next run.",
        final=False,
    ),
    "SITE_CHANGED": _Words(
        "The site changed, the connector needs an update",
        "The site's pages no longer look like what the connector knows. "
        "Look for an update of the connector in the Store.",
    ),
    "UNKNOWN_ERROR": _Words(
        "The site changed, the connector needs an update",
        "The connector stopped on something it did not expect. "
        "Look for an update of the connector in the Store.",
    ),
    # An importer (docs/apps.md, "Writing an importer") read a file it cannot import.
    "INVALID_FILE": _Words(
        "A file could not be imported",
        "The file is damaged or is not in a format this importer reads; nothing of it was "
        "imported. Replace it with a new export from the site, or remove it.",
    ),
    # -- what the stack itself saw ------------------------------------------------------
    "TIME_LIMIT": _Words(
        "Time limit reached",
        "The connector ran longer than it is allowed to and was stopped. "
        "It tries again at its next run.",
    ),
    "LIMIT_REACHED": _Words(
        "Resource limit reached",
        "The connector needed more memory or data than it is allowed to and was stopped.",
    ),
    "ACCESS_REFUSED": _Words(
        "The connector was refused access to %(what)s",
        "The connector tried to reach something you did not allow. Nothing was sent there.",
    ),
    "CANNOT_START": _Words(
        "The connector could not start",
        "Check its account below, or reinstall it from the Store.",
    ),
}

#: Outcomes only the person can fix: scheduled runs wait until they run it themselves (as
#: cozy-stack does), so a wrong password is not tried again every night.
WAITS_FOR_PERSON: Final = frozenset(
    {"LOGIN_FAILED", "LOGIN_FAILED.TOO_MANY_ATTEMPTS", "USER_ACTION_NEEDED", "CHALLENGE_ASKED"}
)

#: Host error codes a connector passes on unchanged, and the word they stand for.
_ALIASES: Final = {
    "egress_denied": "ACCESS_REFUSED",
    "forbidden": "ACCESS_REFUSED",
    "budget_exhausted": "LIMIT_REACHED",
    "timeout": "VENDOR_DOWN",
    "fetch_failed": "VENDOR_DOWN",
    "invalid_file": "INVALID_FILE",
}
_REASONS: Final = {
    "time limit": "TIME_LIMIT",
    "out of fuel": "TIME_LIMIT",
    "memory limit": "LIMIT_REACHED",
    "output limit": "LIMIT_REACHED",
    "trap": "UNKNOWN_ERROR",
    "instantiate": "CANNOT_START",
}


@dataclass(frozen=True)
class Outcome:
    """A run's outcome: its code, and the words Collect shows (``%(what)s`` from ``values``)."""

    code: str
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == OK

    @property
    def _words(self) -> _Words:
        return VOCABULARY[self.code]

    @property
    def title(self) -> str:
        return self._words.title

    @property
    def advice(self) -> str:
        return self._words.advice

    @property
    def final(self) -> bool:
        return self._words.final

    @property
    def waits_for_person(self) -> bool:
        return self.code in WAITS_FOR_PERSON

    def english(self) -> str:
        """The title with its values, in English (for a notification or a log line)."""
        return self.title % dict(self.values) if self.values else self.title

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "values": dict(self.values)}

    @classmethod
    def from_json(cls, value: Any) -> Outcome:
        if not isinstance(value, Mapping):
            return cls("UNKNOWN_ERROR")
        code = code_of(value.get("code"))
        values = value.get("values")
        clean = {str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else {}
        return outcome_for(code, clean)


def code_of(reported: Any) -> str:
    """The vocabulary's code for what a connector reported: the full code, else its type."""
    if not isinstance(reported, str) or not reported:
        return "UNKNOWN_ERROR"
    if reported in _ALIASES:
        return _ALIASES[reported]
    code = reported.strip().upper()
    if code in VOCABULARY:
        return code
    kind = code.split(".", 1)[0]
    return kind if kind in VOCABULARY else "UNKNOWN_ERROR"


def refused_things(calls: Iterable[AccessEntry]) -> list[str]:
    """What the run was refused, in plain words: network hosts, then kinds of data."""
    hosts: list[str] = []
    kinds: list[str] = []
    for entry in calls:
        if entry.allowed:
            continue
        if entry.egress_host:
            hosts.extend(h for h in entry.egress_host.split(",") if h and h not in hosts)
        elif entry.doctype:
            noun = plain_noun(entry.doctype)
            if noun not in kinds:
                kinds.append(noun)
    return hosts + kinds


def outcome_for(code: str, values: Mapping[str, str] | None = None) -> Outcome:
    code = code_of(code)
    if code == "ACCESS_REFUSED":
        what = (values or {}).get("what") or "something it was not allowed to reach"
        return Outcome(code, {"what": what})
    return Outcome(code)


def _reported_code(error: str | None) -> str:
    value = guest_value(error)
    if isinstance(value, Mapping):
        return code_of(value.get("error"))
    return "UNKNOWN_ERROR"


def outcome_of_run(result: RunResult) -> Outcome:
    """The outcome of one run of a connector."""
    refused = refused_things(result.host_calls)
    if result.ok:
        return Outcome(OK)
    if result.reason == "app error":
        code = _reported_code(result.error)
    else:
        code = _REASONS.get(result.reason or "", "UNKNOWN_ERROR")
    if code == "ACCESS_REFUSED" or (refused and code == "UNKNOWN_ERROR"):
        return outcome_for("ACCESS_REFUSED", {"what": ", ".join(refused[:3])} if refused else {})
    return outcome_for(code)
