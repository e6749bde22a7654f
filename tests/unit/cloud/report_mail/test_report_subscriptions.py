"""Scheduled report e-mail against a real SMTP server (aiosmtpd on loopback), on a virtual
clock: due at the site's local period end (a DST month and a DST day), the PDF
attached, a refused send retried and visible, subscriptions durable, and the
HTTP routes grant-checked."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage, Message
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pypdfium2 as pdfium
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI

from ems.clock import VirtualClock
from ems.cloud.alarms import parse_smtp_url, send_mail
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.report_mail import (
    NewSubscription,
    ReportMailer,
    SqliteSubscriptionStore,
    subscription_router,
)
from ems.cloud.telemetry import SqliteTelemetryStore, TelemetryRow
from ems.reports import ReportSite, SiteEntry
from ems.reports.period import PeriodKind
from support.processes import free_port

BERLIN = ZoneInfo("Europe/Berlin")
EDGE = "site-1"
DELAY_S = 900.0


def berlin(*args: int) -> float:
    return dt.datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


@dataclass
class Handler:
    received: list[Message] = field(default_factory=list)
    refusals: int = 0
    refuse_with: str = "451 4.3.0 try again later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals > 0:
            self.refusals -= 1
            return self.refuse_with
        assert isinstance(envelope.content, bytes)
        self.received.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@dataclass
class Room:
    clock: VirtualClock
    mailer: ReportMailer
    subs: SqliteSubscriptionStore
    handler: Handler
    path: Path


@pytest_asyncio.fixture
async def room(tmp_path: Path, smtp: tuple[Handler, int]) -> AsyncIterator[Room]:
    handler, port = smtp
    telemetry = SqliteTelemetryStore(tmp_path / "t.sqlite3")
    await telemetry.start()
    # A kilowatt imported every 5 min through March (the report has something to say).
    await telemetry.write(
        [
            TelemetryRow(t, EDGE, "_sum/GridActivePower", 1000.0, None)
            for t in range(int(berlin(2026, 3, 1)), int(berlin(2026, 4, 2)), 300)
        ]
    )
    subs = SqliteSubscriptionStore(tmp_path / "subs.sqlite3")
    await subs.start()
    clock = VirtualClock(berlin(2026, 3, 20, 12))
    target = parse_smtp_url(f"smtp://127.0.0.1:{port}")

    async def send(message: EmailMessage) -> None:
        await send_mail(target, message)

    site = ReportSite.build(EDGE, SiteEntry(timezone="Europe/Berlin"), tmp_path)
    mailer = ReportMailer(
        subs,
        telemetry,
        {EDGE: site},
        send,
        clock,
        sender="ems@example.test",
        delay_s=DELAY_S,
        backoff_s=60.0,
        max_attempts=3,
    )
    try:
        yield Room(clock, mailer, subs, handler, tmp_path)
    finally:
        await subs.close()
        await telemetry.close()


def monthly() -> NewSubscription:
    return NewSubscription(edge_id=EDGE, period=PeriodKind.MONTH, recipients=["ann@example.test"])


@pytest.mark.asyncio
async def test_a_monthly_report_arrives_at_the_local_month_end_with_its_pdf(room: Room) -> None:
    sub = await room.mailer.subscribe(monthly(), "ann")
    april_s = berlin(2026, 4, 1)  # 22:00 UTC on 31 March: CEST since the 29th
    assert sub.due_s == april_s + DELAY_S
    assert sub.period_first == dt.date(2026, 3, 1)

    room.clock.set_time(sub.due_s - 1)
    assert await room.mailer.send_due() == 0
    assert room.handler.received == []

    room.clock.set_time(sub.due_s)
    assert await room.mailer.send_due() == 1
    [mail] = room.handler.received
    assert mail["To"] == "ann@example.test"
    assert "2026-03-01 to 2026-03-31" in mail["Subject"]
    [pdf] = [p for p in mail.walk() if p.get_content_type() == "application/pdf"]
    payload = pdf.get_payload(decode=True)
    assert isinstance(payload, bytes)
    doc = pdfium.PdfDocument(payload)
    text = doc[0].get_textpage().get_text_range()
    assert "743 h" in text  # March in Berlin: one hour short
    assert "Europe/Berlin" in text

    [stored] = await room.subs.all()
    assert stored.last_sent_period == dt.date(2026, 3, 1)
    assert stored.period_first == dt.date(2026, 4, 1)
    assert stored.due_s == berlin(2026, 5, 1) + DELAY_S
    assert stored.as_json()["status"] == "scheduled"


@pytest.mark.asyncio
async def test_two_processes_send_a_period_once(room: Room) -> None:
    """A second mailer (another cloud process) on the same store: the claim lets one send."""
    sub = await room.mailer.subscribe(monthly(), "ann")
    other_subs = SqliteSubscriptionStore(room.path / "subs.sqlite3")
    await other_subs.start()
    try:
        other = ReportMailer(
            other_subs, room.mailer.reports, {}, room.mailer.send, room.clock, delay_s=DELAY_S
        )
        room.clock.set_time(sub.due_s)
        tried = await asyncio.gather(room.mailer.send_due(), other.send_due())
    finally:
        await other_subs.close()
    assert sorted(tried) == [0, 1]
    assert len(room.handler.received) == 1


@pytest.mark.asyncio
async def test_a_daily_report_on_the_dst_day_is_due_23_hours_after_the_last(room: Room) -> None:
    room.clock.set_time(berlin(2026, 3, 28, 18))
    daily = NewSubscription(edge_id=EDGE, period=PeriodKind.DAY, recipients=["bo@example.test"])
    sub = await room.mailer.subscribe(daily, "bo")
    room.clock.set_time(sub.due_s)
    assert await room.mailer.send_due() == 1
    [after] = await room.subs.all()
    assert after.period_first == dt.date(2026, 3, 29)
    assert after.due_s - sub.due_s == 23 * 3600


@pytest.mark.asyncio
async def test_a_refused_send_is_retried_and_visible(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    sub = await room.mailer.subscribe(monthly(), "ann")
    room.handler.refusals = 1
    room.clock.set_time(sub.due_s)
    await room.mailer.send_due()
    [retrying] = await room.subs.all()
    shown = retrying.as_json()
    assert shown["status"] == "retrying"
    assert shown["attempts"] == 1
    assert "451" in shown["last_error"]
    assert retrying.due_s == sub.due_s + 60.0
    assert "not sent" in caplog.text
    assert room.handler.received == []

    room.clock.advance(60.0)
    assert await room.mailer.send_due() == 1
    assert len(room.handler.received) == 1
    [sent] = await room.subs.all()
    assert (sent.as_json()["status"], sent.attempts, sent.last_error) == ("scheduled", 0, None)


@pytest.mark.asyncio
async def test_a_permanent_refusal_gives_up_on_the_period_only(room: Room) -> None:
    sub = await room.mailer.subscribe(monthly(), "ann")
    room.handler.refusals = 1
    room.handler.refuse_with = "550 5.1.1 no such mailbox"
    room.clock.set_time(sub.due_s)
    await room.mailer.send_due()
    [failed] = await room.subs.all()
    assert failed.as_json()["status"] == "failed"
    assert failed.period_first == dt.date(2026, 4, 1)  # next month still goes out
    assert failed.last_sent_period is None


@pytest.mark.asyncio
async def test_subscriptions_survive_a_restart(room: Room) -> None:
    sub = await room.mailer.subscribe(monthly(), "ann")
    await room.subs.close()
    again = SqliteSubscriptionStore(room.path / "subs.sqlite3")
    await again.start()
    try:
        assert await again.all() == [sub]
    finally:
        await again.close()


async def verify(token: str) -> Claims:
    now = time.time()
    edges = {"granted": frozenset({EDGE}), "other": frozenset({"site-2"})}.get(token)
    if edges is None:
        raise AuthError("invalid_token", "not a token")
    return Claims(token, "viewer", 2, now + 300, now, str(uuid.uuid4()), edges)


@pytest.mark.asyncio
async def test_the_routes_check_grants_and_name_bad_fields(room: Room) -> None:
    app = FastAPI()
    app.include_router(subscription_router(room.mailer, room.subs, verify))
    granted = {"Authorization": "Bearer granted"}
    other = {"Authorization": "Bearer other"}
    url = "/api/reports/subscriptions"
    body = {"edge_id": EDGE, "period": "week", "recipients": ["ann@example.test"]}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as c:
        assert (await c.post(url, json=body)).status_code == 401
        assert (await c.post(url, json=body, headers=other)).status_code == 404
        r = await c.post(url, json=body, headers=granted)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["status"] == "scheduled"
        assert created["next_period_first_day"] == "2026-03-16"  # the ISO week holding the 20th
        assert created["due"] == "2026-03-22T23:15:00.000Z"  # Monday 00:00 CET + 15 min
        for bad, where in [
            ({"period": "year"}, "period"),
            ({"recipients": ["not-an-address"]}, "recipients"),
            ({"recipients": ["a@b.test, evil@x.test"]}, "recipients"),
            ({"recipients": []}, "recipients"),
            ({"edge_id": "Site 1"}, "edge_id"),
            ({"extra": 1}, "extra"),
        ]:
            r = await c.post(url, json={**body, **bad}, headers=granted)
            assert r.status_code == 422, (bad, r.text)
            assert where in r.json()["detail"][0]["loc"], r.text
        assert [s["id"] for s in (await c.get(url, headers=granted)).json()] == [created["id"]]
        assert (await c.get(url, headers=other)).json() == []
        assert (await c.delete(f"{url}/{created['id']}", headers=other)).status_code == 404
        assert (await c.delete(f"{url}/{created['id']}", headers=granted)).status_code == 204
        assert (await c.delete(f"{url}/{created['id']}", headers=granted)).status_code == 404
        assert (await c.get(url, headers=granted)).json() == []
