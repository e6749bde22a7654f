"""Redis pub/sub between cloud processes: fire-and-forget publishing, counted subscriptions.

DESIGN section 7: commands routed to the process holding an edge, acks to the
processes holding a user's dashboards, live telemetry to the processes with
subscribers. Pub/sub is at-most-once and this module keeps it that way on
purpose: commands rely on the in-flight watchdog (a lost one ends
``failed(edge_timeout)``), dashboards catch up on reconnect and live telemetry
is best effort. So publishing never blocks its caller and never raises: a
message goes into a local queue, and one task sends whatever queued up in one
pipelined round trip (a busy process pays one round trip per batch, not per
message). When Redis is unreachable the batch is dropped, counted and logged.

Subscriptions are reference-counted: the first :meth:`Bus.subscribe` of a
channel subscribes, the last :meth:`Bus.unsubscribe` unsubscribes. A first
subscribe returns once Redis confirmed it, so whatever is published after it
returns is received (unless Redis is unreachable; then it is applied when it
comes back). One task reads every message and hands it to ``on_message``;
after a lost connection redis-py reconnects and subscribes again to every
channel it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as redis_async
from redis.exceptions import RedisError

__all__ = ["Bus", "BusStats"]

log = logging.getLogger(__name__)

_MAX_BATCH = 1000  # messages per pipelined round trip
_MAX_BACKLOG = 100_000  # beyond this, new messages are dropped (Redis is down)
_RETRY_S = 0.5  # pause after a failed read before reading again
_CONFIRM_S = 2.0  # longest wait for Redis to confirm a subscription
_STOP_S = 2.0  # longest wait at stop for what is queued to be sent


@dataclass(slots=True)
class BusStats:
    published: int = 0
    dropped: int = 0  # not sent: Redis unreachable or the backlog full
    received: int = 0


class Bus:
    """Publishes to and reads from Redis channels for one cloud process.

    ``on_message(channel, data)`` is called on the event loop for every message
    of a subscribed channel; it must not block (and its exceptions are logged).
    """

    def __init__(
        self, redis: redis_async.Redis, on_message: Callable[[str, bytes], None] | None = None
    ) -> None:
        self._redis = redis
        self._on_message = on_message
        self._pubsub = redis.pubsub()
        self._outbox: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._counts: Counter[str] = Counter()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._any = asyncio.Event()  # set while subscribed to something
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = BusStats()

    async def start(
        self, *channels: str, on_message: Callable[[str, bytes], None] | None = None
    ) -> None:
        """Subscribe to ``channels`` (kept for the process's life) and start the tasks.

        ``on_message`` here, when the reader is only known once publishers exist
        (the cluster reads, the command path publishes through it first)."""
        if on_message is not None:
            self._on_message = on_message
        if self._on_message is None:
            raise ValueError("Bus.start: no on_message handler")
        for channel in channels:  # before the reader: it needs a subscribed connection
            self._counts[channel] += 1
            await self._pubsub.subscribe(channel)
            self._any.set()
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="bus-publish"),
            asyncio.create_task(self._read_loop(), name="bus-read"),
        ]

    async def stop(self) -> None:
        """Send what is queued (best effort, at most ``_STOP_S``), then stop reading."""
        self._stopping = True
        self._wake.set()
        # The publisher ends by itself once its outbox is empty: a pipeline is
        # never cut off halfway (the client's connection would be left unusable).
        if not self._tasks:  # never started
            return
        _, pending = await asyncio.wait(self._tasks[:1], timeout=_STOP_S)
        for task in [*pending, *self._tasks[1:]]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    # -- publishing ------------------------------------------------------------------
    def publish(self, channel: str, data: str) -> None:
        """Queue ``data`` for ``channel``; returns at once, never raises."""
        if len(self._outbox) >= _MAX_BACKLOG:
            self.stats.dropped += 1
            return
        self._outbox.append((channel, data))
        self._wake.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                try:
                    await self._flush()
                except (RedisError, OSError) as exc:
                    log.warning("bus: publishing failed (%r); dropped what was queued", exc)
                    self.stats.dropped += len(self._outbox)
                    self._outbox.clear()
            if self._stopping:
                return

    async def _flush(self) -> None:
        batch, self._outbox = self._outbox[:_MAX_BATCH], self._outbox[_MAX_BATCH:]
        if not batch:
            return
        pipe = self._redis.pipeline(transaction=False)
        for channel, data in batch:
            pipe.publish(channel, data)
        try:
            await pipe.execute()
        except (RedisError, OSError):
            self.stats.dropped += len(batch)
            raise
        self.stats.published += len(batch)

    # -- subscribing -----------------------------------------------------------------
    async def subscribe(self, channel: str) -> None:
        self._counts[channel] += 1
        if self._counts[channel] != 1:
            return
        confirmed = self._confirmations.setdefault(
            channel, asyncio.get_running_loop().create_future()
        )
        await self._change(self._pubsub.subscribe, channel)
        self._any.set()
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), _CONFIRM_S)
        except TimeoutError:
            log.warning("bus: no confirmation of the subscription to %s yet", channel)

    async def unsubscribe(self, channel: str) -> None:
        if self._counts[channel] <= 0:
            return
        self._counts[channel] -= 1
        if self._counts[channel] == 0:
            del self._counts[channel]
            await self._change(self._pubsub.unsubscribe, channel)

    def subscribed(self, channel: str) -> bool:
        return self._counts[channel] > 0

    @staticmethod
    async def _change(how: Callable[..., object], channel: str) -> None:
        try:
            await how(channel)  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            # redis-py subscribes again to what the PubSub holds when it reconnects.
            log.warning("bus: (un)subscribing %s failed (%r); applied on reconnect", channel, exc)

    async def _read_loop(self) -> None:
        while True:
            if not self._counts:
                # Reading needs a subscribed connection; until there is one, wait.
                self._any.clear()
                await self._any.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                log.warning("bus: reading failed (%r); reconnecting", exc)
                await asyncio.sleep(_RETRY_S)
                continue
            if message is None:
                continue
            channel = message["channel"]
            if message.get("type") == "subscribe":
                name = channel.decode() if isinstance(channel, bytes) else channel
                confirmed = self._confirmations.pop(name, None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
                continue
            if message.get("type") != "message":
                continue
            self.stats.received += 1
            handle = self._on_message
            assert handle is not None  # start() refuses to run without one
            try:
                handle(channel.decode() if isinstance(channel, bytes) else channel, message["data"])
            except Exception:
                log.exception("bus: handling a message of %s failed", channel)
