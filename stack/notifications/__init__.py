"""Notifications to the person: `io.cozy.notifications` documents, from apps, alerts and the
stack itself. `Notifications.create(...)` is the one way to raise one; it may also queue an
e-mail (`mail.py`, `preferences.py`). The stack's words (`words.py`) are said in the
instance's language (`language.py`)."""

from roost.notifications.language import InstanceLanguage
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
from roost.notifications.words import Day, Money, Text, Words, said

__all__ = [
    "CATEGORIES",
    "MAIL_WORKER",
    "MAX_UNREAD",
    "NOTIFICATIONS_DOCTYPE",
    "Day",
    "InstanceLanguage",
    "MailPreference",
    "MailPreferences",
    "MailSettings",
    "Money",
    "Notification",
    "Notifications",
    "Text",
    "Words",
    "said",
    "valid_address",
]
