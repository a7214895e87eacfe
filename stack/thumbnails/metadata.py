"""Photo metadata read from EXIF, in the shape of cozy-stack's `io.cozy.files` `metadata`.

    {"extractor_version": 2, "datetime": "2024-05-06T07:08:09Z", "width": 4032,
     "height": 3024, "orientation": 6, "gps": {"lat": 48.85, "long": 2.35}}

`width` and `height` are the stored pixels, as cozy-stack records them; an `orientation`
from 5 to 8 means the picture is shown turned a quarter, so the shown width is `height`.
`datetime` is when the photo was taken (EXIF DateTimeOriginal, else DateTime): EXIF
records the camera's wall-clock time, so it is written as that time with its UTC offset
when the camera saved one (OffsetTimeOriginal) and with `Z` otherwise. Either way the
first ten characters are the day the person saw on their watch, which is what a timeline
groups by. When the picture has no date, the service puts the file's `created_at` there
(cozy-stack does the same), so every image has a `datetime` to sort and group by.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from PIL import Image

EXTRACTOR_VERSION: Final = 2
_ORIENTATION = 0x0112
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


def _exif_time(raw: object, offset: object) -> str | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip().rstrip("\x00").strip()
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00", blanks and garbage: no date rather than a wrong one
    if not 1800 <= moment.year <= 2200:
        return None
    zone = "Z"
    if isinstance(offset, str) and _OFFSET.match(offset.strip()):
        zone = offset.strip()
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + zone


def _degrees(value: object, reference: object, limit: float) -> float | None:
    try:
        parts = [float(part) for part in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if len(parts) != 3 or not all(math.isfinite(part) for part in parts):
        return None
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    if isinstance(reference, bytes):
        reference = reference.decode("ascii", "replace")
    if isinstance(reference, str) and reference.strip().upper() in ("S", "W"):
        degrees = -degrees
    if not -limit <= degrees <= limit:
        return None
    return round(degrees, 7)


def read_metadata(image: Image.Image) -> dict[str, Any]:
    """The metadata of an opened (not necessarily decoded) picture; never raises on bad EXIF."""
    from PIL import ExifTags  # imported here, as in render.py: the server never needs it

    width, height = image.size
    metadata: dict[str, Any] = {
        "extractor_version": EXTRACTOR_VERSION,
        "width": width,
        "height": height,
    }
    try:
        exif = image.getexif()
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # a malformed EXIF block must not cost the thumbnail
        return metadata
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        metadata["orientation"] = orientation
    taken = _exif_time(details.get(_DATETIME_ORIGINAL), details.get(_OFFSET_TIME_ORIGINAL))
    if taken is None:
        taken = _exif_time(exif.get(_DATETIME), None)
    if taken is not None:
        metadata["datetime"] = taken
    latitude = _degrees(gps.get(2), gps.get(1), 90.0)
    longitude = _degrees(gps.get(4), gps.get(3), 180.0)
    if latitude is not None and longitude is not None:
        metadata["gps"] = {"lat": latitude, "long": longitude}
    return metadata
