"""Telemetry from the cycle to the socket, through a bounded queue.

After every cycle the link takes one snapshot of the input and output
channels and queues it with the next sequence number. The cycle never waits
for the network: when the queue is full the oldest snapshot is dropped and
counted. Frames are built (and validated) only when the socket is ready for
them, so a slow or absent cloud costs the cycle one snapshot and an append.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from ems.clock import Clock
from ems.dal import Category, ChannelStore, Sample, Snapshot
from ems.edge.link._wire import utc_datetime, wire_value
from ems.protocol import ChannelSample, EdgeTelemetry

__all__ = ["Captured", "TelemetryUplink"]

log = logging.getLogger(__name__)

#: Telemetry carries what devices report and what the edge tells them to do;
#: request and ack channels travel as commands and acks instead.
TELEMETRY_CATEGORIES = (Category.INPUT, Category.OUTPUT)
DROP_LOG_INTERVAL_S = 60.0  # at most one "frames dropped" warning per this [s]


@dataclass(frozen=True, slots=True)
class Captured:
    """One cycle's telemetry, waiting for the socket."""

    seq: int
    snapshot: Snapshot


class TelemetryUplink:
    """The bounded queue between cycle and socket, and the telemetry counters."""

    def __init__(
        self,
        store: ChannelStore,
        clock: Clock,
        maxlen: int,
        on_ready: Callable[[], None],
        marker: str | None = None,
    ) -> None:
        if maxlen < 1:
            raise ValueError("the telemetry queue must hold at least one frame")
        self._store = store
        self._clock = clock
        self._queue: deque[Captured] = deque(maxlen=maxlen)
        self._on_ready = on_ready
        # A channel every cycle rewrites (the cycle index): a capture that finds
        # the same sample there as the last one saw no new cycle and is skipped,
        # so captures that fall behind the cycle never send one state twice.
        self._marker = marker
        self._last_marker: Sample | None = None
        self._next_seq = 0
        self._bad_channels: set[str] = set()  # each invalid channel is logged once
        self._drops_unlogged = 0
        self._last_drop_log: float | None = None  # clock.monotonic() of the last warning
        self.frames_dropped = 0
        self.telemetry_sent = 0
        self.acked_seq: int | None = None  # highest seq the cloud confirmed storing

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def maxlen(self) -> int:
        return self._queue.maxlen or 0

    def capture(self) -> None:
        """Queue a snapshot of the store as the next frame (on the event loop, after a cycle)."""
        snapshot = self._store.snapshot(TELEMETRY_CATEGORIES)
        if self._marker is not None:
            marker = snapshot.get(self._marker)
            if marker is not None and marker is self._last_marker:
                return
            self._last_marker = marker
        if len(self._queue) == self._queue.maxlen:
            self._count_drop()  # the append below pushes the oldest frame out
        self._queue.append(Captured(self._next_seq, snapshot))
        self._next_seq += 1
        self._on_ready()

    def take(self) -> Captured | None:
        """The oldest queued frame, removed; :meth:`give_back` it if sending fails."""
        return self._queue.popleft() if self._queue else None

    def give_back(self, captured: Captured) -> None:
        """Put a frame the socket did not take back at the front of the queue."""
        if len(self._queue) == self._queue.maxlen:
            # Newer frames arrived meanwhile and filled the queue: this one is
            # now the oldest, so it is the one to drop.
            self._count_drop()
            return
        self._queue.appendleft(captured)

    def discard(self, captured: Captured) -> None:
        """Count a frame that cannot be sent at all as dropped."""
        self._count_drop()

    def frame(self, captured: Captured) -> EdgeTelemetry:
        """Build the wire frame; channels whose value the wire cannot carry are left out."""
        channels: dict[str, ChannelSample] = {}
        for address, sample in captured.snapshot.items():
            try:
                channels[address] = ChannelSample(
                    v=wire_value(sample.value), t=utc_datetime(sample.ts)
                )
            except (TypeError, ValidationError):
                if address not in self._bad_channels:
                    self._bad_channels.add(address)
                    log.warning("channel %s has a value telemetry cannot carry; left out", address)
        return EdgeTelemetry(
            type="telemetry",
            seq=captured.seq,
            ts=utc_datetime(captured.snapshot.taken_at),
            channels=channels,
        )

    def sent(self) -> None:
        self.telemetry_sent += 1

    def acked(self, seq: int) -> None:
        """Record a ``telemetry_ack``: the cloud stored frame ``seq``."""
        if self.acked_seq is None or seq > self.acked_seq:
            self.acked_seq = seq

    def _count_drop(self) -> None:
        self.frames_dropped += 1
        self._drops_unlogged += 1
        now = self._clock.monotonic()
        if self._last_drop_log is None or now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            log.warning(
                "telemetry queue full (%d frames): dropped the oldest %d frame(s), %d in total",
                self._queue.maxlen,
                self._drops_unlogged,
                self.frames_dropped,
            )
            self._last_drop_log = now
            self._drops_unlogged = 0
