"""Share links: public read-only and drop links to a file, a folder or an album.

Pure domain (no HTTP): link documents and their codes, the requests that create them,
the permission set each link holds, password checks, what one visit may see
(`roost.sharing.visits`). The public pages and the owner's API
are in `roost.web.pages.shared` and `roost.web.share_links`. See docs/api/sharing.md.
"""

from roost.sharing.errors import (
    InvalidShareRequest,
    LinkGone,
    LinkUnknown,
    TooManyPasswordAttempts,
)
from roost.sharing.grants import link_permissions
from roost.sharing.links import SharedItem, ShareLink, ShareLinks
from roost.sharing.requests import ALBUMS_DOCTYPE, LinkRequest, parse_link_request

__all__ = [
    "ALBUMS_DOCTYPE",
    "InvalidShareRequest",
    "LinkGone",
    "LinkRequest",
    "LinkUnknown",
    "ShareLink",
    "ShareLinks",
    "SharedItem",
    "TooManyPasswordAttempts",
    "link_permissions",
    "parse_link_request",
]
