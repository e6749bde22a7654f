"""The driver host's set of devices replaced live (a pushed config): kept drivers keep
their runner, new ones get one, and a retired runner's write verdicts still count."""

from __future__ import annotations

from ems.clock import VirtualClock
from ems.dal import ChannelStore, Value
from ems.drivers.base import Driver, DriverConfig, DriverContext, Reading
from ems.drivers.host import DriverHost
from ems.profiles import builtin_profiles


class Writable(Driver):
    type_name = "test_writable"

    def __init__(self, device_id: str) -> None:
        super().__init__(device_id, DriverConfig(), builtin_profiles()["battery"], DriverContext())
        self.written: list[tuple[str, Value]] = []

    def read(self) -> Reading:
        return Reading({"ActivePower": 0.0})

    def write(self, channel: str, value: Value) -> None:
        self.written.append((channel, value))

    def writable(self) -> frozenset[str]:
        return frozenset({"SetActivePower"})


def test_kept_runners_stay_new_ones_are_made_and_retired_verdicts_arrive() -> None:
    clock = VirtualClock(1_780_000_000.0)
    store = ChannelStore(clock)
    kept, replaced, new = Writable("b1"), Writable("b2"), Writable("b2")
    host = DriverHost(store, clock, [kept, replaced])
    kept_runner, old_runner = host.runners["b1"], host.runners["b2"]
    host.submit("b2", {"SetActivePower": -500}, {"SetActivePower": ["c1"]})

    retired = host.replace([kept, new])
    assert retired == [old_runner]
    assert host.runners["b1"] is kept_runner and host.runners["b2"] is not old_runner
    assert host.devices() == frozenset({"b1", "b2"})

    old_runner.flush_writes()  # the old thread's last wake, after the swap
    assert replaced.written == [("SetActivePower", -500)] and new.written == []
    old_runner.stop()
    verdicts = host.outcomes()
    assert [(v.command_id, v.ok) for v in verdicts] == [("c1", True)]
    assert host.outcomes() == [], "a stopped retired runner is forgotten once drained"
