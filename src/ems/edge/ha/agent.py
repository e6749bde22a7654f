"""Seeks or renews this node's control lease every ``renew_s`` and hands control over.

Holding the lease is not yet controlling: on a new grant the agent first
calls ``on_gain`` (the edge takes the replicated controller state and the
executed-commands record, and opens its cloud link), and only then opens the
gate. On losing it (another node holds it, or no renewal got through before
it ran out) the gate closes at once and ``on_loss`` runs (the cloud link
closes). A planned switchover (:meth:`HaAgent.hand_over`) closes the gate and
hands the lease to the other node, which takes control at its next try.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ems.clock import Clock
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import Replica
from ems.edge.ha.table import LeaseTable

__all__ = ["HaAgent", "HaStatus"]

log = logging.getLogger(__name__)

#: Leader/follower, as health and metrics report them.
LEADER = "leader"
FOLLOWER = "follower"


@dataclass(slots=True)
class HaStatus:
    role: str = FOLLOWER
    token: int = 0  # fencing token of the lease this node holds or last held
    holder: str | None = None  # who holds the lease, as last seen
    takeovers: int = 0  # times this node took control
    last_gain_s: float | None = None  # monotonic s of the last takeover


class HaAgent:
    def __init__(
        self,
        node: str,
        replica: Replica,
        clock: Clock,
        lease: LocalLease,
        *,
        lease_s: float,
        renew_s: float,
        on_gain: Callable[[LeaseTable, int], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
        on_control: Callable[[], None] | None = None,
    ) -> None:
        """``on_gain``: take over the table's state (before the gate opens);
        ``on_control``: right after it opened (run a cycle now); ``on_loss``: after
        the gate closed."""
        self.node = node
        self.replica = replica
        self.lease = lease
        self._clock = clock
        self._lease_s = lease_s
        self._renew_s = renew_s
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._on_control = on_control
        self._controlling = False
        self.status = HaStatus()

    @property
    def controlling(self) -> bool:
        return self._controlling

    async def run(self, stop: asyncio.Event) -> None:
        """Try every ``renew_s`` (absolute deadlines) until ``stop``; gives up control then."""
        next_s = self._clock.monotonic()
        try:
            while not stop.is_set():
                await self.step()
                next_s += self._renew_s
                now = self._clock.monotonic()
                if next_s < now:  # a stall (SIGSTOP, swap): go on from now
                    next_s = now
                await self._clock.sleep_until(next_s)
        finally:
            if self._controlling:
                await self._lose("stopping")

    async def step(self) -> None:
        """One try: renew or seek the lease, then open or close the gate accordingly."""
        if self._controlling and not self.lease.may_control():
            # Ran out (a stall, or no renewal got through): let go of the cloud link now,
            # not after this try's answer, which a cut-off node waits for in vain.
            await self._lose("its lease ran out before a renewal was committed")
        sent_at = self._clock.monotonic()
        grant = await self.replica.acquire(self.node, self._clock.time(), self._lease_s)
        if grant is not None:
            self.status.holder = grant.holder
        if grant is not None and grant.holder == self.node:
            self.lease.granted(sent_at, grant.token)
            self.status.token = grant.token
            if not self._controlling or not self.lease.may_control():
                await self._gain(grant.token)
            return
        if grant is not None or not self.lease.held():
            # Someone else holds it, or ours ran out with no renewal through.
            if self._controlling:
                await self._lose(
                    f"{grant.holder} holds the lease"
                    if grant is not None
                    else "no renewal was committed in time"
                )
            self.lease.lost()

    async def _gain(self, token: int) -> None:
        if self._controlling:  # a new token while in control: the old term ended unseen
            await self._lose(f"a new fencing token {token}: its previous term ended unseen")
        log.warning("HA node %s takes control (fencing token %d)", self.node, token)
        await self._on_gain(self.replica.table(), token)
        if not self.lease.held():  # the hand-over took longer than the lease: try again
            return
        self.lease.enable()
        self._controlling = True
        self.status.role = LEADER
        self.status.takeovers += 1
        self.status.last_gain_s = self._clock.monotonic()
        if self._on_control is not None:
            self._on_control()

    async def _lose(self, why: str) -> None:
        log.warning("HA node %s gives up control: %s", self.node, why)
        self.lease.lost()
        self._controlling = False
        self.status.role = FOLLOWER
        await self._on_loss()

    async def hand_over(self, to: str) -> bool:
        """Planned switchover: stop controlling, then hand the lease to node ``to``."""
        if not self._controlling or to == self.node:
            return False
        await self._lose(f"hands control to {to}")
        handed = await self.replica.transfer(self.node, to, self._clock.time(), self._lease_s)
        return bool(handed)
