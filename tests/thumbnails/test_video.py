"""Video posters: a frame taken by Debian's ffmpeg, made into both sizes like a picture.
Skipped only when ffmpeg is not installed (scripts/system-deps.sh installs it)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from roost.instances import Instance
from roost.jobs import DONE
from roost.services import Services
from roost.thumbnails import SIZES
from roost.thumbnails.store import content_key
from tests.thumbnails.conftest import finished_jobs
from tests.thumbnails.pictures import colour_at, ffmpeg, mp4, near
from tests.web.files_support import FilesApi

pytestmark = pytest.mark.skipif(ffmpeg() is None, reason="ffmpeg is not installed")


async def test_a_video_gets_a_poster_on_demand(owner: FilesApi, tmp_path: Path) -> None:
    video = mp4(tmp_path / "clip.mp4", "green").read_bytes()
    file_id = await owner.upload_ok("clip.mp4", video)

    response = await owner.http.get(f"/files/{file_id}/thumbnails/large", headers=owner.headers)
    assert response.status_code == 200, response.text
    poster = Image.open(io.BytesIO(response.content))
    assert poster.format == "JPEG"
    assert poster.size == (320, 240)
    assert near(colour_at(poster, 160, 120), (0, 128, 0), slack=50)


async def test_a_video_gets_its_poster_from_the_job(
    running_jobs: Services, instance: Instance, owner: FilesApi, tmp_path: Path
) -> None:
    services = running_jobs
    file_id = await owner.upload_ok("short.mp4", mp4(tmp_path / "s.mp4", "blue", 1).read_bytes())

    jobs = await finished_jobs(services, instance, file_id)
    assert jobs[0].state == DONE, jobs[0].error
    found = await services.vfs.get(instance, file_id)
    key = content_key(found)
    assert key is not None
    store = services.thumbnails.store
    assert await store.names(instance.domain, file_id) == {f"{key}/large.jpg", f"{key}/small.jpg"}
    small_jpeg = await store.read(instance.domain, file_id, key, SIZES["small"])
    assert small_jpeg is not None
    small = Image.open(io.BytesIO(small_jpeg))
    assert small.size == (320, 240)
    assert near(colour_at(small, 160, 120), (0, 0, 255), slack=50)


async def test_a_broken_video_is_a_clean_404(owner: FilesApi) -> None:
    file_id = await owner.upload_ok("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)

    response = await owner.http.get(f"/files/{file_id}/thumbnails/small", headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["reason"].startswith("no thumbnail: ")
