"""A command as the cloud tracks it, and the book of those this process knows.

The statuses (``ems.protocol.statuses``) move one way: the immediate answer
(``received``, ``queued`` or ``rejected``), then ``delivered``, then one final
status. A later status that overtakes the immediate answer waits in
``deferred`` (see :class:`~ems.cloud.commands.reporter.Reporter`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ems.protocol import UiAck
from ems.protocol.statuses import TERMINAL

__all__ = ["NEW", "CommandBook", "Tracked"]

#: The status of a command not yet answered (never sent to anyone).
NEW = "new"
_REMEMBER = 100_000  # finished commands kept for replay checks and late acks


@dataclass(eq=False, slots=True)
class Tracked:
    command_id: str
    username: str
    edge_id: str
    device: str
    action: str
    value: object
    issued_at: str
    ttl_s: int
    status: str
    created_at: float = 0.0
    """When the cloud took the command [s, Unix epoch] (on whichever process)."""
    routed: bool = False
    """Sent here by another cloud process, which holds the command's first statuses."""
    answered: bool = True
    """False while the dispatcher has not given its immediate ack yet."""
    deferred: list[UiAck] = field(default_factory=list)
    """Later statuses that came before the immediate ack (sent right after it)."""
    history: list[tuple[str, str | None, float]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def envelope(self) -> str:
        """What Redis keeps about the command (enough to finish it after a restart)."""
        return json.dumps(
            {
                "command_id": self.command_id,
                "user": self.username,
                "edge_id": self.edge_id,
                "device": self.device,
                "action": self.action,
                "value": self.value,
                "issued_at": self.issued_at,
                "ttl_s": self.ttl_s,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_envelope(cls, text: str, status: str) -> Tracked:
        e: dict[str, Any] = json.loads(text)
        return cls(
            e["command_id"],
            e["user"],
            e["edge_id"],
            e["device"],
            e["action"],
            e["value"],
            e["issued_at"],
            e["ttl_s"],
            status,
            created_at=e.get("created_at", 0.0),
        )


class CommandBook:
    """The commands this process knows, newest last, at most ``limit`` of them."""

    def __init__(self, limit: int = _REMEMBER) -> None:
        self.limit = limit
        self.commands: OrderedDict[str, Tracked] = OrderedDict()

    def __contains__(self, command_id: object) -> bool:
        return command_id in self.commands

    def get(self, command_id: str) -> Tracked | None:
        return self.commands.get(command_id)

    def remember(self, tracked: Tracked) -> None:
        self.commands[tracked.command_id] = tracked
        while len(self.commands) > self.limit:
            self.commands.popitem(last=False)

    def from_envelope(self, envelope: str, status: str) -> Tracked:
        """The command's record here, or one rebuilt from Redis (after a restart, or
        taken by another process)."""
        fresh = Tracked.from_envelope(envelope, status)
        known = self.commands.get(fresh.command_id)
        if known is not None:
            return known
        self.remember(fresh)
        return fresh
