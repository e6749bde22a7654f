"""Building the cloud's report-mail parts from its settings.

The subscriptions live beside the alarm rules: in PostgreSQL with
``EMS_DATABASE_URL``, else in ``report_subscriptions.sqlite3`` in the data
directory. The mailer runs when ``EMS_SMTP_URL`` is set and ``EMS_REPORT_MAIL``
is true (the default); processes of a cluster claim each send, so one sends.
Without SMTP the routes still take subscriptions: they are sent once a
server is configured, each overdue period then going out in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from fastapi import APIRouter

from ems.clock import RealClock
from ems.cloud.alarms.smtp import parse_smtp_url, send_mail
from ems.cloud.auth.jwt import Claims
from ems.cloud.report_mail.mailer import ReportMailer
from ems.cloud.report_mail.postgres import subscription_store
from ems.cloud.report_mail.routes import subscription_router
from ems.cloud.report_mail.store import SubscriptionStore
from ems.cloud.settings import CloudSettings
from ems.cloud.telemetry.rollup import RollupReader
from ems.reports import ReportSite

__all__ = ["ReportMailParts", "build_report_mail"]

log = logging.getLogger(__name__)


@dataclass
class ReportMailParts:
    store: SubscriptionStore
    mailer: ReportMailer
    sending: bool

    async def start(self) -> None:
        await self.store.start()
        if self.sending:
            self.mailer.start()

    async def stop(self) -> None:
        await self.mailer.stop()
        await self.store.close()

    def router(self, verify: Callable[[str], Awaitable[Claims]]) -> APIRouter:
        return subscription_router(self.mailer, self.store, verify)


def build_report_mail(
    settings: CloudSettings, reports: RollupReader, sites: Mapping[str, ReportSite]
) -> ReportMailParts:
    store = subscription_store(settings.database_url, settings.data_dir)
    url = None if settings.smtp_url is None else settings.smtp_url.get_secret_value()
    target = parse_smtp_url(url) if url else None

    async def send(message: EmailMessage) -> None:
        if target is None:  # not reached: the mailer does not run without a target
            raise RuntimeError("no EMS_SMTP_URL")
        await send_mail(target, message)

    mailer = ReportMailer(
        store,
        reports,
        sites,
        send,
        RealClock(),
        sender=settings.smtp_from,
        delay_s=settings.report_mail_delay_s,
    )
    sending = target is not None and settings.report_mail
    if sending and target is not None:
        log.info("subscribed reports go out through %s", target.where)
    return ReportMailParts(store, mailer, sending)
