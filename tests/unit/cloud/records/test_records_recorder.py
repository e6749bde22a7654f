"""The recorder on the embedded backends: queueing, ordering, retries, reads and catch-up."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from ems.cloud.commands import Tracked
from ems.cloud.records import (
    CommandRecord,
    HotRecords,
    Recorder,
    SqliteCommandStore,
    StatusChange,
)
from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.protocol import UiAck
from support.conformance.records import T0, change, info


class FlakyStore(SqliteCommandStore):
    """Refuses the next ``failures`` writes, and counts the writes that went through."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.failures = 0
        self.batches: list[int] = []

    async def write(self, changes: Sequence[StatusChange]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database went away")
        await super().write(changes)
        self.batches.append(len(changes))


@dataclass
class Rig:
    recorder: Recorder
    store: FlakyStore
    hot: HotRecords
    path: Path
    commands: list[Tracked] = field(default_factory=list)

    def command(self, user: str = "olga", edge_id: str = "site-1") -> Tracked:
        t = Tracked(
            str(uuid.uuid4()),
            user,
            edge_id,
            "battery_1",
            "set_active_power",
            -1500,
            "2026-01-01T00:00:00.000Z",
            300,
            "new",
        )
        self.commands.append(t)
        return t

    def report(
        self, t: Tracked, status: str, at: float, reason: str | None = None, detail: str = "d"
    ) -> None:
        """What Dispatcher._set does: update the command, then call the listener."""
        t.status = status
        t.history.append((status, reason, at))
        ack = UiAck(
            command_id=t.command_id,
            edge_id=t.edge_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            at=datetime.fromtimestamp(at, UTC),
        )
        self.recorder.on_status(t, ack)

    async def fresh_read(self, command_id: str) -> CommandRecord | None:
        """Straight from the database file, through a new store instance."""
        other = SqliteCommandStore(self.path)
        await other.start()
        try:
            return await other.get(command_id)
        finally:
            await other.close()


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    reset_embedded_server()
    client = shared_redis(None)
    path = tmp_path / "commands.sqlite3"
    store = FlakyStore(path)
    await store.start()
    hot = HotRecords(client)
    made = Rig(Recorder(hot, store, retry_delay_s=0.0, attempts=3), store, hot, path)
    yield made
    await made.recorder.stop()
    await store.close()
    await client.aclose()
    reset_embedded_server()


def lifecycle(rig: Rig, t: Tracked, start: float = T0) -> None:
    rig.report(t, "received", start, detail="sent to site-1")
    rig.report(t, "delivered", start + 0.01)
    rig.report(t, "executed", start + 0.02)


@pytest.mark.asyncio
async def test_the_listener_only_queues(rig: Rig) -> None:
    t = rig.command()
    rig.report(t, "received", T0)
    assert rig.recorder.backlog == 1
    assert await rig.hot.get(t.command_id) is None, "nothing is written from the listener"
    rig.recorder.start()
    await rig.recorder.flush()
    assert rig.recorder.backlog == 0
    assert await rig.hot.get(t.command_id) is not None


@pytest.mark.asyncio
async def test_history_in_order_in_both_copies(rig: Rig) -> None:
    rig.recorder.start()
    t = rig.command()
    lifecycle(rig, t)
    await rig.recorder.flush()
    for record in (
        await rig.recorder.get(t.command_id),
        await rig.hot.get(t.command_id),
        await rig.fresh_read(t.command_id),
    ):
        assert record is not None
        assert [e.status for e in record.history] == ["received", "delivered", "executed"]
        assert record.history[0].detail == "sent to site-1"
        assert (record.status, record.terminal) == ("executed", True)
        c = record.command
        assert (c.user, c.edge_id, c.value, c.ttl_s) == ("olga", "site-1", -1500, 300)
        assert c.created_at == T0, "created when its first status was reported"
        assert c.issued_at == T0


@pytest.mark.asyncio
async def test_get_sees_a_status_as_soon_as_it_is_reported(rig: Rig) -> None:
    """Reads wait for the Redis write of what was reported before them."""
    rig.recorder.start()
    t = rig.command()
    lifecycle(rig, t)
    record = await rig.recorder.get(t.command_id)  # no flush first
    assert record is not None
    assert record.status == "executed"


@pytest.mark.asyncio
async def test_backlog_is_written_in_one_batch(rig: Rig) -> None:
    for i in range(4):
        lifecycle(rig, rig.command(), T0 + i)
    rig.recorder.start()
    await rig.recorder.flush()
    assert rig.store.batches == [12]


async def _report_one_per_loop_turn(rig: Rig, count: int) -> None:
    """As commands arrive under load: one status per event-loop iteration."""
    for i in range(count):
        rig.report(rig.command(), "received", T0 + i)
        await asyncio.sleep(0)  # one loop turn (the recorder runs in between), no waiting


@pytest.mark.asyncio
async def test_changes_close_together_share_a_batch(rig: Rig) -> None:
    rig.recorder.start()
    await _report_one_per_loop_turn(rig, 5)
    await rig.recorder.flush()
    assert rig.store.batches == [5], "the first change waits linger_s for the others"


@pytest.mark.asyncio
async def test_without_linger_each_change_is_written_at_once(tmp_path: Path) -> None:
    reset_embedded_server()
    client = shared_redis(None)
    store = FlakyStore(tmp_path / "commands.sqlite3")
    await store.start()
    rig = Rig(
        Recorder(HotRecords(client), store, linger_s=0.0), store, HotRecords(client), store.path
    )
    try:
        rig.recorder.start()
        await _report_one_per_loop_turn(rig, 5)
        await rig.recorder.flush()
        assert len(store.batches) > 1
        assert sum(store.batches) == 5
    finally:
        await rig.recorder.stop()
        await store.close()
        await client.aclose()
        reset_embedded_server()


def test_linger_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="linger_s"):
        Recorder(HotRecords(shared_redis(None)), FlakyStore(Path("unused")), linger_s=-1.0)


@pytest.mark.asyncio
async def test_a_failing_database_is_retried(rig: Rig) -> None:
    rig.store.failures = 2  # attempts=3
    rig.recorder.start()
    t = rig.command()
    lifecycle(rig, t)
    await rig.recorder.flush()
    record = await rig.fresh_read(t.command_id)
    assert record is not None
    assert record.status == "executed"
    assert rig.recorder.stats.lost == 0


@pytest.mark.asyncio
async def test_a_lost_final_status_is_logged_and_the_recorder_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.store.failures = 3  # every attempt of the first batch
    t = rig.command()
    rig.report(t, "failed", T0, "edge_timeout")
    rig.recorder.start()
    with caplog.at_level(logging.ERROR, logger="ems.cloud.records.recorder"):
        await rig.recorder.flush()
    assert rig.recorder.stats.lost == 1
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert lost == [f"command {t.command_id} status failed (final) NOT stored in the database"]
    # The hot copy still has it, and the next batch is written.
    record = await rig.recorder.get(t.command_id)
    assert record is not None
    assert record.status == "failed"
    later = rig.command()
    rig.report(later, "queued", T0 + 1)
    await rig.recorder.flush()
    assert await rig.fresh_read(later.command_id) is not None


@pytest.mark.asyncio
async def test_stop_writes_what_is_queued(rig: Rig) -> None:
    rig.recorder.start()
    t = rig.command()
    lifecycle(rig, t)
    await rig.recorder.stop()
    record = await rig.fresh_read(t.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]


@pytest.mark.asyncio
async def test_listing_newest_first_with_limit(rig: Rig) -> None:
    rig.recorder.start()
    made = [rig.command() for _ in range(5)]
    for i, t in enumerate(made):
        rig.report(t, "queued", T0 + i)
    rig.report(rig.command(edge_id="site-2"), "queued", T0 + 9)
    listed = await rig.recorder.list_for_edge("site-1", 3)
    assert [r.command.command_id for r in listed] == [t.command_id for t in made[::-1][:3]]
    assert all(r.history == () for r in listed)


@pytest.mark.asyncio
async def test_listing_merges_what_only_redis_has_yet(rig: Rig) -> None:
    rig.recorder.start()
    t = rig.command()
    rig.report(t, "queued", T0)
    await rig.recorder.flush()
    rig.store.failures = 3  # the next status reaches Redis only
    rig.report(t, "failed", T0 + 60, "timeout_in_queue")
    await rig.recorder.flush()
    (listed,) = await rig.recorder.list_for_edge("site-1", 10)
    assert (listed.status, listed.reason) == ("failed", "timeout_in_queue")


@pytest.mark.asyncio
async def test_unknown_command(rig: Rig) -> None:
    rig.recorder.start()
    assert await rig.recorder.get(str(uuid.uuid4())) is None


@pytest.mark.asyncio
async def test_catch_up_lists_unfinished_commands_with_their_current_status(rig: Rig) -> None:
    rig.recorder.start()
    done, waiting, sent = rig.command(), rig.command(), rig.command()
    lifecycle(rig, done)
    rig.report(waiting, "queued", T0 + 1, detail="site-1 is offline; position 1")
    rig.report(sent, "received", T0 + 2)
    rig.report(sent, "delivered", T0 + 3, detail="request written")
    rig.report(rig.command(user="bob"), "queued", T0 + 4)
    await rig.recorder.flush()
    acks = await rig.recorder.unfinished("olga")
    assert [(a.command_id, a.status, a.detail) for a in acks] == [
        (waiting.command_id, "queued", "site-1 is offline; position 1"),
        (sent.command_id, "delivered", "request written"),
    ]
    assert acks[1].at == datetime.fromtimestamp(T0 + 3, UTC)
    rig.report(sent, "executed", T0 + 5)
    await rig.recorder.flush()
    assert [a.command_id for a in await rig.recorder.unfinished("olga")] == [waiting.command_id]


@pytest.mark.asyncio
async def test_catch_up_includes_changes_not_yet_in_redis(rig: Rig) -> None:
    """The recorder is not running: nothing reaches Redis, the local changes still count."""
    queued, finished = rig.command(), rig.command()
    rig.report(queued, "queued", T0)
    rig.report(finished, "received", T0)
    rig.report(finished, "executed", T0 + 1)
    acks = await rig.recorder.unfinished("olga")
    assert [(a.command_id, a.status) for a in acks] == [(queued.command_id, "queued")]


@pytest.mark.asyncio
async def test_catch_up_takes_the_newer_of_redis_and_local_changes(rig: Rig) -> None:
    """Not started: what is reported here stays local; Redis is written by hand, as
    this process's earlier batches or another process would have written it."""
    mine, theirs = rig.command(), rig.command()
    await rig.hot.write(
        [
            change(info(mine.command_id), "received", T0),
            change(info(theirs.command_id), "received", T0),
            change(info(theirs.command_id), "failed", T0 + 5, "edge_timeout"),
        ]
    )
    rig.report(mine, "delivered", T0 + 1)  # newer than Redis's "received"
    rig.report(theirs, "delivered", T0 + 1)  # late: another process already failed it
    acks = await rig.recorder.unfinished("olga")
    assert [(a.command_id, a.status) for a in acks] == [(mine.command_id, "delivered")]
    rig.report(mine, "executed", T0 + 2)
    assert await rig.recorder.unfinished("olga") == []
