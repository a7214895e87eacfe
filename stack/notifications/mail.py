"""E-mail of notifications through the operator's SMTP server (`smtp_*` in the config).

Sending is blocking (`smtplib`) and slow (a remote server, TLS): it runs in a thread, from
the `notification-mail` job, never while a page is answered.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from roost.config import Config


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    sender: str
    starttls: bool
    user: str | None
    password: str | None
    timeout_seconds: float

    @classmethod
    def from_config(cls, config: Config) -> MailSettings | None:
        """None when the operator configured no SMTP server (or no sender address)."""
        if not config.smtp_host or not config.smtp_from:
            return None
        return cls(
            host=config.smtp_host,
            port=config.smtp_port,
            sender=config.smtp_from,
            starttls=config.smtp_starttls,
            user=config.smtp_user,
            password=config.smtp_password,
            timeout_seconds=config.smtp_timeout_seconds,
        )


def compose(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    # Header injection is impossible: EmailMessage refuses line breaks in header values,
    # and titles are single lines anyway. Only line breaks are folded: the no-break spaces
    # of a French amount ("1 750,00 EUR") stay.
    message["Subject"] = " ".join(subject.splitlines()).strip()
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver one message (blocking: call it in a thread)."""
    # Imported on the first e-mail: most boxes never send one (smtplib brings the email
    # package, several MB at rest).
    import smtplib

    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)
