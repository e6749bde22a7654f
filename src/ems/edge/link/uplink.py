"""Telemetry from the cycle to the socket, through a durable buffer (DESIGN section 5).

After every cycle the link captures one snapshot of the input and output
channels as the next frame (``seq`` increases across restarts). Each frame
stays in the buffer (:mod:`.buffer`, SQLite on a worker thread) until the
cloud's ``telemetry_ack`` for it. The newest frame is always sent first, as
live telemetry; older frames still unacked (after an outage, a reconnect, or
an ack that never came) are backfilled oldest first with ``backfill: true``,
paced (``backfill_frames_per_s``) and with at most ``inflight_frames`` of
them sent and unacked, so live frames never wait behind a long backlog.

The cycle never waits for the buffer: a capture is an in-memory append; the
frames reach the disk in one transaction every ``flush_interval_s`` (or
sooner when many pile up), and a frame acked before that never touches the
disk. Everything here runs on the link's event loop; only :class:`FrameFile`
runs on the worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ems.clock import Clock
from ems.dal import Category, ChannelStore, Sample, Snapshot
from ems.edge.config import TelemetryConfig
from ems.edge.link._wire import utc_datetime, wire_value
from ems.edge.link.buffer import BufferedFrame, BufferState, FrameFile, Job, JobResult
from ems.protocol import ChannelSample, EdgeTelemetry, encode

__all__ = ["LINK_CHANNELS", "Outgoing", "TelemetryUplink", "as_backfill"]

log = logging.getLogger(__name__)

#: Telemetry carries what devices report and what the edge tells them to do;
#: request and ack channels travel as commands and acks instead.
TELEMETRY_CATEGORIES = (Category.INPUT, Category.OUTPUT)
DROP_LOG_INTERVAL_S = 60.0  # at most one "frames dropped" warning per this [s]
#: Seqs reserved on disk ahead of use; a restart continues after the reservation.
SEQ_BLOCK = 4096
#: Captured frames held in memory before a flush is started regardless of the interval.
MAX_PENDING = 256
#: Buffered frames read from disk per backfill page.
PAGE_FRAMES = 64
#: A buffer holding frames is visited at least this often, for the age bound [s].
AGE_CHECK_S = 60.0

LINK = "_link"
#: name -> unit of the link's own channels (in every telemetry frame).
LINK_CHANNELS = {
    "Connected": None,  # 1 while authenticated with the cloud
    "BufferFrames": None,  # frames not yet acked by the cloud
    "BufferOldestAgeS": "s",  # age of the oldest of them
    "FramesDropped": None,  # frames dropped unsent (size/age bound, lost file), cumulative
}

_LIVE_TAIL = ',"backfill":false}'
_BACKFILL_TAIL = ',"backfill":true}'


def as_backfill(body: str) -> str:
    """A live frame's JSON text, marked as backfill."""
    if body.endswith(_LIVE_TAIL):  # encode() writes the model's fields in order, backfill last
        return body[: -len(_LIVE_TAIL)] + _BACKFILL_TAIL
    frame = EdgeTelemetry.model_validate_json(body)
    return encode(frame.model_copy(update={"backfill": True}))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A frame to send now: its seq, its text, and whether it is the live one."""

    seq: int
    text: str
    live: bool


class TelemetryUplink:
    """The buffer between cycle and socket, the send schedule, and the telemetry counters.

    ``path`` is the buffer file (``None``: memory only). Call :meth:`start`
    on the event loop before use and :meth:`close` at the end.
    """

    def __init__(
        self,
        store: ChannelStore,
        clock: Clock,
        config: TelemetryConfig,
        path: Path | None,
        on_ready: Callable[[], None],
        marker: str | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._on_ready = on_ready
        # A channel every cycle rewrites (the cycle index): a capture that finds
        # the same sample there as the last one saw no new cycle and is skipped.
        self._marker = marker
        self._last_marker: Sample | None = None
        self._bad_channels: set[str] = set()  # each invalid channel is logged once
        self._file = FrameFile(
            path,
            max_bytes=max(1, int(config.buffer_max_mb * 2**20)),
            max_age_s=config.buffer_max_age_s,
        )
        # Opened here, before the cycle runs: seq must be known before the first capture.
        self._next_seq = self._file.open(clock.time())
        self._seq_reserved = self._next_seq + SEQ_BLOCK
        self._worker = concurrent.futures.ThreadPoolExecutor(1, "ems-telemetry-buffer")
        self._disk = self._file.state  # as of the last job
        self._pending: dict[int, BufferedFrame] = {}  # captured, not yet handed to the worker
        self._deletes: set[int] = set()  # acked, not yet deleted on disk
        self._jobs = 0  # jobs handed to the worker and not finished
        self._jobs_inserts = 0  # frames in those jobs to insert
        self._jobs_deletes = 0  # and to delete
        self._acked_since_read: set[int] = set()  # acks the running page read cannot know
        self._last_job_s = clock.monotonic()
        self._closed = False
        # The send schedule of the current session.
        self._live: BufferedFrame | None = None  # the newest capture, not yet sent
        # seq -> (monotonic send time, live?), in send order
        self._inflight: dict[int, tuple[float, bool]] = {}
        self._inflight_backfill = 0
        self._page: deque[BufferedFrame] = deque()  # backfill frames read, not yet sent
        self._cursor = -1  # backfill has read every frame up to this seq
        self._backlog_done = False
        self._reading = False
        self._generation = 0  # bumped when the schedule restarts: late reads are dropped
        self._tokens = 1.0
        self._tokens_at = clock.monotonic()
        self._connected = False
        # Counters (for /metrics and the _link channels).
        self.frames_captured = 0
        self.frames_sent_live = 0
        self.frames_sent_backfill = 0
        self.frames_acked = 0
        self.frames_resent = 0  # sent again after the ack timeout
        self.dropped_size = 0
        self.dropped_age = 0
        self.dropped_lost = 0  # with a damaged/unusable file, or unencodable
        self.acked_seq: int | None = None  # highest seq the cloud confirmed storing
        self._drops_unlogged = 0
        self._last_drop_log: float | None = None
        self._resends_unlogged = 0
        self._last_resend_log: float | None = None
        for name, unit in LINK_CHANNELS.items():
            store.declare(f"{LINK}/{name}", Category.INPUT, unit)

    # -- observable state ------------------------------------------------
    @property
    def durable(self) -> bool:
        return self._file.durable

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def frames_dropped(self) -> int:
        return self.dropped_size + self.dropped_age + self.dropped_lost

    @property
    def telemetry_sent(self) -> int:
        return self.frames_sent_live + self.frames_sent_backfill

    @property
    def depth(self) -> int:
        """Frames not yet acked: on disk and still in memory."""
        on_disk = self._disk.frames + self._jobs_inserts - self._jobs_deletes - len(self._deletes)
        return max(0, on_disk) + len(self._pending)

    @property
    def buffer_bytes(self) -> int:
        """Compressed bytes on disk (as of the last flush)."""
        return self._disk.bytes

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def oldest_age_s(self) -> float:
        """Age of the oldest frame not yet acked [s]; 0 when there is none."""
        times = [f.ts for f in tuple(self._pending.values())]  # also read by /metrics
        if self._disk.oldest_ts is not None and self._disk.frames > len(self._deletes):
            times.append(self._disk.oldest_ts)
        return max(0.0, self._clock.time() - min(times)) if times else 0.0

    def __len__(self) -> int:
        return self.depth

    # -- capture (after every cycle) --------------------------------------
    def capture(self) -> None:
        """Buffer a snapshot of the store as the next frame (on the event loop, after a cycle)."""
        if self._closed:
            return
        marker_sample = self._store.get_channel(self._marker) if self._marker else None
        if self._marker is not None:
            if marker_sample is not None and marker_sample is self._last_marker:
                return
            self._last_marker = marker_sample
        self._store.set_channels(
            {
                f"{LINK}/Connected": self._connected,
                f"{LINK}/BufferFrames": self.depth,
                f"{LINK}/BufferOldestAgeS": round(self.oldest_age_s(), 3),
                f"{LINK}/FramesDropped": self.frames_dropped,
            }
        )
        snapshot = self._store.snapshot(TELEMETRY_CATEGORIES)
        seq = self._allocate_seq()
        try:
            body = encode(self._frame(seq, snapshot))
        except Exception:
            log.exception("telemetry frame %d cannot be encoded; dropped", seq)
            self._count_drops(lost=1)
            return
        frame = BufferedFrame(seq, snapshot.taken_at, body)
        self.frames_captured += 1
        if self._live is not None:
            self._backlog_done = False  # it was overtaken: backfill sends it
        self._live = frame
        self._pending[seq] = frame
        if len(self._pending) >= MAX_PENDING:
            self._submit(self._job())
        self._on_ready()

    def _allocate_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        if self._next_seq > self._seq_reserved - SEQ_BLOCK // 2:
            # Reserve the next block long before this one runs out; the next job writes it.
            self._seq_reserved = self._next_seq + SEQ_BLOCK
        return seq

    def _frame(self, seq: int, snapshot: Snapshot) -> EdgeTelemetry:
        """The wire frame; channels whose value the wire cannot carry are left out."""
        channels: dict[str, ChannelSample] = {}
        for address, sample in snapshot.items():
            try:
                channels[address] = ChannelSample(
                    v=wire_value(sample.value), t=utc_datetime(sample.ts)
                )
            except (TypeError, ValidationError):
                if address not in self._bad_channels:
                    self._bad_channels.add(address)
                    log.warning("channel %s has a value telemetry cannot carry; left out", address)
        return EdgeTelemetry(
            type="telemetry", seq=seq, ts=utc_datetime(snapshot.taken_at), channels=channels
        )

    # -- the session's send schedule ---------------------------------------
    def session_started(self) -> None:
        """A connection is up: everything unacked is backfilled, newest capture first."""
        self._restart_schedule()
        self._connected = True

    def session_ended(self) -> None:
        """The connection is gone: what was in flight stays buffered for the next one."""
        self._restart_schedule()
        self._connected = False

    def _restart_schedule(self) -> None:
        self._inflight.clear()
        self._inflight_backfill = 0
        self._page.clear()
        self._cursor = -1
        self._backlog_done = False
        self._generation += 1

    def next_out(self) -> Outgoing | None:
        """The frame to send now, if any: the live one first, then paced backfill."""
        now = self._clock.monotonic()
        self._expire_inflight(now)
        if self._live is not None:
            frame, self._live = self._live, None
            self._inflight[frame.seq] = (now, True)
            return Outgoing(frame.seq, frame.body, True)
        while self._page and self._inflight_backfill < self._config.inflight_frames:
            if self._take_token(now) > 0:
                return None
            frame = self._page.popleft()
            if frame.seq in self._inflight:
                self._tokens += 1.0  # not sent: give the token back
                continue
            self._inflight[frame.seq] = (now, False)
            self._inflight_backfill += 1
            return Outgoing(frame.seq, as_backfill(frame.body), False)
        if not self._page and not self._backlog_done and not self._reading:
            self._read_page()
        return None

    def sent(self, out: Outgoing) -> None:
        if out.live:
            self.frames_sent_live += 1
        else:
            self.frames_sent_backfill += 1

    def next_timer(self) -> float | None:
        """Monotonic time at which :meth:`next_out` may have something new, if any."""
        times: list[float] = []
        if self._inflight:
            first, _ = next(iter(self._inflight.values()))
            times.append(first + self._config.ack_timeout_s)
        if self._page and self._inflight_backfill < self._config.inflight_frames:
            rate = self._config.backfill_frames_per_s
            times.append(self._tokens_at + (1.0 - self._tokens) / rate)
        return min(times) if times else None

    def _take_token(self, now: float) -> float:
        """Take one backfill token; returns how long to wait for one instead [s] (0: taken)."""
        rate = self._config.backfill_frames_per_s
        burst = max(1.0, min(float(self._config.inflight_frames), rate))
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1.0 - 1e-9:  # float steps must not leave a token at 0.9999…
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / rate

    def _expire_inflight(self, now: float) -> None:
        """Frames sent longer than ``ack_timeout_s`` ago without an ack are sent again."""
        timeout = self._config.ack_timeout_s
        expired: list[int] = []
        for seq, (sent_at, _) in self._inflight.items():
            if sent_at + timeout > now:
                break  # send order: the rest are younger
            expired.append(seq)
        if not expired:
            return
        for seq in expired:
            if not self._inflight.pop(seq)[1]:
                self._inflight_backfill -= 1
        self.frames_resent += len(expired)
        self._resends_unlogged += len(expired)
        # While the cloud cannot store (its database down), this happens every
        # cycle: one line a minute says it.
        if self._last_resend_log is None or now - self._last_resend_log >= DROP_LOG_INTERVAL_S:
            log.warning(
                "%d telemetry frame(s) not acked within %.0f s; sending them again (%d in total)",
                self._resends_unlogged,
                timeout,
                self.frames_resent,
            )
            self._last_resend_log = now
            self._resends_unlogged = 0
        self._cursor = min(self._cursor, min(expired) - 1)
        self._page.clear()
        self._backlog_done = False
        self._generation += 1

    def acked(self, seq: int) -> None:
        """Record a ``telemetry_ack``: the cloud stored frame ``seq``; it leaves the buffer."""
        if seq >= self._next_seq or seq < 0:
            log.debug("telemetry_ack for unknown seq %d ignored", seq)
            return
        sent = self._inflight.pop(seq, None)
        if sent is not None:
            self.frames_acked += 1
            if not sent[1]:
                self._inflight_backfill -= 1
            if self._page or not self._backlog_done:
                self._on_ready()  # the window has room again
        if self.acked_seq is None or seq > self.acked_seq:
            self.acked_seq = seq
        if self._reading:
            self._acked_since_read.add(seq)
        if sent is None and self._page:
            # Read before this (late) ack: it must not be sent again.
            self._page = deque(f for f in self._page if f.seq != seq)
        if self._pending.pop(seq, None) is None:
            self._deletes.add(seq)  # a duplicate ack deletes nothing: harmless
        if self._live is not None and self._live.seq == seq:
            self._live = None

    # -- the worker ------------------------------------------------------
    def _read_page(self) -> None:
        below = self._live.seq if self._live is not None else self._next_seq
        job = self._job(read_after=self._cursor, read_below=below)
        self._acked_since_read.clear()
        self._reading = True
        generation = self._generation
        future = self._submit(job)
        if future is None:
            self._reading = False
            return

        def done(result: asyncio.Future[JobResult]) -> None:
            self._reading = False
            if result.cancelled() or result.exception() is not None:
                return
            if generation != self._generation:
                self._on_ready()  # the schedule restarted meanwhile: read again
                return
            rows = result.result().read
            if rows:
                self._cursor = max(self._cursor, rows[-1].seq)
            if len(rows) < PAGE_FRAMES:
                self._backlog_done = True
            acked = self._acked_since_read
            self._page.extend(r for r in rows if r.seq not in self._inflight and r.seq not in acked)
            acked.clear()
            self._on_ready()

        future.add_done_callback(done)

    def _job(self, **read: int) -> Job:
        job = Job(
            now_s=self._clock.time(),
            seq_reserved=self._seq_reserved,
            inserts=list(self._pending.values()),
            deletes=sorted(self._deletes),
        )
        if read:
            job.read_after = read["read_after"]
            job.read_below = read["read_below"]
            job.read_limit = PAGE_FRAMES
        self._pending.clear()
        self._deletes.clear()
        return job

    def _submit(self, job: Job) -> asyncio.Future[JobResult] | None:
        if self._closed:
            return None
        self._last_job_s = self._clock.monotonic()
        self._jobs += 1
        self._jobs_inserts += len(job.inserts)
        self._jobs_deletes += len(job.deletes)
        future = asyncio.wrap_future(self._worker.submit(self._file.run, job))
        future.add_done_callback(lambda f: self._job_done(f, job))
        return future

    def _job_done(self, future: asyncio.Future[JobResult], job: Job) -> None:
        self._jobs -= 1
        self._jobs_inserts -= len(job.inserts)
        self._jobs_deletes -= len(job.deletes)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error(
                "telemetry buffer write failed: %r; %d frame(s) lost", error, len(job.inserts)
            )
            self._count_drops(lost=len(job.inserts))
            return
        result = future.result()
        self._disk = result.state
        self._count_drops(size=result.dropped_size, age=result.dropped_age, lost=result.lost)

    async def flush(self) -> BufferState:
        """Hand everything captured and acked so far to the disk, and wait for it."""
        future = self._submit(self._job())
        if future is not None:
            await future
        return self._disk

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every ``flush_interval_s`` until ``stop`` is set (a task of the link)."""
        interval = self._config.flush_interval_s
        while not stop.is_set():
            await self._clock.sleep_until(self._clock.monotonic() + interval)
            if (
                self._pending
                or self._deletes
                or (
                    self._disk.frames
                    and self._clock.monotonic() - self._last_job_s >= AGE_CHECK_S
                    and not self._jobs
                )
            ):
                self._submit(self._job())

    async def close(self) -> None:
        """Write what is still in memory, then close the file. Idempotent."""
        if self._closed:
            return
        try:
            await self.flush()
        except Exception:
            log.exception("final telemetry buffer flush failed")
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._worker, self._file.close)
        self._worker.shutdown(wait=True)

    # -- drops -----------------------------------------------------------
    def _count_drops(self, *, size: int = 0, age: int = 0, lost: int = 0) -> None:
        total = size + age + lost
        if not total:
            return
        self.dropped_size += size
        self.dropped_age += age
        self.dropped_lost += lost
        self._drops_unlogged += total
        now = self._clock.monotonic()
        if self._last_drop_log is None or now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            log.warning(
                "telemetry buffer: dropped the oldest %d frame(s) unsent (%d in total: %d over "
                "the size bound, %d over the age bound, %d lost)",
                self._drops_unlogged,
                self.frames_dropped,
                self.dropped_size,
                self.dropped_age,
                self.dropped_lost,
            )
            self._last_drop_log = now
            self._drops_unlogged = 0
