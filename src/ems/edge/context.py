"""What a controller sees and may do in one cycle.

A controller reads only the cycle's snapshot and writes only through this
context; the cycle applies the writes after every controller has run, so a
controller that raises leaves no half-written outputs behind (nor half-made
narrowings). Besides writing, a controller may narrow a numeric output's
range for the rest of the cycle (:mod:`ems.edge.ranges`): the value staged
by less important controllers and every later write are clamped into it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ems.dal import Snapshot, Value
from ems.edge.clocksync import ClockSync
from ems.edge.ranges import Clamp, Range
from ems.profiles import DeviceProfile

__all__ = ["Ack", "CycleContext", "CycleWrites"]

log = logging.getLogger(__name__)


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
    #: Output address -> its allowed range for the rest of the cycle.
    ranges: dict[str, Range] = field(default_factory=dict)
    #: Every value moved into a range this cycle, in order (why an output is not what
    #: a controller wrote).
    clamps: list[Clamp] = field(default_factory=list)
    #: Controllers' own status channels (``<controller id>/<Name>``) -> value.
    status: dict[str, Value] = field(default_factory=dict)

    def merge(self, other: CycleWrites) -> None:
        # A narrowing also binds what less important controllers staged before it.
        for address, rng in other.ranges.items():
            self.ranges[address] = rng
            if address not in other.outputs and address in self.outputs:
                self.outputs[address] = clamp_into(self.clamps, address, self.outputs[address], rng)
        self.outputs.update(other.outputs)  # last write wins per output channel
        self.acks.extend(other.acks)
        self.clamps.extend(other.clamps)
        self.status.update(other.status)


def clamp_into(clamps: list[Clamp], address: str, value: Value, rng: Range) -> Value:
    """``value`` clamped into ``rng`` (numbers only), the clamp recorded and logged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    applied = rng.clamp(value)
    if applied != value:
        clamp = Clamp(address, value, applied, rng)
        clamps.append(clamp)
        log.debug("%s", clamp)
    return applied


class CycleContext:
    """Per-controller view of one cycle."""

    __slots__ = (
        "_outputs",
        "_staged",
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
        staged: CycleWrites | None = None,
        status_addresses: frozenset[str] = frozenset(),
    ) -> None:
        """``staged``: what the controllers that ran before this one decided (read only)."""
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
        self._staged = staged or CycleWrites()
        self._status = status_addresses

    def past_deadline(self, deadline_s: float) -> bool:
        """Whether a command with this deadline [UTC epoch s, the cloud's clock] may no
        longer be applied in this cycle: it is converted to this edge's clock with the
        measured offset, less ``deadline_margin_s`` and the offset's uncertainty."""
        return self._sync.past_deadline(self.now_s, deadline_s, self.deadline_margin_s)

    def write(self, address: str, value: Value) -> None:
        """Set an output channel for this cycle (the last controller to write it wins),
        clamped into its range if a controller narrowed it."""
        self._check_output(address)
        rng = self.range(address)
        if rng is not None:
            value = clamp_into(self._writes.clamps, address, value, rng)
        self._writes.outputs[address] = value

    def narrow(
        self,
        address: str,
        reason: str,
        min: float | None = None,
        max: float | None = None,
    ) -> None:
        """Bound a numeric output for the rest of the cycle, in the output's unit; what
        is staged already and every later write are clamped into the range."""
        self._check_output(address)
        newer = Range(min, max, self.controller_id, reason)
        current = self.range(address)
        rng = newer if current is None else current.then(newer)
        self._writes.ranges[address] = rng
        if address in self._writes.outputs:
            self._writes.outputs[address] = clamp_into(
                self._writes.clamps, address, self._writes.outputs[address], rng
            )

    def pin(self, address: str, value: float, reason: str) -> None:
        """Write ``value`` and make it the only value allowed for the rest of the cycle,
        whatever less important controllers narrowed (the operator's manual hold)."""
        self._check_output(address)
        self._writes.ranges[address] = Range(value, value, self.controller_id, reason, True)
        self._writes.outputs[address] = value

    def range(self, address: str) -> Range | None:
        """The output's allowed range so far this cycle, or ``None`` when unbounded."""
        return self._writes.ranges.get(address) or self._staged.ranges.get(address)

    def staged(self, address: str) -> Value | None:
        """What the controllers so far decided for an output (``None``: nobody wrote it)."""
        if address in self._writes.outputs:
            return self._writes.outputs[address]
        return self._staged.outputs.get(address)

    def status(self, name: str, value: Value) -> None:
        """Set this controller's own status channel ``<controller id>/<name>``."""
        address = f"{self.controller_id}/{name}"
        if address not in self._status:
            raise KeyError(f"{address!r} is not a status channel of controller")
        self._writes.status[address] = value

    def _check_output(self, address: str) -> None:
        if address not in self._outputs:
            raise KeyError(f"{address!r} is not an output channel of this edge")

    def ack(self, ack: Ack) -> None:
        self._writes.acks.append(ack)

    def take_writes(self) -> CycleWrites:
        writes, self._writes = self._writes, CycleWrites()
        return writes
