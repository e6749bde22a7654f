"""What a controller sees and may do in one cycle.

A controller reads only the cycle's snapshot and writes only through this
context; the cycle applies the writes after every controller has run, so a
controller that raises leaves no half-written outputs behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ems.dal import Snapshot, Value
from ems.edge.clocksync import ClockSync
from ems.profiles import DeviceProfile

__all__ = ["Ack", "CycleContext", "CycleWrites"]


@dataclass(frozen=True, slots=True)
class Ack:
    """A final status for a command, bound for an ``ack/…`` channel."""

    address: str
    command_id: str
    status: str  # "executed" | "failed"
    reason: str | None = None
    detail: str | None = None

    def value(self, at: str) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "at": at,
        }


@dataclass(slots=True)
class CycleWrites:
    """Writes staged by one controller (merged into the cycle's only if it succeeds)."""

    outputs: dict[str, Value] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)
    #: Controllers' own status channels (``<controller id>/<Name>``) -> value.
    status: dict[str, Value] = field(default_factory=dict)

    def merge(self, other: CycleWrites) -> None:
        self.outputs.update(other.outputs)  # last write wins per output channel
        self.acks.extend(other.acks)
        self.status.update(other.status)


class CycleContext:
    """Per-controller view of one cycle."""

    __slots__ = (
        "_outputs",
        "_status",
        "_sync",
        "_writes",
        "controller_id",
        "deadline_margin_s",
        "devices",
        "index",
        "now_s",
        "requests",
        "snapshot",
    )

    def __init__(
        self,
        snapshot: Snapshot,
        requests: Mapping[str, Mapping[str, Any]],
        now_s: float,
        index: int,
        devices: Mapping[str, DeviceProfile],
        deadline_margin_s: float,
        output_addresses: frozenset[str],
        clock_sync: ClockSync | None = None,
        *,
        controller_id: str = "",
        status_addresses: frozenset[str] = frozenset(),
    ) -> None:
        self.snapshot = snapshot
        # Requests this cycle took off their channels (address -> request); each
        # must end in exactly one ack from the controller that serves it.
        self.requests = requests
        self.now_s = now_s  # wall time at cycle start, UTC epoch s
        self.index = index
        self.devices = devices  # device id -> profile
        self.deadline_margin_s = deadline_margin_s
        self._outputs = output_addresses
        self._sync = clock_sync or ClockSync()
        self._writes = CycleWrites()
        self.controller_id = controller_id
        self._status = status_addresses

    def past_deadline(self, deadline_s: float) -> bool:
        """Whether a command with this deadline [UTC epoch s, the cloud's clock] may no
        longer be applied in this cycle: it is converted to this edge's clock with the
        measured offset, less ``deadline_margin_s`` and the offset's uncertainty."""
        return self._sync.past_deadline(self.now_s, deadline_s, self.deadline_margin_s)

    def write(self, address: str, value: Value) -> None:
        """Set an output channel for this cycle (the last controller to write it wins)."""
        if address not in self._outputs:
            raise KeyError(f"{address!r} is not an output channel of this edge")
        self._writes.outputs[address] = value

    def status(self, name: str, value: Value) -> None:
        """Set this controller's own status channel ``<controller id>/<name>``."""
        address = f"{self.controller_id}/{name}"
        if address not in self._status:
            raise KeyError(f"{address!r} is not a status channel of controller")
        self._writes.status[address] = value

    def ack(self, ack: Ack) -> None:
        self._writes.acks.append(ack)

    def take_writes(self) -> CycleWrites:
        writes, self._writes = self._writes, CycleWrites()
        return writes
