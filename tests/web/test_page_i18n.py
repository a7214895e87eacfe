"""The pages' French catalogue covers every message, and static files are content-hashed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from jinja2.ext import babel_extract

from roost.web.i18n import LANGUAGE_COOKIE, PageLanguage, translations
from roost.web.pages.assets import asset, static_files
from roost.web.pages.drive import JS_MESSAGES
from roost.web.pages.photos import JS_MESSAGES as PHOTOS_JS_MESSAGES
from roost.web.pages.shell import SPACES

TEMPLATES = Path(__file__).resolve().parents[2] / "stack" / "web" / "templates"
# Pages other helpers own and have not moved to gettext yet.
NOT_YET = {"apps.html", "apps_consent.html"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for path in TEMPLATES.glob("*.html"):
        if path.name in NOT_YET or path.name.startswith("oauth"):
            continue
        with path.open("rb") as source:
            for _line, _function, message, _comments in babel_extract(
                source, ("_", "gettext", "ngettext"), [], {}
            ):
                if isinstance(message, tuple):
                    strings = tuple(m for m in message if m)
                    found.add(strings if len(strings) > 1 else strings[0])
                elif message:
                    found.add(message)
    found.update(label for _key, _path, label in SPACES)
    found.update(JS_MESSAGES)
    found.update(PHOTOS_JS_MESSAGES)
    found.add("Wrong passphrase.")
    return found


# Words French writes the same way (a translation equal to the English is taken for a
# forgotten one, except these).
_SAME_IN_FRENCH: frozenset[str | tuple[str, ...]] = frozenset(
    {
        "Drive",
        "Photos",
        "Store",
        "Notifications",
        "Actions",
        "Date",
        "Versions",
        "Total",
        "Album",
        ("%(count)s photo", "%(count)s photos"),
    }
)


def test_every_message_of_the_pages_has_a_french_translation() -> None:
    french = translations("fr")
    missing: list[str | tuple[str, ...]] = []
    for message in _messages():
        if isinstance(message, tuple):
            singular, plural = message
            if message in _SAME_IN_FRENCH:
                continue
            for count in (1, 2):
                text = french.ngettext(singular, plural, count)
                if text in (singular, plural):
                    missing.append(message)
            continue
        text = french.gettext(message)
        if text == message and message not in _SAME_IN_FRENCH:
            missing.append(message)
        assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(message)), message
    assert missing == []


def test_sizes_and_dates_speak_the_language() -> None:
    assert PageLanguage("fr").size(1_234_567) == "1,2\u00a0Mo"
    assert PageLanguage("en").size(1_234_567) == "1.2\u00a0MB"
    assert PageLanguage("en").size(999) == "999\u00a0B"
    assert PageLanguage("fr").datetime("2026-05-06T07:08:09Z").startswith("6 mai 2026")


async def test_the_sign_in_page_follows_accept_language_then_the_cookie(
    client: httpx.AsyncClient,
) -> None:
    english = await client.get("/auth/login")
    assert '<html lang="en">' in english.text and "Passphrase" in english.text
    french = await client.get("/auth/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in french.text and "Phrase de passe" in french.text
    chosen = await client.get(
        "/auth/login",
        headers={"Accept-Language": "fr-FR", "Cookie": f"{LANGUAGE_COOKIE}=en"},
    )
    assert '<html lang="en">' in chosen.text
    other = await client.get("/auth/login", headers={"Accept-Language": "de-DE,*;q=0.5"})
    assert '<html lang="en">' in other.text


async def test_static_files_have_content_hashed_immutable_names(
    client: httpx.AsyncClient,
) -> None:
    url = asset("drive.js")
    assert re.fullmatch(r"/static/drive\.[0-9a-f]{12}\.js", url)
    answer = await client.get(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert "immutable" in answer.headers["cache-control"]
    assert answer.content == static_files().by_name["drive.js"].body
    stale = await client.get("/static/drive.000000000000.js")
    plain = await client.get("/static/drive.js")
    assert stale.status_code == plain.status_code == 404
    page = await client.get("/auth/login")
    assert asset("roost.css") in page.text
