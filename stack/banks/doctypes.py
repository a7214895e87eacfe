"""The doctypes Banks reads and writes, with Cozy's names so Cozy-shaped data stays portable."""

from __future__ import annotations

from typing import Final

ACCOUNTS_DOCTYPE: Final = "io.cozy.bank.accounts"
OPERATIONS_DOCTYPE: Final = "io.cozy.bank.operations"
BILLS_DOCTYPE: Final = "io.cozy.bills"
#: One document, `_id: "configuration"`, as in Cozy Banks: the person's alerts live there.
SETTINGS_DOCTYPE: Final = "io.cozy.bank.settings"
SETTINGS_ID: Final = "configuration"
#: Detected recurring operations (subscriptions, salary), one document per series.
RECURRENCE_DOCTYPE: Final = "io.cozy.bank.recurrence"
