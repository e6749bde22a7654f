"""The agent's port to the replicated table, and its two implementations.

:class:`RaftReplica` proposes through pysyncobj (a result once a quorum has
committed the command); :class:`LocalReplica` applies to an in-process table
at once, so the agent's tests run on a virtual clock without sockets.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Protocol

from ems.edge.ha.table import ConfigOutcome, Grant, LeaseTable

__all__ = ["CONFIG_COMMIT_TIMEOUT_S", "LocalReplica", "RaftReplica", "Replica"]

#: How long a pushed config waits for the quorum to commit it [s].
CONFIG_COMMIT_TIMEOUT_S = 3.0


class Replica(Protocol):
    async def acquire(self, node: str, now_s: float, lease_s: float) -> Grant | None:
        """The lease after proposing ``node`` for it; None: no quorum answered in time."""
        ...

    async def transfer(self, node: str, to: str, now_s: float, lease_s: float) -> bool | None:
        """Hand ``node``'s lease to ``to``; None: no quorum answered in time."""
        ...

    def publish_state(self, token: int, state: dict[str, Any]) -> None:
        """Replicate the controllers' state (fire and forget; a newer one follows)."""
        ...

    def record_taken(self, token: int, command_id: str, at_s: float, timeout_s: float) -> bool:
        """Commit that the holder of ``token`` takes ``command_id``; blocks until a quorum
        has it (True) or ``timeout_s`` passes or the table refuses (False)."""
        ...

    def record_executed(self, token: int, executed: dict[str, float]) -> None: ...

    async def publish_config(self, token: int, version: int, config: dict[str, Any]) -> bool:
        """Commit config ``version`` under ``token``; False: refused or no quorum in time."""
        ...

    def record_config_outcome(self, node: str, outcome: ConfigOutcome) -> None:
        """Replicate what ``node`` made of a config (fire and forget)."""
        ...

    def table(self) -> LeaseTable:
        """This replica's copy of the table (as far as it has applied the log)."""
        ...

    def status(self) -> dict[str, int | bool]:
        """``term``, ``lag_entries`` (committed but not yet applied here), ``has_quorum``."""
        ...

    def connected(self, address: str) -> bool:
        """Whether this node has a live connection to the member at ``address``."""
        ...


class LocalReplica:
    """The table in this process, every command applied at once (tests, benchmarks).

    ``reachable`` False models a node cut off from the quorum: its proposals
    get no answer."""

    def __init__(self, table: LeaseTable | None = None) -> None:
        self._table = table if table is not None else LeaseTable()
        self.reachable = True

    async def acquire(self, node: str, now_s: float, lease_s: float) -> Grant | None:
        return self._table.acquire(node, now_s, lease_s) if self.reachable else None

    async def transfer(self, node: str, to: str, now_s: float, lease_s: float) -> bool | None:
        return self._table.transfer(node, to, now_s, lease_s) if self.reachable else None

    def publish_state(self, token: int, state: dict[str, Any]) -> None:
        if self.reachable:
            self._table.publish_state(token, state)

    def record_taken(self, token: int, command_id: str, at_s: float, timeout_s: float) -> bool:
        return self.reachable and self._table.record_taken(token, command_id, at_s)

    def record_executed(self, token: int, executed: dict[str, float]) -> None:
        if self.reachable:
            self._table.record_executed(token, executed)

    async def publish_config(self, token: int, version: int, config: dict[str, Any]) -> bool:
        return self.reachable and self._table.publish_config(token, version, config)

    def record_config_outcome(self, node: str, outcome: ConfigOutcome) -> None:
        if self.reachable:
            self._table.record_config_outcome(node, outcome)

    def table(self) -> LeaseTable:
        return self._table

    def status(self) -> dict[str, int | bool]:
        return {"term": 0, "lag_entries": 0, "has_quorum": self.reachable}

    def connected(self, address: str) -> bool:
        del address
        return self.reachable


class RaftReplica:
    """Proposals through a :class:`~ems.edge.ha.raft.HaSync`; results back on the loop."""

    def __init__(self, sync: Any, timeout_s: float) -> None:
        self._sync = sync
        self._timeout_s = timeout_s

    async def _call(self, method: Any, *args: Any, timeout_s: float | None = None) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def done(result: Any, error: int) -> None:  # on pysyncobj's thread
            def settle() -> None:
                if not future.done():
                    future.set_result(result if error == 0 else None)

            loop.call_soon_threadsafe(settle)

        method(*args, callback=done)
        try:
            return await asyncio.wait_for(future, timeout_s or self._timeout_s)
        except TimeoutError:
            return None

    async def acquire(self, node: str, now_s: float, lease_s: float) -> Grant | None:
        grant = await self._call(self._sync.acquire, node, now_s, lease_s)
        return grant if isinstance(grant, Grant) else None

    async def transfer(self, node: str, to: str, now_s: float, lease_s: float) -> bool | None:
        result = await self._call(self._sync.transfer, node, to, now_s, lease_s)
        return None if result is None else bool(result)

    def publish_state(self, token: int, state: dict[str, Any]) -> None:
        self._sync.publish_state(token, state, callback=_ignore)

    def record_taken(self, token: int, command_id: str, at_s: float, timeout_s: float) -> bool:
        done = threading.Event()
        outcome: list[bool] = []

        def answered(result: Any, error: int) -> None:  # on pysyncobj's thread
            outcome.append(error == 0 and result is True)
            done.set()

        self._sync.record_taken(token, command_id, at_s, callback=answered)
        return done.wait(timeout_s) and outcome[0]

    def record_executed(self, token: int, executed: dict[str, float]) -> None:
        self._sync.record_executed(token, executed, callback=_ignore)

    async def publish_config(self, token: int, version: int, config: dict[str, Any]) -> bool:
        # Not on the lease's clock: a config is larger than a renewal, and its ack may wait.
        committed = await self._call(
            self._sync.publish_config, token, version, config, timeout_s=CONFIG_COMMIT_TIMEOUT_S
        )
        return bool(committed)

    def record_config_outcome(self, node: str, outcome: ConfigOutcome) -> None:
        self._sync.record_config_outcome(node, outcome, callback=_ignore)

    def table(self) -> LeaseTable:
        table: LeaseTable = self._sync.table
        return table

    def status(self) -> dict[str, int | bool]:
        sync = self._sync
        return {
            "term": int(sync.raftCurrentTerm),
            "lag_entries": max(0, int(sync.raftCommitIndex) - int(sync.raftLastApplied)),
            "has_quorum": bool(sync.hasQuorum),
        }

    def connected(self, address: str) -> bool:
        # pysyncobj's own report: 2 = connected, 0 = not (per partner, by address).
        status = self._sync.getStatus()
        return bool(status.get(f"partner_node_status_server_{address}") == 2)


def _ignore(result: Any, error: int) -> None:
    del result, error  # a lost publication is superseded by the next one
