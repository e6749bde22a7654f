"""The cycle's port to devices that take their setpoints over real I/O (drivers).

After a cycle applies its outputs to the DAL, the outputs of driver devices
are also handed to a :class:`DeviceWriter`, which sends them from its own
threads (the cycle never waits for a device). A command whose output goes to
such a device is answered ``executed`` only once the device confirmed the
write, or ``failed`` with the writer's reason; the cycle collects those
verdicts at its next start (:meth:`DeviceWriter.outcomes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ems.dal import Value

__all__ = ["DeviceWriter", "WriteOutcome"]


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """The verdict on the write that carried command ``command_id``."""

    command_id: str
    ok: bool
    reason: str | None = None  # "device_timeout" | "device_write_failed" when not ok
    detail: str | None = None


class DeviceWriter(Protocol):
    def devices(self) -> frozenset[str]:
        """Ids of the devices whose outputs go through this writer."""
        ...

    def submit(
        self, device_id: str, values: Mapping[str, Value], tags: Mapping[str, Sequence[str]]
    ) -> None:
        """Queue ``values`` (channel name -> value) for the device; never blocks.

        A newer value for a channel replaces one not yet sent (latest wins);
        ``tags`` name, per channel, the command ids whose verdict that write is.
        """
        ...

    def outcomes(self) -> list[WriteOutcome]:
        """The verdicts reached since the last call (each returned once)."""
        ...
