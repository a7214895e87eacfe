"""Notifications to the person: `io.cozy.notifications` documents, from apps, alerts and the
stack itself. `Notifications.create(...)` is the one way to raise one."""

from roost.notifications.service import (
    CATEGORIES,
    NOTIFICATIONS_DOCTYPE,
    Notification,
    Notifications,
)

__all__ = ["CATEGORIES", "NOTIFICATIONS_DOCTYPE", "Notification", "Notifications"]
