"""Two agents on one table and a virtual clock: one in control, the other takes over."""

from __future__ import annotations

import asyncio

import pytest

from ems.clock import VirtualClock
from ems.edge.ha.agent import HaAgent
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import LocalReplica
from ems.edge.ha.table import LeaseTable

pytestmark = pytest.mark.asyncio

LEASE_S = 1.0
RENEW_S = 0.2
GUARD_S = 0.3


class Node:
    def __init__(self, name: str, table: LeaseTable, clock: VirtualClock) -> None:
        self.replica = LocalReplica(table)
        self.lease = LocalLease(clock.monotonic, LEASE_S, GUARD_S)
        self.events: list[tuple[str, int]] = []
        self.agent = HaAgent(
            name,
            self.replica,
            clock,
            self.lease,
            lease_s=LEASE_S,
            renew_s=RENEW_S,
            on_gain=self._gain,
            on_loss=self._loss,
        )

    async def _gain(self, table: LeaseTable, token: int) -> None:
        self.events.append(("gain", token))

    async def _loss(self) -> None:
        self.events.append(("loss", self.lease.token))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


async def test_one_controls_and_the_other_takes_over_after_the_lease_when_it_dies(
    clock: VirtualClock,
) -> None:
    table = LeaseTable()
    a, b = Node("a", table, clock), Node("b", table, clock)
    await a.agent.step()
    await b.agent.step()
    assert a.lease.may_write() and not b.lease.may_write()
    # a dies (no more steps); b keeps trying every renew period.
    died_at = clock.monotonic()
    while not b.lease.may_write():
        await clock.advance_async(RENEW_S)
        await b.agent.step()
        # Never both: a's own view closed before b's grant (a counts from its send time).
        assert not (a.lease.may_write() and b.lease.may_write())
    assert clock.monotonic() - died_at <= LEASE_S + RENEW_S + 1e-9
    assert b.events == [("gain", 2)]


async def test_a_stalled_leader_that_wakes_finds_its_gate_closed_and_steps_down(
    clock: VirtualClock,
) -> None:
    table = LeaseTable()
    a, b = Node("a", table, clock), Node("b", table, clock)
    await a.agent.step()
    # a stalls (SIGSTOP): time passes, only b runs.
    for _ in range(8):
        await clock.advance_async(RENEW_S)
        await b.agent.step()
    assert b.lease.may_write()
    assert not a.lease.may_write()  # before a's agent even ran again
    await a.agent.step()
    assert a.events == [("gain", 1), ("loss", 1)]
    assert not a.agent.controlling and b.agent.controlling


async def test_a_cut_off_leader_closes_its_gate_before_the_other_is_granted(
    clock: VirtualClock,
) -> None:
    table = LeaseTable()
    a, b = Node("a", table, clock), Node("b", table, clock)
    await a.agent.step()
    a.replica.reachable = False  # partitioned from the quorum
    b_granted_at = None
    a_closed_at = None
    for _ in range(10):
        await clock.advance_async(RENEW_S / 2)
        await a.agent.step()
        await b.agent.step()
        if a_closed_at is None and not a.lease.may_write():
            a_closed_at = clock.monotonic()
        if b_granted_at is None and b.lease.may_write():
            b_granted_at = clock.monotonic()
    assert a_closed_at is not None and b_granted_at is not None
    assert a_closed_at < b_granted_at
    assert ("loss", 1) in a.events


async def test_hand_over_moves_control_to_the_other_at_its_next_try(clock: VirtualClock) -> None:
    table = LeaseTable()
    a, b = Node("a", table, clock), Node("b", table, clock)
    await a.agent.step()
    assert await a.agent.hand_over("b")
    assert not a.lease.may_write()
    await b.agent.step()
    await a.agent.step()
    assert b.lease.may_write() and not a.agent.controlling
    assert table.token == 2
    # And straight back: nobody is barred.
    assert await b.agent.hand_over("a")
    await a.agent.step()
    assert a.lease.may_write() and not b.lease.may_write()


async def test_run_gives_up_control_when_stopped(clock: VirtualClock) -> None:
    table = LeaseTable()
    a = Node("a", table, clock)
    stop = asyncio.Event()
    task = asyncio.create_task(a.agent.run(stop))
    await clock.advance_async(RENEW_S * 3)
    assert a.agent.controlling
    stop.set()
    await clock.advance_async(RENEW_S)
    await asyncio.wait_for(task, 5)
    assert a.events == [("gain", 1), ("loss", 1)]
