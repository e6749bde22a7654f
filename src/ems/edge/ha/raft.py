"""The :class:`~ems.edge.ha.table.LeaseTable` replicated by pysyncobj's Raft.

pysyncobj is the consensus engine (elections, log replication, commit): this
module only names the table's commands as replicated methods. The witness
runs the same class, so it votes and keeps a copy of the table like an edge;
it may even be the Raft leader, which is harmless: control goes with the
*lease* in the table, never with Raft leadership.
"""

from __future__ import annotations

from typing import Any

from pysyncobj import SyncObj, SyncObjConf, replicated  # type: ignore[import-untyped]

from ems.edge.ha.config import HaConfig
from ems.edge.ha.table import Grant, LeaseTable

__all__ = ["HaSync", "raft_conf"]


def raft_conf(config: HaConfig, bind: str | None = None) -> Any:
    """pysyncobj's settings from the ``ha:`` block: fast elections for a 1 s cycle.

    ``bind``: where to listen when peers reach this member at another address."""
    return SyncObjConf(
        bindAddress=bind,
        raftMinTimeout=config.raft_min_timeout_s,
        raftMaxTimeout=config.raft_max_timeout_s,
        appendEntriesPeriod=config.heartbeat_s,
        autoTickPeriod=min(0.02, config.heartbeat_s / 2),
        # A lost peer is noticed by the election timeout; reconnect promptly after a cut.
        connectionTimeout=max(1.0, config.raft_max_timeout_s * 2),
        connectionRetryTime=0.5,
        # The table is small; in memory only (each edge keeps its own files besides),
        # and never serialised in a fork: the edge has threads a fork would not carry.
        dynamicMembershipChange=False,
        useFork=False,
    )


class HaSync(SyncObj):  # type: ignore[misc]  # pysyncobj is untyped
    """One member of the Raft group holding the edge pair's :class:`LeaseTable`."""

    def __init__(
        self, self_address: str, others: list[str], config: HaConfig, bind: str | None = None
    ) -> None:
        self.table = LeaseTable()
        super().__init__(self_address, others, conf=raft_conf(config, bind))

    @replicated  # type: ignore[untyped-decorator]
    def acquire(self, node: str, now_s: float, lease_s: float) -> Grant:
        return self.table.acquire(node, now_s, lease_s)

    @replicated  # type: ignore[untyped-decorator]
    def transfer(self, node: str, to: str, now_s: float, lease_s: float) -> bool:
        return self.table.transfer(node, to, now_s, lease_s)

    @replicated  # type: ignore[untyped-decorator]
    def publish_state(self, token: int, state: dict[str, Any]) -> bool:
        return self.table.publish_state(token, state)

    @replicated  # type: ignore[untyped-decorator]
    def record_taken(self, token: int, command_id: str, at_s: float) -> bool:
        return self.table.record_taken(token, command_id, at_s)

    @replicated  # type: ignore[untyped-decorator]
    def record_executed(self, token: int, executed: dict[str, float]) -> bool:
        return self.table.record_executed(token, executed)
