"""EXIF → `metadata` in cozy-stack's shape, read from pictures Pillow writes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from roost.thumbnails.metadata import read_metadata
from tests.thumbnails.pictures import encoded, halves, heic, jpeg


def metadata_of(content: bytes) -> dict[str, object]:
    with Image.open(io.BytesIO(content)) as image:
        return read_metadata(image)


def test_date_taken_orientation_and_place() -> None:
    content = jpeg(orientation=8, taken="2023:12:31 23:59:58", gps=(-33.8568, 151.2153))

    assert metadata_of(content) == {
        "extractor_version": 2,
        "width": 400,
        "height": 200,
        "orientation": 8,
        "datetime": "2023-12-31T23:59:58Z",
        "gps": {"lat": -33.8568, "long": 151.2153},
    }


def test_the_utc_offset_is_kept_so_the_day_is_the_local_day() -> None:
    content = jpeg(taken="2024-01-01 00:30:00".replace("-", ":"), offset="+09:00")

    assert metadata_of(content)["datetime"] == "2024-01-01T00:30:00+09:00"


@pytest.mark.parametrize("raw", ["0000:00:00 00:00:00", "    :  :     :  :  ", "yesterday", ""])
def test_an_unusable_date_is_left_out(raw: str) -> None:
    assert "datetime" not in metadata_of(jpeg(taken=raw))


def test_a_bad_offset_is_ignored() -> None:
    content = jpeg(taken="2020:02:29 12:00:00", offset="+99:99")

    assert metadata_of(content)["datetime"] == "2020-02-29T12:00:00Z"


def test_pictures_without_exif_have_their_size_only() -> None:
    assert metadata_of(encoded(halves(64, 48), "PNG")) == {
        "extractor_version": 2,
        "width": 64,
        "height": 48,
    }
    assert metadata_of(heic(halves(64, 48))) == {
        "extractor_version": 2,
        "width": 64,
        "height": 48,
    }


def test_impossible_coordinates_are_left_out() -> None:
    assert "gps" not in metadata_of(jpeg(gps=(95.0, 10.0)))
