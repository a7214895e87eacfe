"""Jinja2 templates for the server-rendered pages (autoescaped).

Every template may call `asset("drive.js")` (a content-hashed static URL) and
`import_map()`, and speaks the request's language: `_`, `ngettext`, `lang` and `language`
(sizes and dates) come from a context processor, so the sign-in page is French for a French
browser too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.assets import asset, import_map


def _language(request: Request) -> dict[str, Any]:
    language = PageLanguage(language_of(request))
    return {
        "lang": language.code,
        "language": language,
        "_": language.gettext,
        "ngettext": language.ngettext,
    }


templates = Jinja2Templates(
    directory=str(Path(__file__).parent / "templates"), context_processors=[_language]
)
templates.env.globals.update(
    asset=asset,
    import_map=lambda: Markup(import_map()),  # noqa: S704 - JSON with `</` escaped
)
