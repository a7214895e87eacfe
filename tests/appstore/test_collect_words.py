"""Every word Collect shows from the domain - outcomes, schedules, data counts, form problems,
what a connector may touch - has its French, with the same placeholders."""

from __future__ import annotations

import re

from roost.appstore.collect import DATA_WORDS
from roost.appstore.outcomes import VOCABULARY
from roost.appstore.schedules import describe_trigger
from roost.permissions.describe import FRIENDLY_NAMES
from roost.web.i18n import translations
from roost.web.pages.collect import JS_MESSAGES

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
PROBLEMS = (
    "Fill in this field.",
    "This is too long.",
    "This holds characters that cannot be typed.",
    "Enter an e-mail address such as name@example.org.",
    "Enter a web address starting with https://.",
    "Enter a number.",
    "Enter a date as YYYY-MM-DD.",
    "Give a shorter name, with letters and digits.",
)
TRIGGERS = (
    ("@cron", "0 5 * * *"),
    ("@cron", "0 5 * * 1"),
    ("@cron", "0 5 2 * *"),
    ("@cron", "0 * * * *"),
    ("@cron", "0 */2 * * *"),
    ("@cron", "0 5 1 1 *"),
    ("@every", "1h"),
    ("@every", "2h"),
    ("@every", "1d"),
    ("@every", "2d"),
    ("@every", "1w"),
    ("@every", "2w"),
    ("@every", "1m"),
    ("@every", "5m"),
    ("@event", "io.cozy.files:CREATED"),
    ("@event", "io.cozy.bank.operations:CREATED"),
    ("@webhook", ""),
    ("@at", "2030-01-01T00:00:00Z"),
    ("@in", "1h"),
)


def test_collect_words_are_all_in_french() -> None:
    french = translations("fr")
    messages = {w.title for w in VOCABULARY.values()} | {w.advice for w in VOCABULARY.values()}
    messages |= {describe_trigger(kind, arguments).text for kind, arguments in TRIGGERS}
    messages |= {"Only when you run it", "Runs when you add a file to %(folder)s"}
    messages |= set(PROBLEMS) | set(FRIENDLY_NAMES.values()) | set(JS_MESSAGES)
    messages.discard("")
    missing = [m for m in sorted(messages) if french.gettext(m) == m]
    assert missing == []
    for message in messages:
        assert _PLACEHOLDER.findall(french.gettext(message)) == _PLACEHOLDER.findall(message)
    for singular, plural in DATA_WORDS.values():
        if singular != "%(count)s contact":  # the same word in French
            assert french.ngettext(singular, plural, 2) not in (singular, plural)
