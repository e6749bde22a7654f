"""A harness for controller tests that read as cycle tables.

::

    h = CycleHarness([ManualOverride(...)], {"battery_1": "battery"})
    h.set("battery_1/MaxChargePower", 5000)
    h.command("battery_1", "set_active_power", -3000)
    h.cycle()
    assert h.output("battery_1/SetActivePower") == -3000

Shipped beside the interfaces it stands in for, so an engineer adding a
controller tests it the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ems.audit import AuditTrail
from ems.clock import VirtualClock
from ems.dal import ChannelStore, Value
from ems.edge.clocksync import ClockSync
from ems.edge.context import CycleWrites
from ems.edge.controllers.base import Controller
from ems.edge.cycle import EdgeCycle, Estimators
from ems.edge.executions import Execution
from ems.edge.requests import CommandRequest, RequestWriter, Verdict
from ems.edge.runtime import declare_device_channels
from ems.edge.virtual_meters import VirtualMeters
from ems.profiles import DeviceProfile, builtin_profiles
from ems.timefmt import to_rfc3339

__all__ = ["CycleHarness", "devices_of"]


def devices_of(types: Mapping[str, str]) -> dict[str, DeviceProfile]:
    """``{"battery_1": "battery"}`` → device id to built-in profile."""
    profiles = builtin_profiles()
    return {device: profiles[t] for device, t in types.items()}


class CycleHarness:
    def __init__(
        self,
        controllers: Sequence[Controller],
        devices: Mapping[str, DeviceProfile],
        period_s: float = 1.0,
        deadline_margin_s: float = 0.5,
        clock: VirtualClock | None = None,
        virtual_meters: VirtualMeters | None = None,
        estimators: Estimators | None = None,
    ) -> None:
        self.clock = VirtualClock() if clock is None else clock
        self.store = ChannelStore(self.clock)
        declare_device_channels(self.store, devices)
        #: The offset to the cloud's clock the deadline checks use (tests set it).
        self.clock_sync = ClockSync()
        self.audit = AuditTrail("edge")
        #: What the cycle applied, as the execution log would record it.
        self.executions: list[Execution] = []
        self.cycle = EdgeCycle(
            self.store,
            self.clock,
            controllers,
            devices,
            period_s,
            deadline_margin_s,
            audit=self.audit,
            clock_sync=self.clock_sync,
            executions=self.executions.append,
            virtual_meters=virtual_meters,
            estimators=estimators,
        )
        self.requests = RequestWriter(
            self.store,
            self.clock,
            devices,
            deadline_margin_s,
            audit=self.audit,
            clock_sync=self.clock_sync,
            controllers=controllers,
        )
        self.acks: list[dict[str, Any]] = []
        self.store.watch(
            "ack/",
            lambda address, s: self.acks.append(
                dict(s.value) if isinstance(s.value, Mapping) else {}
            ),
        )
        self._k = 0
        self._ids = itertools.count(1)

    def set(self, address: str, value: Value) -> None:
        """Set an input as a device would, stamped now."""
        self.store.set_channel(address, value)

    def set_many(self, values: Mapping[str, Value]) -> None:
        self.store.set_channels(values)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def command(
        self,
        device: str,
        action: str,
        value: float | str | bool | Mapping[str, float | bool],
        command_id: str | None = None,
        deadline_in_s: float | None = 5.0,
    ) -> str:
        """Deliver a command now; returns its id. Raises if the writer refused it."""
        verdict = self.try_command(device, action, value, command_id, deadline_in_s)
        if verdict.status != "delivered":
            raise AssertionError(f"command not delivered: {verdict}")
        return command_id or self._last_id

    def try_command(
        self,
        device: str,
        action: str,
        value: float | str | bool | Mapping[str, float | bool],
        command_id: str | None = None,
        deadline_in_s: float | None = 5.0,
    ) -> Verdict:
        now = self.clock.time()
        self._last_id = command_id or f"cmd-{next(self._ids)}"
        return self.requests.submit(
            CommandRequest(
                command_id=self._last_id,
                device=device,
                action=action,
                value=value,
                issued_at=to_rfc3339(now),
                deadline=None if deadline_in_s is None else to_rfc3339(now + deadline_in_s),
                user="test",
            )
        )

    def cycle_once(self) -> CycleWrites:
        writes = self.cycle.run_once(self._k)
        self._k += 1
        return writes

    def output(self, address: str) -> Value:
        sample = self.store.get_channel(address)
        return None if sample is None else sample.value

    def acks_for(self, command_id: str) -> list[dict[str, Any]]:
        return [a for a in self.acks if a.get("command_id") == command_id]

    def status(self, command_id: str) -> tuple[str, str | None] | None:
        """The one final status of a command, or ``None``; fails if there were several."""
        acks = self.acks_for(command_id)
        if not acks:
            return None
        if len(acks) > 1:
            raise AssertionError(f"{command_id} has {len(acks)} final statuses: {acks}")
        return acks[0]["status"], acks[0]["reason"]
