"""Rendering and mailing subscribed reports when their period ends, with retries.

Each subscription carries its own schedule (``period_first``, ``due_s``). When
``due_s`` has passed, the period starting ``period_first`` is built from the
store, rendered as PDF and mailed through the alarm core's SMTP client
(:func:`ems.cloud.alarms.smtp.send_mail`, ``EMS_SMTP_URL``). Sent: the next
period is scheduled, due ``delay_s`` after its local end (time for the last
telemetry, and backfill, to arrive). Refused: ``retrying``, due again after an
exponential backoff; after ``max_attempts`` or a permanent (5xx) refusal the
period is marked ``failed`` (logged as an error, shown in the listing) and the
next one scheduled. The report is rendered again on each attempt, so a retry
carries whatever data has arrived since.

Several cloud processes may run a mailer against one store: before an attempt
a process claims the subscription by moving its due time ``lease_s`` ahead
(compare-and-set on the due time), so one process sends; a process dying
mid-send leaves it to be tried again when the lease ends (at least once).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from email.message import EmailMessage

from ems.clock import Clock
from ems.cloud.alarms.smtp import MailRefused
from ems.cloud.background import BackgroundLoop
from ems.cloud.report_mail.model import MailStatus, NewSubscription, Subscription
from ems.cloud.report_mail.schedule import period_ending_after
from ems.cloud.report_mail.store import SubscriptionStore
from ems.cloud.telemetry.rollup import RollupReader
from ems.reports import Period, PeriodKind, ReportSite, build_report, render_pdf

__all__ = ["ReportMailer", "Sender"]

log = logging.getLogger(__name__)

Sender = Callable[[EmailMessage], Awaitable[None]]
_UTC = zoneinfo.ZoneInfo("UTC")
_ADJECTIVE = {PeriodKind.DAY: "daily", PeriodKind.WEEK: "weekly", PeriodKind.MONTH: "monthly"}


class ReportMailer:
    def __init__(
        self,
        store: SubscriptionStore,
        reports: RollupReader,
        sites: Mapping[str, ReportSite],
        send: Sender,
        clock: Clock,
        *,
        sender: str = "ems@localhost",
        delay_s: float = 900.0,
        backoff_s: float = 60.0,
        max_backoff_s: float = 3600.0,
        max_attempts: int = 8,
        poll_s: float = 60.0,
        lease_s: float = 600.0,
    ) -> None:
        self._store = store
        self._reports = reports
        self._sites = sites
        self._send = send
        self._clock = clock
        self._sender = sender
        self._delay_s = delay_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._max_attempts = max_attempts
        self._poll_s = poll_s
        self._lease_s = lease_s
        self._lock = asyncio.Lock()
        self._loop = BackgroundLoop("report-mail", self._run)

    @property
    def reports(self) -> RollupReader:
        return self._reports

    @property
    def send(self) -> Sender:
        return self._send

    def site(self, edge_id: str) -> ReportSite:
        return self._sites.get(edge_id) or ReportSite(edge_id, _UTC, None, None, None, None)

    async def subscribe(self, body: NewSubscription, user: str) -> Subscription:
        """Stored, and first due after the end of the current period."""
        now = self._clock.time()
        period = period_ending_after(body.period, now, self.site(body.edge_id).timezone)
        sub = Subscription(
            uuid.uuid4().hex,
            body.edge_id,
            body.period,
            tuple(body.recipients),
            user,
            now,
            period.first,
            period.end_s + self._delay_s,
        )
        await self._store.put(sub)
        return sub

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("report mail: store unreachable; retrying")
            await self._clock.sleep_until(self._clock.time() + self._poll_s)

    async def send_due(self) -> int:
        """Try every subscription whose time has come; returns how many were tried."""
        async with self._lock:
            now = self._clock.time()
            tried = 0
            for sub in await self._store.all():
                if sub.due_s > now or not await self._store.claim(sub, now + self._lease_s):
                    continue
                tried += 1
                await self._attempt(sub)
            return tried

    async def _attempt(self, sub: Subscription) -> None:
        site = self.site(sub.edge_id)
        period = Period.of(sub.period, sub.period_first, site.timezone)
        try:
            message = await self._message(sub, site, period)
            await self._send(message)
        except MailRefused as exc:
            await self._failed(sub, period, str(exc), exc.permanent)
            return
        now = self._clock.time()
        log.info(
            "report %s %s sent to %d recipients", sub.edge_id, period.first, len(sub.recipients)
        )
        await self._store.update(
            dataclasses.replace(
                self._next(sub, period),
                status=MailStatus.SCHEDULED,
                attempts=0,
                last_error=None,
                last_sent_period=period.first,
                last_sent_at_s=now,
            )
        )

    def _next(self, sub: Subscription, period: Period) -> Subscription:
        following = Period.of(sub.period, period.last, period.timezone)
        return dataclasses.replace(
            sub, period_first=following.first, due_s=following.end_s + self._delay_s
        )

    async def _failed(self, sub: Subscription, period: Period, error: str, permanent: bool) -> None:
        attempts = sub.attempts + 1
        if permanent or attempts >= self._max_attempts:
            log.error(
                "report %s %s not sent after %d attempts (%s); given up on this period",
                sub.edge_id,
                period.first,
                attempts,
                error,
            )
            failed = dataclasses.replace(
                self._next(sub, period),
                status=MailStatus.FAILED,
                attempts=attempts,
                last_error=error,
            )
            await self._store.update(failed)
            return
        delay_s = min(self._backoff_s * 2 ** (attempts - 1), self._max_backoff_s)
        log.warning(
            "report %s %s not sent (%s), attempt %d; retrying in %.0f s",
            sub.edge_id,
            period.first,
            error,
            attempts,
            delay_s,
        )
        await self._store.update(
            dataclasses.replace(
                sub,
                status=MailStatus.RETRYING,
                attempts=attempts,
                last_error=error,
                due_s=self._clock.time() + delay_s,
            )
        )

    async def _message(self, sub: Subscription, site: ReportSite, period: Period) -> EmailMessage:
        report = await build_report(self._reports, sub.edge_id, period, site)
        pdf = await asyncio.to_thread(render_pdf, report)
        energy = report.data["energy"]
        last_day = period.days()[-1]
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(sub.recipients)
        message["Subject"] = (
            f"Energy report {sub.edge_id}: {period.kind.value} {period.first} to {last_day}"
        )
        message.set_content(
            f"The {_ADJECTIVE[period.kind]} energy report of {sub.edge_id} "
            f"({period.first} to {last_day}, {site.timezone.key}) is attached.\n\n"
            f"Consumption {energy['consumption_kwh']:.1f} kWh, "
            f"production {energy['production_kwh']:.1f} kWh, "
            f"grid import {energy['grid_import_kwh']:.1f} kWh, "
            f"grid export {energy['grid_export_kwh']:.1f} kWh.\n"
        )
        message.add_attachment(
            pdf,
            maintype="application",
            subtype="pdf",
            filename=f"energy-{sub.edge_id}-{period.kind.value}-{period.first}.pdf",
        )
        return message
