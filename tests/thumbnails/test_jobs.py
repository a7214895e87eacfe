"""The `thumbnail` job: queued by the `@event` trigger for a picture arriving by any path
(here WebDAV and `/files`), it makes both sizes and writes the EXIF metadata into the file
document; a new content replaces them; deleting the file for good removes them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from roost.instances import Instance
from roost.jobs import DONE, ERRORED
from roost.permissions import PermissionSet
from roost.services import Services
from roost.thumbnails import TRIGGER_ID, WORKER
from roost.thumbnails.store import content_key
from tests.thumbnails.conftest import finished_jobs
from tests.thumbnails.pictures import encoded, halves, jpeg, png_bomb
from tests.web.files_support import FilesApi


@pytest.fixture
async def dav(
    client: httpx.AsyncClient, services: Services, instance: Instance
) -> httpx.AsyncClient:
    """The same in-process app, spoken to as a WebDAV client with an app password."""
    _, secret = await services.app_passwords.create(
        instance, "laptop", PermissionSet.from_inline("io.cozy.files")
    )
    client.auth = httpx.BasicAuth("me", secret)
    return client


async def thumbnail_files(services: Services, instance: Instance, file_id: str) -> set[str]:
    return await services.thumbnails.store.names(instance.domain, file_id)


async def test_a_webdav_put_gets_thumbnails_and_metadata_from_the_job(
    running_jobs: Services, dav: httpx.AsyncClient, instance: Instance, owner: FilesApi
) -> None:
    services = running_jobs
    photo = jpeg(
        orientation=6, taken="2021:07:14 18:30:00", offset="+02:00", gps=(48.8584, -2.2945)
    )
    put = await dav.put("/dav/files/holiday.jpg", content=photo)
    assert put.status_code == 201, put.text
    found = await services.vfs.lookup(instance, "/holiday.jpg")

    jobs = await finished_jobs(services, instance, found.id)
    assert jobs[0].state == DONE, jobs[0].error
    key = content_key(found)
    assert await thumbnail_files(services, instance, found.id) == {
        f"{key}/small.jpg",
        f"{key}/large.jpg",
    }

    attributes = await owner.attributes(found.id)
    assert attributes["metadata"] == {
        "extractor_version": 2,
        "datetime": "2021-07-14T18:30:00+02:00",
        "width": 400,
        "height": 200,
        "orientation": 6,
        "gps": {"lat": 48.8584, "long": -2.2945},
    }
    # The trigger is the instance's own, made once.
    triggers = await services.jobs.list_triggers(instance, worker=WORKER)
    assert [trigger.id for trigger in triggers] == [TRIGGER_ID]


async def test_new_content_replaces_the_thumbnails_and_deletion_removes_them(
    running_jobs: Services, dav: httpx.AsyncClient, instance: Instance, owner: FilesApi
) -> None:
    services = running_jobs
    assert (await dav.put("/dav/files/photo.jpg", content=jpeg())).status_code == 201
    first = await services.vfs.lookup(instance, "/photo.jpg")
    await finished_jobs(services, instance, first.id)
    old_key = content_key(first)
    assert f"{old_key}/small.jpg" in await thumbnail_files(services, instance, first.id)

    replaced = await dav.put("/dav/files/photo.jpg", content=jpeg(halves(300, 300)))
    assert replaced.status_code == 204
    second = await services.vfs.lookup(instance, "/photo.jpg")
    new_key = content_key(second)
    assert new_key != old_key
    jobs = await finished_jobs(services, instance, first.id, at_least=2)
    assert all(job.state == DONE for job in jobs)
    assert await thumbnail_files(services, instance, first.id) == {
        f"{new_key}/small.jpg",
        f"{new_key}/large.jpg",
    }

    # WebDAV DELETE moves to the trash: the thumbnails stay (the file can be restored)…
    assert (await dav.delete("/dav/files/photo.jpg")).status_code == 204
    assert await thumbnail_files(services, instance, first.id)
    # …and emptying the trash removes them with the bytes.
    assert (await owner.empty_trash()).status_code == 204
    assert await services.vfs.blobs.internal_ids(instance.domain, first.id) == []


async def test_destroying_one_file_removes_its_thumbnails(
    running_jobs: Services, instance: Instance, owner: FilesApi
) -> None:
    services = running_jobs
    file_id = await owner.upload_ok("gone.png", encoded(halves(), "PNG"))
    await finished_jobs(services, instance, file_id)
    assert await thumbnail_files(services, instance, file_id)

    assert (await owner.trash(file_id)).status_code == 200
    assert (await owner.destroy(file_id)).status_code == 204
    assert await services.vfs.blobs.internal_ids(instance.domain, file_id) == []


async def test_without_exif_the_file_date_is_the_datetime(
    running_jobs: Services, instance: Instance, owner: FilesApi
) -> None:
    services = running_jobs
    response = await owner.upload(
        "scan.png", encoded(halves(), "PNG"), params={"CreatedAt": "2019-03-04T05:06:07Z"}
    )
    assert response.status_code == 201, response.text
    file_id = response.json()["data"]["id"]
    await finished_jobs(services, instance, file_id)

    metadata = (await owner.attributes(file_id))["metadata"]
    assert metadata == {
        "extractor_version": 2,
        "datetime": "2019-03-04T05:06:07Z",
        "width": 400,
        "height": 200,
    }


async def test_a_bomb_fails_its_job_cleanly(
    running_jobs: Services, instance: Instance, owner: FilesApi, tmp_path: Path
) -> None:
    services = running_jobs
    file_id = await owner.upload_ok("bomb.png", png_bomb(tmp_path / "b.png").read_bytes())

    jobs = await finished_jobs(services, instance, file_id)
    assert jobs[-1].state == ERRORED
    assert "megapixels" in (jobs[-1].error or "")
    assert "metadata" not in await owner.attributes(file_id)

    # The runner and its workers go on with the next picture.
    next_id = await owner.upload_ok("next.jpg", jpeg())
    assert (await finished_jobs(services, instance, next_id))[0].state == DONE


async def test_other_files_queue_no_thumbnail_job(
    running_jobs: Services, instance: Instance, owner: FilesApi
) -> None:
    services = running_jobs
    file_id = await owner.upload_ok("notes.txt", b"words")
    photo_id = await owner.upload_ok("photo.jpg", jpeg())
    await finished_jobs(services, instance, photo_id)

    listed = await services.jobs.list_jobs(instance, worker=WORKER)
    assert all(job.message["event"]["doc"]["_id"] != file_id for job in listed)
