"""Notifications to the person: `io.cozy.notifications` documents, from apps, alerts and the
stack itself. `Notifications.create(...)` is the one way to raise one; it may also queue an
e-mail (`mail.py`, `preferences.py`)."""

from roost.notifications.mail import MailSettings
from roost.notifications.preferences import MailPreference, MailPreferences, valid_address
from roost.notifications.service import (
    CATEGORIES,
    MAIL_WORKER,
    MAX_UNREAD,
    NOTIFICATIONS_DOCTYPE,
    Notification,
    Notifications,
)

__all__ = [
    "CATEGORIES",
    "MAIL_WORKER",
    "MAX_UNREAD",
    "NOTIFICATIONS_DOCTYPE",
    "MailPreference",
    "MailPreferences",
    "MailSettings",
    "Notification",
    "Notifications",
    "valid_address",
]
