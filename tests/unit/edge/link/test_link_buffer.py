"""The telemetry buffer and its send schedule on their own, on a virtual clock.

The "cloud" here is the test: it takes what :meth:`TelemetryUplink.next_out`
hands out and acks what it likes, so windows, pacing and bounds are exact.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ems.clock import VirtualClock
from ems.dal import Category, ChannelStore
from ems.edge.config import TelemetryConfig
from ems.edge.link import Outgoing, TelemetryUplink
from ems.edge.link.uplink import as_backfill
from ems.protocol import EDGE_TO_CLOUD, EdgeTelemetry

pytestmark = pytest.mark.asyncio

BUFFER = "telemetry-buffer.sqlite3"


def make_store(clock: VirtualClock) -> ChannelStore:
    store = ChannelStore(clock)
    store.declare("battery_1/Soc", Category.INPUT, "%")
    store.declare("battery_1/SetActivePower", Category.OUTPUT, "W")
    store.declare("ui_requests/battery_1_power", Category.REQUEST)
    store.declare("_cycle/Index", Category.INPUT)
    return store


class Edge:
    """A store, a clock and an uplink on a buffer file; ``cycle()`` is one cycle's capture."""

    def __init__(self, path: Path | None, clock: VirtualClock | None = None, **config: Any) -> None:
        self.clock = clock or VirtualClock()
        self.store = make_store(self.clock)
        self.config = TelemetryConfig(**config)
        self.ready = 0
        self.uplink = TelemetryUplink(
            self.store, self.clock, self.config, path, self._ready, marker="_cycle/Index"
        )
        self.index = 0

    def _ready(self) -> None:
        self.ready += 1

    def cycle(self, advance_s: float = 1.0) -> None:
        self.clock.advance(advance_s)
        self.store.set_channel("battery_1/Soc", 50.0 + self.index / 100)
        self.store.set_channel("_cycle/Index", self.index)
        self.index += 1
        self.uplink.capture()

    async def drain(self, *, ack: bool = True, max_frames: int = 100_000) -> list[EdgeTelemetry]:
        """Send until nothing more goes out (advancing time for the pacing); ack each."""
        frames: list[EdgeTelemetry] = []
        idle = 0
        while len(frames) < max_frames and idle < 50:
            out = self.uplink.next_out()
            if out is None:
                idle += 1
                await self.uplink.flush()  # lets a page read finish
                # Time moves only as far as the pacing needs (never to an ack timeout).
                timer = self.uplink.next_timer()
                if timer is not None:
                    step_s = 1.0 / self.config.backfill_frames_per_s
                    await self.clock.advance_async(
                        min(step_s, max(0.0, timer - self.clock.monotonic()))
                    )
                continue
            idle = 0
            frames.append(decode(out))
            self.uplink.sent(out)
            if ack:
                self.uplink.acked(out.seq)
        return frames


def decode(out: Outgoing) -> EdgeTelemetry:
    frame = EDGE_TO_CLOUD.decode(out.text)
    assert isinstance(frame, EdgeTelemetry), frame
    assert frame.seq == out.seq
    assert frame.backfill is not out.live
    return frame


@pytest_asyncio.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    e = Edge(tmp_path / BUFFER)
    yield e
    await e.uplink.close()


# -- frames ----------------------------------------------------------------------
async def test_frames_carry_inputs_and_outputs_with_their_timestamps(edge: Edge) -> None:
    edge.store.set_channel("battery_1/SetActivePower", -2000)
    edge.store.set_channel("ui_requests/battery_1_power", {"command_id": "x"})
    edge.cycle()
    edge.uplink.session_started()
    out = edge.uplink.next_out()
    assert out is not None and out.live
    frame = decode(out)
    assert frame.seq == 0
    assert "ui_requests/battery_1_power" not in frame.channels
    assert frame.channels["battery_1/SetActivePower"].v == -2000
    assert frame.channels["battery_1/Soc"].t == datetime.fromtimestamp(edge.clock.time(), UTC)
    assert frame.channels["_link/Connected"].v is False  # captured before the session
    assert frame.ts == datetime.fromtimestamp(edge.clock.time(), UTC)


async def test_a_value_the_wire_cannot_carry_is_left_out(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    edge.store.set_channel("battery_1/SetActivePower", "x" * 300)  # over the wire's 256 chars
    with caplog.at_level(logging.WARNING, logger="ems.edge.link.uplink"):
        edge.cycle()
        edge.cycle()
    edge.uplink.session_started()
    frames = await edge.drain()
    assert [f.seq for f in frames] == [1, 0]  # live first, then the one it overtook
    assert all("battery_1/SetActivePower" not in f.channels for f in frames)
    assert len([r for r in caplog.records if "cannot carry" in r.getMessage()]) == 1


async def test_captures_without_a_new_cycle_are_skipped(edge: Edge) -> None:
    edge.cycle()
    edge.uplink.capture()  # no new cycle index
    edge.cycle()
    assert edge.uplink.frames_captured == 2
    assert edge.uplink.depth == 2


async def test_the_backfill_mark_survives_any_encoding() -> None:
    frame = EdgeTelemetry(type="telemetry", seq=3, ts=datetime.now(UTC), channels={})
    marked = EDGE_TO_CLOUD.decode(as_backfill(frame.model_dump_json()))
    assert isinstance(marked, EdgeTelemetry) and marked.backfill and marked.seq == 3
    reordered = json.dumps(dict(reversed(list(json.loads(frame.model_dump_json()).items()))))
    marked = EDGE_TO_CLOUD.decode(as_backfill(reordered))
    assert isinstance(marked, EdgeTelemetry) and marked.backfill


# -- the schedule ----------------------------------------------------------------
async def test_ten_minute_outage_is_backfilled_in_order_and_acked(edge: Edge) -> None:
    for _ in range(600):  # 10 min at 1 s, nobody listening
        edge.cycle()
    await edge.uplink.flush()
    assert edge.uplink.depth == 600
    edge.uplink.session_started()
    frames = await edge.drain()
    assert frames[0].seq == 599 and not frames[0].backfill  # the newest goes out live
    backfill = [f.seq for f in frames[1:]]
    assert backfill == list(range(599))  # then the rest, oldest first, each once
    assert all(f.backfill for f in frames[1:])
    assert edge.uplink.frames_acked == 600
    await edge.uplink.flush()
    assert edge.uplink.depth == 0
    assert edge.uplink.frames_dropped == 0


async def test_live_frames_go_out_at_once_while_a_backlog_is_paced(edge: Edge) -> None:
    for _ in range(300):
        edge.cycle()
    edge.uplink.session_started()
    sent: list[Outgoing] = []
    t0 = edge.clock.monotonic()
    # Ten more seconds of cycles; the cloud acks everything it gets at once.
    for _ in range(10):
        edge.cycle()
        while (out := edge.uplink.next_out()) is not None:
            sent.append(out)
            edge.uplink.sent(out)
            edge.uplink.acked(out.seq)
        await edge.uplink.flush()
        while (out := edge.uplink.next_out()) is not None:
            sent.append(out)
            edge.uplink.sent(out)
            edge.uplink.acked(out.seq)
    live = [o.seq for o in sent if o.live]
    backfill = [o.seq for o in sent if not o.live]
    assert live == list(range(300, 310))  # every cycle's frame went out live, at once
    rate = edge.config.backfill_frames_per_s
    elapsed = edge.clock.monotonic() - t0
    assert 0 < len(backfill) <= rate * elapsed + edge.config.inflight_frames  # paced
    assert backfill == sorted(backfill)  # oldest first
    assert edge.uplink.depth == 300 - len(backfill)


async def test_backfill_waits_for_acks_beyond_its_window(tmp_path: Path) -> None:
    edge = Edge(tmp_path / BUFFER, inflight_frames=4, backfill_frames_per_s=1000)
    try:
        for _ in range(20):
            edge.cycle()
        edge.uplink.session_started()
        first = await edge.drain(ack=False)
        assert [f.seq for f in first] == [19, 0, 1, 2, 3]  # live, then a window of 4
        edge.cycle()  # a new cycle: live goes out although the window is full
        out = edge.uplink.next_out()
        assert out is not None and out.live and out.seq == 20
        assert edge.uplink.next_out() is None
        edge.uplink.acked(0)
        edge.uplink.acked(1)
        more = await edge.drain(ack=False)
        assert [f.seq for f in more] == [4, 5]
    finally:
        await edge.uplink.close()


async def test_frames_without_an_ack_are_sent_again_after_the_timeout(tmp_path: Path) -> None:
    edge = Edge(tmp_path / BUFFER, ack_timeout_s=10)
    try:
        for _ in range(3):
            edge.cycle()
        edge.uplink.session_started()
        first = await edge.drain(ack=False)
        assert [f.seq for f in first] == [2, 0, 1]
        edge.uplink.acked(0)  # the cloud stored only this one
        await edge.clock.advance_async(11)
        again = await edge.drain()
        assert [f.seq for f in again] == [1, 2]
        assert all(f.backfill for f in again)
        assert edge.uplink.frames_resent == 2
        await edge.uplink.flush()
        assert edge.uplink.depth == 0
    finally:
        await edge.uplink.close()


async def test_a_reconnect_backfills_what_was_in_flight(edge: Edge) -> None:
    for _ in range(3):
        edge.cycle()
    edge.uplink.session_started()
    first = await edge.drain(ack=False)
    assert len(first) == 3
    edge.uplink.session_ended()  # the acks never came
    edge.cycle()
    edge.uplink.session_started()
    again = await edge.drain()
    assert [f.seq for f in again] == [3, 0, 1, 2]


async def test_duplicate_and_unknown_acks_are_harmless(edge: Edge) -> None:
    for _ in range(3):
        edge.cycle()
    edge.uplink.session_started()
    frames = await edge.drain(ack=False)
    for seq in (0, 0, 10**12, -5, 1):
        edge.uplink.acked(seq)
    await edge.uplink.flush()
    edge.uplink.acked(0)  # after it left the disk
    await edge.uplink.flush()
    assert [f.seq for f in frames] == [2, 0, 1]
    assert edge.uplink.frames_acked == 2
    assert edge.uplink.depth == 1  # only seq 2 is still unacked
    assert edge.uplink.acked_seq == 1
    edge.uplink.session_ended()
    edge.uplink.session_started()
    assert [f.seq for f in await edge.drain()] == [2]


# -- bounds ----------------------------------------------------------------------
async def test_the_size_bound_drops_the_oldest_first_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edge = Edge(tmp_path / BUFFER, buffer_max_mb=0.002)  # about 2 KB: a few frames
    try:
        with caplog.at_level(logging.WARNING, logger="ems.edge.link.uplink"):
            for _ in range(200):
                edge.cycle()
                await edge.uplink.flush()
        kept = edge.uplink.depth
        assert 1 <= kept < 200
        assert edge.uplink.dropped_size == 200 - kept
        assert edge.uplink.buffer_bytes <= 0.002 * 2**20
        drops = [r for r in caplog.records if "dropped the oldest" in r.getMessage()]
        assert 1 <= len(drops) <= 5  # 200 s of drops: rate-limited, not one line each
        edge.uplink.session_started()
        frames = await edge.drain()
        assert sorted(f.seq for f in frames) == list(range(200 - kept, 200))  # the newest kept
        reported = edge.store.get_channel("_link/FramesDropped")  # as of the last capture
        assert reported is not None and 0 < reported.value <= 200 - kept  # type: ignore[operator]
    finally:
        await edge.uplink.close()


async def test_the_age_bound_drops_old_frames(tmp_path: Path) -> None:
    edge = Edge(tmp_path / BUFFER, buffer_max_age_s=100)
    try:
        for _ in range(150):
            edge.cycle()
        await edge.uplink.flush()
        # Frame k (seq k - 1) was taken at k s; at 150 s those before 50 s are too old.
        assert edge.uplink.dropped_age == 49
        assert edge.uplink.depth == 101
        assert edge.uplink.oldest_age_s() <= 100
        edge.uplink.session_started()
        frames = await edge.drain()
        assert sorted(f.seq for f in frames) == list(range(49, 150))
    finally:
        await edge.uplink.close()


# -- across restarts and failures -------------------------------------------------
async def test_seq_and_unacked_frames_survive_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Edge(tmp_path / BUFFER, clock)
    for _ in range(5):
        first.cycle()
    first.uplink.session_started()
    sent = await first.drain(ack=False)
    first.uplink.acked(sent[1].seq)  # seq 0 is stored by the cloud, 1..4 are not
    await first.uplink.close()

    second = Edge(tmp_path / BUFFER, clock)
    try:
        assert second.uplink.next_seq >= 5
        assert second.uplink.depth == 4
        second.cycle()
        second.uplink.session_started()
        frames = await second.drain()
        assert frames[0].seq >= 5 and not frames[0].backfill
        assert [f.seq for f in frames[1:]] == [1, 2, 3, 4]
    finally:
        await second.uplink.close()
    third = Edge(tmp_path / BUFFER, clock)
    try:
        assert third.uplink.next_seq > frames[0].seq  # strictly increasing, again
        assert third.uplink.depth == 0
    finally:
        await third.uplink.close()


async def test_a_corrupt_buffer_is_moved_aside_and_a_fresh_one_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / BUFFER
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR):
        edge = Edge(path)
    try:
        assert edge.uplink.durable
        names = [p.name for p in await asyncio.to_thread(lambda: list(tmp_path.iterdir()))]
        assert any(n.startswith(BUFFER + ".corrupt-") for n in names), names
        assert edge.uplink.next_seq > 10**12  # after a lost buffer: seqs from the clock [ms]
        for _ in range(3):
            edge.cycle()
        edge.uplink.session_started()
        assert len(await edge.drain()) == 3
    finally:
        await edge.uplink.close()
    assert any("cannot be used" in r.getMessage() for r in caplog.records)
    with sqlite3.connect(path) as db:  # the fresh file is a real buffer
        assert db.execute("SELECT count(*) FROM frames").fetchone() == (0,)


async def test_an_unwritable_buffer_continues_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    with caplog.at_level(logging.ERROR):
        edge = Edge(blocker / BUFFER)
    try:
        assert not edge.uplink.durable
        for _ in range(3):
            edge.cycle()
        await edge.uplink.flush()
        assert edge.uplink.depth == 3
        edge.uplink.session_started()
        assert sorted(f.seq for f in await edge.drain()) == [
            edge.uplink.next_seq - 3,
            edge.uplink.next_seq - 2,
            edge.uplink.next_seq - 1,
        ]
    finally:
        await edge.uplink.close()
    assert any("in memory" in r.getMessage() for r in caplog.records)


async def test_a_buffer_damaged_while_running_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / BUFFER
    edge = Edge(path)
    try:
        for _ in range(3):
            edge.cycle()
        await edge.uplink.flush()

        def damage() -> None:
            edge.uplink._file._require().execute("DROP TABLE frames")

        # On the worker thread, as every use of the file is.
        await asyncio.wrap_future(edge.uplink._worker.submit(damage))
        with caplog.at_level(logging.ERROR):
            for _ in range(2):
                edge.cycle()
            await edge.uplink.flush()
        assert edge.uplink.dropped_lost >= 3  # the frames in the damaged file are gone
        edge.uplink.session_started()
        frames = await edge.drain()
        assert {f.seq for f in frames} >= {3, 4}  # the new ones are kept and sent
    finally:
        await edge.uplink.close()
