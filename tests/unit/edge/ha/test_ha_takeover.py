"""Admission of commands on an HA node, and what a new leader learns from the table."""

from __future__ import annotations

from pathlib import Path

from ems.clock import VirtualClock
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import LocalReplica
from ems.edge.ha.table import LeaseTable
from ems.edge.ha.takeover import NOT_LEADER, NOT_REPLICATED, Admission, adopt_command_record
from ems.edge.link.seen import SeenCommands
from ems.edge.requests import CommandRequest


def _command(command_id: str) -> CommandRequest:
    return CommandRequest(command_id, "battery_1", "set_active_power", -1000.0, "x")


def _leader(clock: VirtualClock) -> tuple[LeaseTable, LocalReplica, LocalLease]:
    table = LeaseTable()
    replica = LocalReplica(table)
    lease = LocalLease(clock.monotonic, 1.0, 0.3)
    grant = table.acquire("a", clock.time(), 1.0)
    lease.granted(clock.monotonic(), grant.token)
    lease.enable()
    return table, replica, lease


def test_a_command_is_let_in_only_once_the_table_has_it_taken() -> None:
    clock = VirtualClock()
    table, replica, lease = _leader(clock)
    admit = Admission(replica, lease, clock.time)
    assert admit(_command("c1")) is None
    assert "c1" in table.taken


def test_a_follower_or_a_cut_off_leader_lets_nothing_in() -> None:
    clock = VirtualClock()
    table, replica, lease = _leader(clock)
    admit = Admission(replica, lease, clock.time)
    replica.reachable = False
    verdict = admit(_command("c1"))
    assert verdict is not None and (verdict.status, verdict.reason) == ("failed", NOT_REPLICATED)
    clock.advance(0.8)  # the lease's guard reached
    verdict = admit(_command("c2"))
    assert verdict is not None and verdict.reason == NOT_LEADER
    assert table.taken == {}


def test_new_leader_answers_what_the_old_one_took_or_executed_from_its_record(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    table = LeaseTable()
    table.acquire("a", clock.time(), 1.0)
    table.record_taken(1, "ran", clock.time())
    table.record_taken(1, "maybe", clock.time())
    table.record_executed(1, {"ran": clock.time()})
    seen = SeenCommands(tmp_path / "seen.sqlite3", clock=clock)
    try:
        adopt_command_record(seen, table)
        ran, maybe = seen.get("ran"), seen.get("maybe")
        assert ran is not None and ran.status == "executed"
        assert maybe is not None and maybe.status == "taken"
        assert not seen.record_taken("maybe")  # a redelivery is not taken again
    finally:
        seen.close()
