"""`Notifications.create`: one `io.cozy.notifications` document per notification, in the
instance's own database, refused whole when malformed."""

from __future__ import annotations

import pytest

from roost.errors import BadRequest
from roost.instances import Instance
from roost.notifications import NOTIFICATIONS_DOCTYPE, Notification
from roost.services import Services


async def _stored(services: Services, instance: Instance) -> list[dict[str, object]]:
    db = instance.db(NOTIFICATIONS_DOCTYPE)
    if not await services.couch.db_exists(db):
        return []
    found = await services.couch.find(db, {"selector": {}, "limit": 100})
    return [doc for doc in found["docs"] if not str(doc["_id"]).startswith("_design")]


async def test_a_notification_is_stored_unread_with_its_source_and_link(
    services: Services, instance: Instance
) -> None:
    made = await services.notifications.create(
        instance,
        source="bank-connector",
        category="connector_failed",
        title="Your bank connector failed",
        message="The site did not answer.",
        link="/collect",
    )
    [doc] = await _stored(services, instance)
    assert Notification.from_doc(doc) == made
    assert made.read_at is None
    assert (made.source, made.category, made.link) == (
        "bank-connector",
        "connector_failed",
        "/collect",
    )


@pytest.mark.parametrize(
    ("title", "category", "link"),
    [
        ("", "info", None),
        ("x" * 201, "info", None),
        ("Hi", "gossip", None),
        ("Hi", "info", "https://evil.example/"),
    ],
)
async def test_a_malformed_notification_is_refused_and_nothing_is_written(
    services: Services, instance: Instance, title: str, category: str, link: str | None
) -> None:
    with pytest.raises(BadRequest):
        await services.notifications.create(
            instance, source="stack", title=title, category=category, link=link
        )
    assert await _stored(services, instance) == []
