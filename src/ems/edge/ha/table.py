"""The replicated state of an edge pair, as a deterministic state machine.

Every node (both edges and the witness) applies the same commands in the Raft
log's order, so they all hold the same table. It is pure: times come in the
commands (the proposer's wall clock), never from the applier's clock.

- **Control lease**: who may control and write to devices (``holder``), until
  when (``expires_at_s``, UTC epoch seconds by the holder's clock), and the
  **fencing token**: a number that grows every time the lease changes hands,
  so a write tagged with an older token is recognisably an old leader's.
- **Controller state**: the controllers' durable state (the manual hold and
  mode, runtime parameters), as the holder last published it.
- **Taken commands**: command id -> when the holder admitted it, committed
  *before* its request channel is written; the new leader never executes a
  command the old one took (it may have run), answering a redelivery from
  this record instead.
- **Executed commands**: command id -> when it was applied.
- **Config**: the newest edge YAML the cloud pushed (as a document) and its
  version, committed by the holder before it swaps the config in, so every
  node runs it (a node that was down applies it when it rejoins); and each
  node's outcome of applying it (:class:`ConfigOutcome`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConfigOutcome", "Grant", "LeaseTable"]

#: Executed-command ids kept (oldest dropped first); the cloud redelivers only recent ones.
MAX_EXECUTED = 10_000


@dataclass(frozen=True, slots=True)
class Grant:
    """The lease as it stands after an ``acquire``."""

    holder: str | None
    token: int
    expires_at_s: float


@dataclass(frozen=True, slots=True)
class ConfigOutcome:
    """What one node made of a config version: ``applied`` or ``rejected`` (with the
    stable reason code and detail of its ``config_ack``)."""

    version: int
    status: str
    reason: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class LeaseTable:
    holder: str | None = None
    token: int = 0
    expires_at_s: float = 0.0
    controller_state: dict[str, Any] = field(default_factory=dict)
    state_token: int = 0  # the token under which controller_state was published
    taken: dict[str, float] = field(default_factory=dict)
    executed: dict[str, float] = field(default_factory=dict)
    config_version: int = 0  # 0: no config pushed through the pair yet
    config: dict[str, Any] | None = None
    config_outcomes: dict[str, ConfigOutcome] = field(default_factory=dict)  # by node

    def acquire(self, node: str, now_s: float, lease_s: float) -> Grant:
        """Grant or renew ``node``'s lease when it holds it or the lease lapsed."""
        free = self.holder is None or now_s >= self.expires_at_s
        if self.holder == node and now_s < self.expires_at_s:
            self.expires_at_s = now_s + lease_s  # renewal: same token
        elif free:
            self.holder = node
            self.token += 1
            self.expires_at_s = now_s + lease_s
        return Grant(self.holder, self.token, self.expires_at_s)

    def transfer(self, node: str, to: str, now_s: float, lease_s: float) -> bool:
        """``node`` hands its lease to ``to`` under a new token (a planned switchover).

        ``to`` counts it as its own from its next renewal (it learns of it only
        then), so the two never hold it at once; if ``to`` never comes, the lease
        lapses after ``lease_s`` and is free again."""
        if self.holder != node or to == node:
            return False
        self.holder = to
        self.token += 1
        self.expires_at_s = now_s + lease_s
        return True

    def publish_state(self, token: int, state: dict[str, Any]) -> bool:
        """Controller state from the holder of ``token``; an older token's is refused."""
        if token != self.token or token < self.state_token:
            return False
        self.controller_state = state
        self.state_token = token
        return True

    def record_taken(self, token: int, command_id: str, at_s: float) -> bool:
        """The holder of ``token`` admits ``command_id``; refused from an older token (a
        stale leader may not start a command) and for an id already taken."""
        if token != self.token or command_id in self.taken:
            return False
        self.taken[command_id] = at_s
        _trim(self.taken)
        return True

    def record_executed(self, token: int, executed: dict[str, float]) -> bool:
        """Commands the holder of ``token`` applied (id -> applied at, UTC epoch s).

        Accepted from an older token too: what an old leader did execute must be
        known, whoever leads now."""
        del token  # recorded for the log's readers; every execution counts
        self.executed.update(executed)
        _trim(self.executed)
        return True

    def publish_config(self, token: int, version: int, config: dict[str, Any]) -> bool:
        """The holder of ``token`` takes config ``version``; refused from an older token
        and for a version not newer than the table's."""
        if token != self.token or version <= self.config_version:
            return False
        self.config_version, self.config = version, config
        return True

    def record_config_outcome(self, node: str, outcome: ConfigOutcome) -> bool:
        """``node`` applied (or refused) a config version; an older one's outcome is
        kept only until the newer one's comes."""
        previous = self.config_outcomes.get(node)
        if previous is not None and previous.version > outcome.version:
            return False
        self.config_outcomes[node] = outcome
        return True


def _trim(record: dict[str, float]) -> None:
    """Keep the newest :data:`MAX_EXECUTED` ids (by time)."""
    if len(record) > MAX_EXECUTED:
        for command_id in sorted(record, key=record.__getitem__)[: len(record) - MAX_EXECUTED]:
            del record[command_id]
