"""The :class:`~ems.edge.ha.table.LeaseTable` replicated by pysyncobj's Raft.

pysyncobj is the consensus engine (elections, log replication, commit): this
module only names the table's commands as replicated methods. The witness
runs the same class, so it votes and keeps a copy of the table like an edge;
it may even be the Raft leader, which is harmless: control goes with the
*lease* in the table, never with Raft leadership.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pysyncobj import SyncObj, SyncObjConf, SyncObjConsumer, replicated  # type: ignore[import-untyped]

from ems.edge.ha.config import HaConfig
from ems.edge.ha.table import ConfigOutcome, Grant, LeaseTable

__all__ = ["RAFT_DUMP_FILE", "RAFT_JOURNAL_FILE", "HaSync", "raft_conf"]

#: pysyncobj's log (with the Raft term and vote) and its compacted full dump of the
#: table, in a member's state directory.
RAFT_JOURNAL_FILE = "ha-raft.journal"
RAFT_DUMP_FILE = "ha-raft.dump"


def raft_conf(config: HaConfig, bind: str | None = None, state_dir: Path | None = None) -> Any:
    """pysyncobj's settings from the ``ha:`` block: fast elections for a 1 s cycle.

    ``bind``: where to listen when peers reach this member at another address.
    ``state_dir``: keep the log and the table there, so the fencing token and the
    term only grow even when all three members restart at once (None: in memory)."""
    files: dict[str, str] = {}
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        files = {
            "journalFile": str(state_dir / RAFT_JOURNAL_FILE),
            "fullDumpFile": str(state_dir / RAFT_DUMP_FILE),
        }
    return SyncObjConf(
        bindAddress=bind,
        raftMinTimeout=config.raft_min_timeout_s,
        raftMaxTimeout=config.raft_max_timeout_s,
        appendEntriesPeriod=config.heartbeat_s,
        autoTickPeriod=min(0.02, config.heartbeat_s / 2),
        # A lost peer is noticed by the election timeout; reconnect promptly after a cut.
        connectionTimeout=max(1.0, config.raft_max_timeout_s * 2),
        connectionRetryTime=0.5,
        # The table is small: compacted into the dump on this thread, never in a fork
        # (the edge has threads a fork would not carry).
        dynamicMembershipChange=False,
        useFork=False,
        **files,
    )


class _Replicated(SyncObjConsumer):  # type: ignore[misc]  # pysyncobj is untyped
    """The table's commands as replicated methods.

    A consumer, not attributes of :class:`HaSync` itself: pysyncobj dumps a consumer's
    attributes set after its own ``__init__`` (here: the table), while a ``SyncObj``'s
    own attributes set before its ``__init__`` would be left out of the dump."""

    def __init__(self) -> None:
        super().__init__()
        self.table = LeaseTable()

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

    @replicated  # type: ignore[untyped-decorator]
    def publish_config(self, token: int, version: int, config: dict[str, Any]) -> bool:
        return self.table.publish_config(token, version, config)

    @replicated  # type: ignore[untyped-decorator]
    def record_config_outcome(self, node: str, outcome: ConfigOutcome) -> bool:
        return self.table.record_config_outcome(node, outcome)


class HaSync(SyncObj):  # type: ignore[misc]  # pysyncobj is untyped
    """One member of the Raft group holding the edge pair's :class:`LeaseTable`.

    The table's commands (``acquire``, ``transfer``, ``publish_state``,
    ``record_taken``, ``record_executed``, ``publish_config``,
    ``record_config_outcome``) take pysyncobj's ``callback=`` or
    ``sync=True``, and return what the table's method returns."""

    def __init__(
        self,
        self_address: str,
        others: list[str],
        config: HaConfig,
        bind: str | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self._replicated = _Replicated()
        super().__init__(
            self_address,
            others,
            conf=raft_conf(config, bind, state_dir),
            consumers=[self._replicated],
        )
        # Nothing may be assigned to self from here on: it would go into the dump.

    # The replicated commands, forwarded (pysyncobj's keywords pass through).
    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.acquire(*args, **kwargs)

    def transfer(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.transfer(*args, **kwargs)

    def publish_state(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.publish_state(*args, **kwargs)

    def record_taken(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.record_taken(*args, **kwargs)

    def record_executed(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.record_executed(*args, **kwargs)

    def publish_config(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.publish_config(*args, **kwargs)

    def record_config_outcome(self, *args: Any, **kwargs: Any) -> Any:
        return self._replicated.record_config_outcome(*args, **kwargs)

    @property
    def table(self) -> LeaseTable:
        """This member's copy (the dump, when loaded, replaces the object)."""
        table: LeaseTable = self._replicated.table
        return table
