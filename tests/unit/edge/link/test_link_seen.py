"""At most once at the edge, across edge restarts (DESIGN section 4).

First :class:`SeenCommands` on its own (on a virtual clock), then the
dispatcher with it, then whole edges against the fake cloud: a command taken
by one edge process is answered from the record by the next one on the same
``cache_dir`` and never written to a request channel again.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from link_fakes import FakeCloud, running, until

from ems.clock import VirtualClock
from ems.dal import Sample
from ems.edge.config import load_edge_config
from ems.edge.link import AckOutbox, Backoff, CloudLink, CommandDispatcher
from ems.edge.link.dispatcher import RESEND_WINDOW_S
from ems.edge.link.seen import DEFAULT_RETENTION_S, SeenCommands, SeenRecord
from ems.edge.requests import CommandRequest, Verdict
from ems.edge.runtime import EdgeRuntime
from ems.protocol import MAX_TTL_S, CloudToEdgeCommand, EdgeAck, FrameError

KEY = "seen-test-key"
QUICK = Backoff(base_s=0.01, cap_s=0.02)
T0 = 1_767_225_600.0  # VirtualClock's default start: 2026-01-01T00:00:00Z


def _open(path: Path, clock: VirtualClock, **kw: Any) -> SeenCommands:
    return SeenCommands(path, clock=clock, **kw)


# -- SeenCommands ----------------------------------------------------------------
def test_an_id_is_taken_once(tmp_path: Path) -> None:
    seen = _open(tmp_path / "seen.sqlite3", VirtualClock())
    assert seen.record_taken("a") is True
    assert seen.record_taken("a") is False
    assert seen.record_taken("b") is True
    assert seen.get("a") == SeenRecord("a", T0, "taken", None, None, None)
    assert seen.get("nope") is None
    assert seen.durable
    seen.close()


def test_statuses_are_recorded_and_an_outcome_is_never_undone(tmp_path: Path) -> None:
    clock = VirtualClock()
    seen = _open(tmp_path / "seen.sqlite3", clock)
    seen.record_taken("a")
    assert seen.update("a", "delivered", None, None, T0 + 0.5)
    assert seen.update("a", "failed", "revalidation_failed", "above 5000 W", T0 + 1.25)
    # A late progress report must not turn an outcome back into "delivered".
    assert not seen.update("a", "delivered", None, None, T0 + 2.0)
    assert seen.get("a") == SeenRecord(
        "a", T0, "failed", "revalidation_failed", "above 5000 W", T0 + 1.25
    )
    assert not seen.update("never-taken", "executed", None, None, T0)
    assert seen.get("never-taken") is None
    with pytest.raises(ValueError, match="status"):
        seen.update("a", "taken", None, None, T0)
    with pytest.raises(ValueError, match="status"):
        seen.update("a", "queued", None, None, T0)
    seen.close()


def test_the_record_survives_close_and_reopen(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "state" / "seen.sqlite3"  # the folder is created
    seen = _open(path, clock)
    seen.record_taken("a")
    seen.update("a", "executed", None, None, T0 + 1.0)
    seen.record_taken("b")
    seen.close()
    seen.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        seen.record_taken("c")
    assert seen.closed
    # WAL checkpointed into the main file on close: it alone holds the record.
    assert path.exists()
    assert not Path(f"{path}-wal").exists()

    clock.advance(600.0)  # the edge comes back ten minutes later
    again = _open(path, clock)
    assert again.record_taken("a") is False
    assert again.get("a") == SeenRecord("a", T0, "executed", None, None, T0 + 1.0)
    assert again.get("b") == SeenRecord("b", T0, "taken", None, None, None)
    again.close()


def test_old_ids_are_pruned_at_open_and_at_most_once_a_minute(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "seen.sqlite3"
    retention_s = float(MAX_TTL_S)
    seen = _open(path, clock, retention_s=retention_s)
    seen.record_taken("old")
    clock.advance(retention_s - 1.0)
    assert seen.prune() == 0  # not old enough yet
    seen.record_taken("newer")
    clock.advance(2.0)
    assert seen.prune() == 1  # an explicit prune always runs
    assert seen.get("old") is None
    assert seen.get("newer") is not None

    # A prune just before "newer" expires; record_taken then leaves the
    # expired row alone until a minute has passed since that prune.
    clock.advance(retention_s - 1.0 - 2.0 - 1.0)
    assert seen.prune() == 0
    clock.advance(30.0)
    seen.record_taken("x")
    assert seen.get("newer") is not None
    clock.advance(30.0)
    seen.record_taken("y")
    assert seen.get("newer") is None
    seen.close()

    # At open: "x" and "y" are old by the time the edge starts again.
    clock.advance(retention_s + 1.0)
    reopened = _open(path, clock, retention_s=retention_s)
    assert reopened.get("x") is None
    assert reopened.get("y") is None
    assert reopened.record_taken("x") is True
    reopened.close()


def test_executions_restored_from_the_log_fill_gaps_and_never_undo_an_outcome(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    seen = _open(tmp_path / "seen.sqlite3", clock)
    seen.record_taken("pending")
    seen.update("pending", "delivered", None, None, T0)  # its "executed" was lost
    seen.record_taken("failed")
    seen.update("failed", "failed", "expired", None, T0)
    clock.advance(60.0)
    restored = seen.restore_executed(
        [
            ("lost", T0 + 1),  # the record lost it: added
            ("pending", T0 + 2),
            ("failed", T0 + 3),  # an outcome stays as it was
            ("ancient", T0 + 60 - DEFAULT_RETENTION_S - 1),  # past the window: skipped
        ]
    )
    assert restored == 2
    assert seen.get("lost") == SeenRecord("lost", T0 + 1, "executed", None, None, T0 + 1)
    assert seen.get("pending") == SeenRecord("pending", T0, "executed", None, None, T0 + 2)
    assert seen.get("failed") == SeenRecord("failed", T0, "failed", "expired", None, T0)
    assert seen.get("ancient") is None
    assert seen.restore_executed([("lost", T0 + 1)]) == 0  # a normal start changes nothing
    seen.close()


def test_retention_shorter_than_the_longest_ttl_is_refused(tmp_path: Path) -> None:
    assert DEFAULT_RETENTION_S >= MAX_TTL_S
    for bad in (MAX_TTL_S - 1.0, float("nan")):
        with pytest.raises(ValueError, match="TTL"):
            _open(tmp_path / "seen.sqlite3", VirtualClock(), retention_s=bad)


def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "seen.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    Path(f"{path}-wal").write_bytes(b"nor is this a WAL")
    with caplog.at_level(logging.ERROR, logger="ems.edge.link.seen"):
        seen = _open(path, VirtualClock())
    assert seen.durable
    assert seen.record_taken("a") is True
    aside = tmp_path / "seen.sqlite3.corrupt-20260101T000000Z"
    assert aside.read_bytes().startswith(b"this is not a database")
    # The old WAL is gone from beside the fresh file (SQLite drops one it cannot
    # use when the failed connection closes; otherwise it is moved aside too).
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.read_bytes() != b"nor is this a WAL"
    assert any(r.levelno == logging.ERROR and "aside" in r.getMessage() for r in caplog.records)
    seen.close()

    # Damaged again within the same second: the first copy is kept.
    path.write_bytes(b"\x00" * 4096)
    with caplog.at_level(logging.ERROR, logger="ems.edge.link.seen"):
        _open(path, VirtualClock()).close()
    assert aside.exists()
    assert (tmp_path / "seen.sqlite3.corrupt-20260101T000000Z-1").exists()


def test_a_database_this_class_did_not_write_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE seen (id INTEGER)")  # same name, other columns
    other.commit()
    other.close()
    seen = _open(path, VirtualClock())
    assert seen.durable
    assert seen.record_taken("a") is True
    seen.close()
    assert (tmp_path / "seen.sqlite3.corrupt-20260101T000000Z").exists()


def test_without_a_usable_folder_the_record_is_kept_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    with caplog.at_level(logging.ERROR, logger="ems.edge.link.seen"):
        seen = _open(blocker / "seen.sqlite3", VirtualClock())
    assert not seen.durable
    assert seen.record_taken("a") is True
    assert seen.record_taken("a") is False  # still at most once within this process
    assert any("memory" in r.getMessage() for r in caplog.records)
    seen.close()


class _FailingConnection:
    """Stands in for a connection whose disk went away (I/O error on every statement)."""

    def execute(self, *_args: object) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    def close(self) -> None:
        pass


def test_a_disk_error_in_use_falls_back_to_memory_and_keeps_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seen = _open(tmp_path / "seen.sqlite3", VirtualClock())
    monkeypatch.setattr(seen, "_db", _FailingConnection())
    with caplog.at_level(logging.ERROR, logger="ems.edge.link.seen"):
        assert seen.record_taken("a") is True
    assert not seen.durable
    assert seen.record_taken("a") is False
    assert any("memory" in r.getMessage() for r in caplog.records)
    seen.close()


# -- the dispatcher with a record ------------------------------------------------
class _Writer:
    """A request writer that checks the command was recorded before it was submitted."""

    def __init__(self, seen: SeenCommands, verdict: Verdict) -> None:
        self.seen = seen
        self.verdict = verdict
        self.submitted: list[CommandRequest] = []

    def submit(self, request: CommandRequest) -> Verdict:
        record = self.seen.get(request.command_id)
        assert record is not None
        assert record.status == "taken"
        self.submitted.append(request)
        return self.verdict


def _command(clock: VirtualClock, command_id: str | None = None) -> CloudToEdgeCommand:
    now = datetime.fromtimestamp(clock.time(), UTC)
    return CloudToEdgeCommand(
        command_id=command_id or str(uuid.uuid4()),
        device="battery_1",
        action="set_active_power",
        value=-2500,
        issued_at=now,
        deadline=now + timedelta(seconds=5),
        user="alice",
    )


def _drain(outbox: AckOutbox) -> list[EdgeAck]:
    out = []
    while (ack := outbox.peek()) is not None:
        out.append(ack)
        outbox.sent()
    return out


def _dispatcher(
    seen: SeenCommands, clock: VirtualClock, verdict: Verdict
) -> tuple[CommandDispatcher, _Writer, AckOutbox]:
    writer = _Writer(seen, verdict)
    outbox = AckOutbox(lambda: None)
    # remember=0: no in-memory fast path, every answer comes from the record.
    dispatcher = CommandDispatcher(writer.submit, clock, outbox, remember=0, seen=seen)
    return dispatcher, writer, outbox


def test_dispatcher_records_before_submitting_and_answers_from_the_record(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    seen = _open(tmp_path / "seen.sqlite3", clock)
    dispatcher, writer, outbox = _dispatcher(seen, clock, Verdict("delivered"))
    assert dispatcher.durable
    command = _command(clock)
    assert dispatcher.handle(command).status == "delivered"
    clock.advance(0.5)
    assert dispatcher.handle(command).status == "delivered"  # still pending: not again
    dispatcher.on_final_ack(
        {
            "command_id": command.command_id,
            "status": "failed",
            "reason": "revalidation_failed",
            "detail": "above the dynamic limit",
            "at": "2026-01-01T00:00:01.000Z",
        }
    )
    clock.advance(10.0)
    again = dispatcher.handle(command)
    assert len(writer.submitted) == 1
    assert (again.status, again.reason, again.detail) == (
        "failed",
        "revalidation_failed",
        "above the dynamic limit",
    )
    assert again.at == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert [a.status for a in _drain(outbox)] == ["delivered", "delivered", "failed", "failed"]
    assert dispatcher.duplicates == 2
    seen.close()


def test_a_refusal_by_the_writer_is_recorded_and_repeated(tmp_path: Path) -> None:
    clock = VirtualClock()
    seen = _open(tmp_path / "seen.sqlite3", clock)
    dispatcher, writer, outbox = _dispatcher(
        seen, clock, Verdict("rejected", "unknown_device", "no device 'battery_9'")
    )
    command = _command(clock)
    first = dispatcher.handle(command)
    writer.verdict = Verdict("delivered")  # would now pass: must not matter
    second = dispatcher.handle(command)
    assert len(writer.submitted) == 1
    assert (first.status, first.reason) == (second.status, second.reason)
    assert (second.status, second.reason, second.detail) == (
        "rejected",
        "unknown_device",
        "no device 'battery_9'",
    )
    assert len(_drain(outbox)) == 2
    seen.close()


def test_an_unreadable_frame_never_contradicts_the_record(tmp_path: Path) -> None:
    clock = VirtualClock()
    seen = _open(tmp_path / "seen.sqlite3", clock)
    dispatcher, _, outbox = _dispatcher(seen, clock, Verdict("delivered"))
    command = _command(clock)
    dispatcher.handle(command)
    error = FrameError("invalid_payload", "value: missing", "command", command.command_id)
    assert dispatcher.refuse_unreadable(error) is None
    assert [a.status for a in _drain(outbox)] == ["delivered"]
    seen.close()


def test_a_command_taken_but_never_answered_reads_delivered(tmp_path: Path) -> None:
    """The edge stopped between recording a command and recording its verdict."""
    clock = VirtualClock()
    path = tmp_path / "seen.sqlite3"
    seen = _open(path, clock)
    command = _command(clock)
    seen.record_taken(command.command_id)
    seen.close()
    clock.advance(3.0)
    seen = _open(path, clock)
    dispatcher, writer, _ = _dispatcher(seen, clock, Verdict("delivered"))
    ack = dispatcher.handle(command)
    assert (ack.status, ack.reason) == ("delivered", None)
    assert ack.at == datetime.fromtimestamp(T0, UTC)  # when it was taken
    assert not writer.submitted
    seen.close()


# -- whole edges, restarted on the same cache_dir --------------------------------
@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest_asyncio.fixture
async def cloud(clock: VirtualClock) -> AsyncIterator[FakeCloud]:
    async with FakeCloud(clock=clock) as fake:
        yield fake


class _Edge:
    """One edge process: a runtime and its link, with every request write it sees."""

    def __init__(self, clock: VirtualClock, cloud: FakeCloud, cache_dir: Path) -> None:
        self.runtime = EdgeRuntime(load_edge_config(None), clock)
        self.runtime.host.tick_all()  # devices report once, so limits are fresh
        self.requests: list[str] = []  # command ids written to request channels
        self.runtime.store.watch("ui_requests/", self._on_request)
        self.link = CloudLink(
            self.runtime, cloud.url, KEY, cache_dir, backoff=QUICK, refresh_profiles=False
        )

    def _on_request(self, _address: str, sample: Sample) -> None:
        if isinstance(sample.value, Mapping):  # a cleared request is None
            self.requests.append(str(sample.value["command_id"]))


def _requests_written(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.command_id  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", None) == "edge.request_written"
    ]


@pytest.mark.asyncio
async def test_a_command_executed_before_a_restart_is_answered_executed_after_it(
    clock: VirtualClock,
    cloud: FakeCloud,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    first = _Edge(clock, cloud, tmp_path)
    command = cloud.command(value=-700.0)
    async with running(first.link):
        await cloud.send(command)
        await cloud.ack_for(command.command_id, "delivered")
        first.runtime.cycle.run_once(0)
        executed = await cloud.ack_for(command.command_id, "executed")
        await until(lambda: first.link.acks_pending == 0, "acks sent")
    assert first.requests == [command.command_id]
    assert (tmp_path / "seen-commands.sqlite3").exists()

    # The edge restarts, past the window in which it sends its last final acks again
    # (so only the record answers), and still within the command's deadline.
    clock.advance(RESEND_WINDOW_S + 1.0)
    second = _Edge(clock, cloud, tmp_path)
    assert cloud.frames["ack"].empty()
    async with running(second.link):
        await cloud.send(command)  # the cloud delivers it again after the reconnect
        again = await cloud.next("ack")
        second.runtime.cycle.run_once(0)
        second.runtime.cycle.run_once(1)
        await cloud.next("telemetry")
    assert (again.command_id, again.status, again.reason) == (
        command.command_id,
        "executed",
        None,
    )
    assert again.at == executed.at  # the recorded outcome, not a new one
    assert second.requests == []  # the request channel was never written again
    assert _requests_written(caplog) == [command.command_id]
    assert second.link.commands_received == 1
    assert cloud.frames["ack"].empty()  # no second delivered/executed
    setpoint = second.runtime.store.get_channel("battery_1/SetActivePower")
    assert setpoint is None or setpoint.value != -700.0
    assert not cloud.invalid


@pytest.mark.asyncio
async def test_a_redelivery_while_pending_is_answered_delivered_and_executed_once(
    clock: VirtualClock,
    cloud: FakeCloud,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    edge = _Edge(clock, cloud, tmp_path)
    command = cloud.command(value=-800.0)
    async with running(edge.link):
        await cloud.send(command)
        first = await cloud.next("ack")
        await cloud.send(command)  # again, before any cycle consumed the request
        second = await cloud.next("ack")
        edge.runtime.cycle.run_once(0)
        executed = await cloud.next("ack")
        edge.runtime.cycle.run_once(1)
        await cloud.next("telemetry")
    assert [first.status, second.status, executed.status] == ["delivered", "delivered", "executed"]
    assert {first.command_id, second.command_id, executed.command_id} == {command.command_id}
    assert edge.requests == [command.command_id]
    assert _requests_written(caplog) == [command.command_id]
    assert cloud.frames["ack"].empty()  # executed once, acked once


@pytest.mark.asyncio
async def test_a_command_pending_at_a_restart_is_never_executed_after_it(
    clock: VirtualClock, cloud: FakeCloud, tmp_path: Path
) -> None:
    """Taken, then the edge stopped before a cycle ran: at most once means not at all.

    Losing the link withdraws the pending request (``failed(link_lost)``), so the
    record answers the repeated delivery with that final status."""
    first = _Edge(clock, cloud, tmp_path)
    command = cloud.command(value=-900.0)
    async with running(first.link):
        await cloud.send(command)
        await cloud.ack_for(command.command_id, "delivered")
    clock.advance(1.0)
    second = _Edge(clock, cloud, tmp_path)
    async with running(second.link):
        await cloud.send(command)
        again = await cloud.next("ack")
        second.runtime.cycle.run_once(0)
        await cloud.next("telemetry")
    assert (again.command_id, again.status, again.reason) == (
        command.command_id,
        "failed",
        "link_lost",
    )
    assert second.requests == []
    # Never "executed". The first edge queued its failed(link_lost) after its link
    # was down; the second sends it on connecting and answers the delivery with it.
    rest = []
    while not cloud.frames["ack"].empty():
        rest.append(cloud.frames["ack"].get_nowait())
    assert [(a.status, a.reason) for a in rest] == [("failed", "link_lost")]


@pytest.mark.asyncio
async def test_a_link_runs_once_and_closes_its_record(
    clock: VirtualClock, cloud: FakeCloud, tmp_path: Path
) -> None:
    edge = _Edge(clock, cloud, tmp_path)
    async with running(edge.link):
        await cloud.next("inventory")
    with pytest.raises(RuntimeError, match="already returned"):
        async with running(edge.link):
            pass
    # Closed: the WAL was checkpointed away, so another process may take over the file.
    assert not (tmp_path / "seen-commands.sqlite3-wal").exists()


def test_taking_a_command_commits_with_a_full_sync_and_updates_do_not(tmp_path: Path) -> None:
    seen = _open(tmp_path / "seen.sqlite3", VirtualClock())
    statements: list[str] = []
    seen._db.set_trace_callback(statements.append)  # the only way to see the pragma in force
    seen.record_taken("a")
    seen.update("a", "delivered", None, None, T0)
    syncs = [s for s in statements if "synchronous" in s]
    insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT"))
    update = next(i for i, s in enumerate(statements) if s.startswith("UPDATE"))
    assert statements[insert - 1] == "PRAGMA synchronous=FULL"
    assert statements[update - 1] == "PRAGMA synchronous=NORMAL"
    assert len(syncs) == 2
    seen.close()
