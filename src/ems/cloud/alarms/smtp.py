"""Sending one e-mail over SMTP (``EMS_SMTP_URL``), on a worker thread.

``smtp://user:password@host:587``: plain SMTP upgraded with STARTTLS when the
server offers it; ``smtps://…:465``: TLS from the first byte. Credentials come
from the URL (an environment variable, never a file in the repository); they
are sent only over TLS, or to a server on loopback (a local relay, tests).
Neither the URL nor the password is ever logged: :attr:`SmtpTarget.where`
names the server only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

__all__ = ["MailRefused", "SmtpTarget", "parse_smtp_url", "send_mail"]

_DEFAULT_PORT = {"smtp": 587, "smtps": 465}


class MailRefused(Exception):
    """The server or the connection refused a message; ``permanent`` for a 5xx answer."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0

    @property
    def where(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp[s]://[user[:password]@]host[:port]``; raises ``ValueError`` naming the part."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORT:
        raise ValueError(f"EMS_SMTP_URL: scheme must be smtp or smtps, not {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("EMS_SMTP_URL: no host")
    try:
        port = parts.port or _DEFAULT_PORT[parts.scheme]
    except ValueError:
        raise ValueError("EMS_SMTP_URL: the port is not a number") from None
    return SmtpTarget(
        parts.scheme,
        parts.hostname,
        port,
        None if parts.username is None else unquote(parts.username),
        None if parts.password is None else unquote(parts.password),
    )


def _send(target: SmtpTarget, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if target.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                target.host, target.port, timeout=target.timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout_s)
        with client:
            encrypted = target.scheme == "smtps"
            if not encrypted:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                    encrypted = True
            if target.username is not None:
                if not (encrypted or target.loopback):
                    raise MailRefused(
                        f"{target.where} offers no TLS: credentials not sent", permanent=True
                    )
                client.login(target.username, target.password or "")
            client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise MailRefused(
            f"{target.where} answered {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        raise MailRefused(f"{target.where} refused the recipients ({codes})") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailRefused(f"{target.where}: {type(exc).__name__}") from None


async def send_mail(target: SmtpTarget, message: EmailMessage) -> None:
    """Send (blocking I/O on a worker thread); raises :class:`MailRefused`."""
    await asyncio.to_thread(_send, target, message)
