"""Errors of the thumbnail service, mapped to HTTP once by `roost.web.errors`."""

from __future__ import annotations

from roost.errors import NotFound


class NoThumbnail(NotFound):
    """This file has no thumbnail (not a picture or a video, or one that cannot be read).

    A 404 like cozy-stack's: a client shows an icon instead. Only ever raised after the
    permission decision allowed reading the file, so its reason leaks nothing.
    """
