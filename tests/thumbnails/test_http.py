"""`GET /files/{id}/thumbnails/{size}`: made on demand when missing, EXIF orientation
applied, HEIC and the common formats, clean refusals for broken pictures and bombs, the
same permission decision as reading the file, and HTTP caching."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from roost.instances import Instance
from roost.services import Services
from roost.thumbnails import SIZES
from roost.thumbnails.store import content_key
from tests.thumbnails.pictures import (
    BLUE,
    RED,
    colour_at,
    encoded,
    halves,
    heic,
    jpeg,
    near,
    png_bomb,
)
from tests.web.files_support import FilesApi, IssueToken, files_api


async def thumbnail(api: FilesApi, file_id: str, size: str = "small") -> httpx.Response:
    return await api.http.get(f"/files/{file_id}/thumbnails/{size}", headers=api.headers)


def picture(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    return image


async def test_exif_orientation_6_is_turned_upright(owner: FilesApi) -> None:
    # Stored 400 × 200, red left and blue right; orientation 6 means "turn a quarter
    # clockwise to show": shown 200 × 400, red on top and blue below.
    file_id = await owner.upload_ok("turned.jpg", jpeg(orientation=6))

    large = picture(await thumbnail(owner, file_id, "large"))
    assert large.size == (200, 400)
    assert near(colour_at(large, 100, 20), RED)
    assert near(colour_at(large, 100, 380), BLUE)

    small = picture(await thumbnail(owner, file_id, "small"))
    assert small.size == (160, 320)
    assert near(colour_at(small, 80, 10), RED)
    assert near(colour_at(small, 80, 310), BLUE)


async def test_heic_through_pillow_heif(owner: FilesApi) -> None:
    file_id = await owner.upload_ok("phone.heic", heic())

    small = picture(await thumbnail(owner, file_id))
    assert small.size == (320, 160)
    assert near(colour_at(small, 20, 80), RED)
    assert near(colour_at(small, 300, 80), BLUE)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("flat.png", encoded(halves(), "PNG")),
        ("clear.png", encoded(halves().convert("RGBA"), "PNG")),
        ("web.webp", encoded(halves(), "WEBP", quality=95)),
        ("moving.gif", encoded(halves().convert("P"), "GIF")),
    ],
)
async def test_common_formats(owner: FilesApi, name: str, content: bytes) -> None:
    file_id = await owner.upload_ok(name, content)

    small = picture(await thumbnail(owner, file_id))
    assert small.size == (320, 160)
    assert near(colour_at(small, 20, 80), RED)
    assert near(colour_at(small, 300, 80), BLUE)


async def test_a_small_picture_is_not_enlarged(owner: FilesApi) -> None:
    file_id = await owner.upload_ok("tiny.jpg", jpeg(halves(40, 20)))

    assert picture(await thumbnail(owner, file_id, "large")).size == (40, 20)


async def test_truncated_jpegs_give_a_thumbnail_or_a_clean_error(owner: FilesApi) -> None:
    whole = jpeg(halves(800, 600))
    # Cut in the middle of the pixels: the top part still makes a thumbnail.
    half_id = await owner.upload_ok("half.jpg", whole[: len(whole) // 2])
    half = picture(await thumbnail(owner, half_id))
    assert half.size == (320, 240)
    assert near(colour_at(half, 20, 10), RED)

    # Cut inside the header: nothing to show, said plainly.
    stub_id = await owner.upload_ok("stub.jpg", whole[:300])
    response = await thumbnail(owner, stub_id)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.json()["reason"].startswith("no thumbnail: the picture cannot be")

    # The workers are fine afterwards.
    fine_id = await owner.upload_ok("fine.jpg", jpeg())
    assert picture(await thumbnail(owner, fine_id)).size == (320, 160)


async def test_a_decompression_bomb_is_refused_and_the_server_goes_on(
    owner: FilesApi, tmp_path: Path, services: Services, instance: Instance
) -> None:
    bomb = png_bomb(tmp_path / "bomb.png").read_bytes()
    assert len(bomb) < 100_000  # 20,000 × 20,000 pixels in under 100 kB
    file_id = await owner.upload_ok("bomb.png", bomb)

    for size in ("small", "large"):
        response = await thumbnail(owner, file_id, size)
        assert response.status_code == 404
        assert "megapixels" in response.json()["reason"]
    # Nothing but the reason was written.
    kept = await services.thumbnails.store.names(instance.domain, file_id)
    assert {name.split("/")[1] for name in kept} == {"error.txt"}

    fine_id = await owner.upload_ok("after.png", encoded(halves(), "PNG"))
    assert picture(await thumbnail(owner, fine_id)).size == (320, 160)


async def test_files_without_thumbnails_and_unknown_sizes(owner: FilesApi) -> None:
    text_id = await owner.upload_ok("notes.txt", b"hello")
    response = await thumbnail(owner, text_id)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "reason": "this file has no thumbnails"}

    svg_id = await owner.upload_ok("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert (await thumbnail(owner, svg_id)).status_code == 404

    photo_id = await owner.upload_ok("p.jpg", jpeg())
    response = await thumbnail(owner, photo_id, "huge")
    assert response.status_code == 400
    assert "small, large" in response.json()["reason"]


async def test_cacheable_with_an_etag(owner: FilesApi) -> None:
    file_id = await owner.upload_ok("cached.jpg", jpeg())
    first = await thumbnail(owner, file_id)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"

    again = await owner.http.get(
        f"/files/{file_id}/thumbnails/small", headers={**owner.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""

    head = await owner.http.head(f"/files/{file_id}/thumbnails/small", headers=owner.headers)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(first.content))

    # New content, new thumbnails, new ETag.
    response = await owner.overwrite(file_id, jpeg(halves(300, 300)))
    assert response.status_code == 200, response.text
    changed = await thumbnail(owner, file_id)
    assert changed.headers["etag"] != etag
    assert picture(changed).size == (300, 300)


async def test_a_missing_thumbnail_is_made_again(
    owner: FilesApi, services: Services, instance: Instance
) -> None:
    file_id = await owner.upload_ok("again.jpg", jpeg())
    first = await thumbnail(owner, file_id, "large")
    found = await services.vfs.get(instance, file_id)
    key = content_key(found)
    assert key is not None
    for size in SIZES.values():
        await services.thumbnails.store.forget(instance.domain, file_id, key, size)
    assert await services.thumbnails.store.names(instance.domain, file_id) == set()

    second = await thumbnail(owner, file_id, "large")
    assert second.status_code == 200
    assert second.content == first.content


async def test_read_permission_decides_and_hidden_looks_missing(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, owner: FilesApi
) -> None:
    shared = await owner.mkdir_ok("Shared")
    private = await owner.mkdir_ok("Private")
    inside = await owner.upload_ok("in.jpg", jpeg(), dir_id=shared)
    outside = await owner.upload_ok("out.jpg", jpeg(), dir_id=private)

    reader = await files_api(client, instance, issue_token, f"io.cozy.files:GET:{shared}")
    assert picture(await thumbnail(reader, inside)).size == (320, 160)

    hidden = await thumbnail(reader, outside)
    absent = await thumbnail(reader, "no-such-file")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json() == {"error": "not_found", "reason": "missing"}
    assert hidden.headers.get("etag") is None

    # No rule on files at all: refused openly, whether the file exists or not.
    stranger = await files_api(client, instance, issue_token, "io.cozy.contacts:GET")
    for file_id in (outside, "no-such-file"):
        response = await thumbnail(stranger, file_id)
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"

    anonymous = await client.get(f"/files/{inside}/thumbnails/small")
    assert anonymous.status_code == 401
