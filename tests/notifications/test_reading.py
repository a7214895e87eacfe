"""Listing, counting and marking notifications; apps' `notify` goes through the service."""

from __future__ import annotations

import pytest

from roost.appstore.adapters import InstanceNotifier
from roost.errors import NotFound
from roost.instances import Instance
from roost.services import Services


async def test_unread_count_mark_read_and_mark_all(services: Services, instance: Instance) -> None:
    notes = services.notifications
    assert await notes.unread_count(instance) == 0
    assert await notes.recent(instance) == []
    first = await notes.create(instance, source="stack", title="First")
    second = await notes.create(instance, source="stack", title="Second", link="/banks")
    third = await notes.create(instance, source="stack", title="Third")
    assert await notes.unread_count(instance) == 3
    assert [note.title for note in await notes.recent(instance)] == ["Third", "Second", "First"]

    marked = await notes.mark_read(instance, second.id)
    assert marked.read_at is not None and marked.link == "/banks"
    again = await notes.mark_read(instance, second.id)
    assert again.read_at == marked.read_at  # reading twice changes nothing
    assert await notes.unread_count(instance) == 2
    assert await notes.mark_all_read(instance) == 2
    assert await notes.unread_count(instance) == 0
    assert {note.id for note in await notes.recent(instance)} == {first.id, second.id, third.id}


async def test_marking_a_missing_notification_is_not_found(
    services: Services, instance: Instance
) -> None:
    with pytest.raises(NotFound):
        await services.notifications.mark_read(instance, "no-such-notification")
    with pytest.raises(NotFound):
        await services.notifications.mark_read(instance, "_design/roost-notifications-unread")


async def test_an_apps_notify_is_a_notification_of_the_app(
    services: Services, instance: Instance
) -> None:
    answer = await InstanceNotifier(services.notifications, instance).notify(
        "health-bills", "Bill linked", "Your pharmacy bill was reimbursed."
    )
    [note] = await services.notifications.recent(instance)
    assert answer == {"id": note.id}
    assert (note.source, note.category, note.title) == ("health-bills", "app", "Bill linked")
