"""Alarm e-mails waiting to be sent, in Redis: retried with backoff, never dropped silently.

Every process runs an :class:`Outbox` worker. A message is claimed by moving
its due time a lease ahead in one Lua step, so one process sends it; sent, it
is deleted; refused, it is due again after an exponential backoff; after
``max_attempts`` (or a permanent 5xx refusal) it moves to the dead list
(``<p>:mail:dead``) and an error is logged. A process dying mid-send leaves
it claimed until the lease ends, then it is sent again (at least once).

Keys: ``<p>:mail:msg`` (hash id → JSON), ``<p>:mail:due`` (sorted set id → due s),
``<p>:mail:dead`` (list of JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from email.message import EmailMessage

import redis.asyncio as redis_async

from ems.clock import Clock
from ems.cloud.alarms.smtp import MailRefused
from ems.cloud.background import BackgroundLoop

__all__ = ["Mail", "Outbox"]

log = logging.getLogger(__name__)

_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""


@dataclass(frozen=True, slots=True)
class Mail:
    to: list[str]
    subject: str
    body: str
    attempts: int = 0
    last_error: str | None = None

    def message(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(self.to)
        message["Subject"] = self.subject
        message.set_content(self.body)
        return message


Sender = Callable[[EmailMessage], Awaitable[None]]


class Outbox:
    def __init__(
        self,
        redis: redis_async.Redis,
        send: Sender,
        clock: Clock,
        *,
        sender: str = "ems@localhost",
        key_prefix: str = "ems",
        backoff_s: float = 30.0,
        max_backoff_s: float = 3600.0,
        max_attempts: int = 10,
        lease_s: float = 120.0,
        poll_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._send = send
        self._clock = clock
        self._sender = sender
        self._msg = f"{key_prefix}:mail:msg"
        self._due = f"{key_prefix}:mail:due"
        self.dead_key = f"{key_prefix}:mail:dead"
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._max_attempts = max_attempts
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._claim = redis.register_script(_CLAIM)
        self._wake = asyncio.Event()
        self._loop = BackgroundLoop("alarm-mail", self._run)
        self.sent = 0

    async def put(self, mail: Mail) -> None:
        mail_id = uuid.uuid4().hex
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._msg, mail_id, json.dumps(asdict(mail)))
            pipe.zadd(self._due, {mail_id: self._clock.time()})
            await pipe.execute()
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("alarm mail: outbox unreachable; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()

    async def send_due(self, batch: int = 20) -> int:
        """Send what is due now; returns how many were claimed."""
        now = self._clock.time()
        ids = await self._claim(
            keys=[self._due], args=[repr(now), repr(now + self._lease_s), str(batch)]
        )
        for raw_id in ids:
            await self._deliver(raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id))
        return len(ids)

    async def _deliver(self, mail_id: str) -> None:
        raw = await self._redis.hget(self._msg, mail_id)
        if raw is None:  # sent by another process whose lease had run out
            await self._redis.zrem(self._due, mail_id)
            return
        mail = Mail(**json.loads(raw))
        try:
            await self._send(mail.message(self._sender))
        except MailRefused as exc:
            await self._failed(mail_id, mail, str(exc), exc.permanent)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self._due, mail_id)
            pipe.hdel(self._msg, mail_id)
            await pipe.execute()
        self.sent += 1
        log.info("alarm mail sent to %d recipients: %s", len(mail.to), mail.subject)

    async def _failed(self, mail_id: str, mail: Mail, error: str, permanent: bool) -> None:
        attempts = mail.attempts + 1
        retry = Mail(mail.to, mail.subject, mail.body, attempts, error)
        if permanent or attempts >= self._max_attempts:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self._due, mail_id)
                pipe.hdel(self._msg, mail_id)
                pipe.rpush(self.dead_key, json.dumps(asdict(retry)))
                await pipe.execute()
            log.error(
                "alarm mail %r given up after %d attempts (%s); kept in %s",
                mail.subject,
                attempts,
                error,
                self.dead_key,
            )
            return
        delay_s = min(self._backoff_s * 2 ** (attempts - 1), self._max_backoff_s)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._msg, mail_id, json.dumps(asdict(retry)))
            pipe.zadd(self._due, {mail_id: self._clock.time() + delay_s})
            await pipe.execute()
        log.warning(
            "alarm mail %r not sent (%s), attempt %d; retrying in %.0f s",
            mail.subject,
            error,
            attempts,
            delay_s,
        )
