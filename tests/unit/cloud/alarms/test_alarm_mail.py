"""Alarm e-mail against a real SMTP server (aiosmtpd on loopback) and a real Redis."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as redis_async
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from alarm_cloud import frame

from ems.alarms import AlarmEvent, EscalationPolicy
from ems.clock import VirtualClock
from ems.cloud.alarms import (
    AlarmService,
    MailNotifier,
    Outbox,
    SharedAlarms,
    SqliteAlarmStore,
    parse_smtp_url,
    send_mail,
)
from support.processes import free_port

USERS = {
    ("site-1", "operator"): ["olga@example.test", "otto@example.test"],
    ("site-1", "admin"): ["ada@example.test"],
}


@dataclass
class Received:
    to: list[str]
    message: Message


@dataclass
class Handler:
    """Accepts every message, or answers ``refuse_with`` the next ``refusals`` times."""

    received: list[Received] = field(default_factory=list)
    refusals: int = 0
    refuse_with: str = "451 4.3.0 try again later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals > 0:
            self.refusals -= 1
            return self.refuse_with
        assert isinstance(envelope.content, bytes)
        self.received.append(
            Received(list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
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
class Mailroom:
    clock: VirtualClock
    outbox: Outbox
    handler: Handler
    redis: redis_async.Redis


@pytest_asyncio.fixture
async def mailroom(redis_url: str, smtp: tuple[Handler, int]) -> AsyncIterator[Mailroom]:
    handler, port = smtp
    client = redis_async.Redis.from_url(redis_url)
    clock = VirtualClock()
    target = parse_smtp_url(f"smtp://127.0.0.1:{port}")

    async def send(message: EmailMessage) -> None:
        await send_mail(target, message)

    outbox = Outbox(
        client,
        send,
        clock,
        sender="ems@example.test",
        key_prefix=f"t{uuid.uuid4().hex[:8]}",
        backoff_s=30.0,
        max_attempts=3,
    )
    try:
        yield Mailroom(clock, outbox, handler, client)
    finally:
        await client.aclose()


async def directory(edge_id: str, role: str) -> list[str]:
    return USERS.get((edge_id, role), [])


RULE = {
    "edge_id": "site-1",
    "channel": "battery_1/Soc",
    "operator": "<",
    "threshold": 10,
    "severity": "high",
}


@pytest.mark.asyncio
async def test_raise_mails_the_operators_then_escalates_to_admins(
    mailroom: Mailroom, tmp_path: Path
) -> None:
    store = SqliteAlarmStore(tmp_path / "alarms.sqlite3")
    await store.start()
    published: list[AlarmEvent] = []

    class NoBus:
        def publish(self, channel: str, data: str) -> None:
            pass

    service = AlarmService(
        mailroom.clock,
        store,
        SharedAlarms(mailroom.redis, key_prefix=f"t{uuid.uuid4().hex[:8]}"),
        bus=NoBus(),
        fan_out=published.append,
        notify=MailNotifier(directory, mailroom.outbox),
        escalation=EscalationPolicy(600.0),
    )
    await service.start()
    try:
        await service.put_rule("low-soc", RULE, "ada", create=True)
        service.frame("site-1", frame(mailroom.clock, battery_1__Soc=4.5))
        await service.settle()
        assert await mailroom.outbox.send_due() == 1

        [first] = mailroom.handler.received
        assert sorted(first.to) == ["olga@example.test", "otto@example.test"]
        assert first.message["From"] == "ems@example.test"
        assert first.message["Subject"] == ("[EMS] HIGH alarm low-soc on site-1: active_unacked")
        body = first.message.get_payload()
        assert isinstance(body, str)
        assert "Alarm:    site-1.rule.low-soc" in body
        assert "Value:    4.5" in body
        assert "POST /api/alarms/site-1.rule.low-soc/ack" in body

        mailroom.clock.advance(600)
        await service.upkeep({})
        assert await mailroom.outbox.send_due() == 1
        escalated = mailroom.handler.received[1]
        assert escalated.to == ["ada@example.test"]
        assert escalated.message["Subject"].endswith("(escalated to admin)")

        # Acknowledged: nothing more, however long it stays active.
        await service.acknowledge("site-1.rule.low-soc", "olga")
        mailroom.clock.advance(10 * 600)
        await service.upkeep({})
        assert await mailroom.outbox.send_due() == 0
    finally:
        await service.stop()
        await store.close()


@pytest.mark.asyncio
async def test_a_refused_send_is_retried_with_backoff(
    mailroom: Mailroom, caplog: pytest.LogCaptureFixture
) -> None:
    from ems.cloud.alarms import Mail

    mailroom.handler.refusals = 2
    await mailroom.outbox.put(Mail(["olga@example.test"], "subject", "body\n"))
    with caplog.at_level(logging.WARNING, "ems.cloud.alarms.outbox"):
        assert await mailroom.outbox.send_due() == 1  # refused: 451
        assert mailroom.handler.received == []
        mailroom.clock.advance(29)
        assert await mailroom.outbox.send_due() == 0  # not due before the backoff
        mailroom.clock.advance(1)
        assert await mailroom.outbox.send_due() == 1  # refused again: backoff doubles
        mailroom.clock.advance(59)
        assert await mailroom.outbox.send_due() == 0
        mailroom.clock.advance(1)
        assert await mailroom.outbox.send_due() == 1
    assert [r.to for r in mailroom.handler.received] == [["olga@example.test"]]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        len(warnings) == 2 and "answered 451" in warnings[0] and "retrying in 30 s" in warnings[0]
    )


@pytest.mark.asyncio
async def test_a_mail_given_up_is_kept_and_logged(
    mailroom: Mailroom, caplog: pytest.LogCaptureFixture
) -> None:
    from ems.cloud.alarms import Mail

    mailroom.handler.refusals = 1
    mailroom.handler.refuse_with = "550 5.1.1 no such mailbox"
    await mailroom.outbox.put(Mail(["nobody@example.test"], "lost?", "body\n"))
    with caplog.at_level(logging.ERROR, "ems.cloud.alarms.outbox"):
        await mailroom.outbox.send_due()
    assert any("given up" in r.getMessage() for r in caplog.records)
    dead = await mailroom.redis.lrange(mailroom.outbox.dead_key, 0, -1)  # type: ignore[misc]
    assert len(dead) == 1 and b"lost?" in dead[0] and b"550" in dead[0]
    mailroom.clock.advance(3600)
    assert await mailroom.outbox.send_due() == 0


def test_smtp_url_is_parsed_and_the_password_never_shown() -> None:
    target = parse_smtp_url("smtps://alerts%40example.test:s3cret@mail.example.test")
    assert (target.scheme, target.host, target.port) == ("smtps", "mail.example.test", 465)
    assert (target.username, target.password) == ("alerts@example.test", "s3cret")
    assert "s3cret" not in repr(target) and "s3cret" not in target.where
    assert parse_smtp_url("smtp://relay.example.test").port == 587
    for bad, part in (
        ("http://x", "scheme"),
        ("smtp://", "no host"),
        ("smtp://h:port", "port"),
    ):
        with pytest.raises(ValueError, match=part):
            parse_smtp_url(bad)
