"""A simulated grid meter closes the balance over measured (driver) devices too.

The demo site's simulators, with its battery measured instead: a driver's
reading (or the DAL written as a driver would) enters the grid's balance with
the battery's sign, a stale or failed one counts as 0 W.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from ems.clock import VirtualClock
from ems.dal import Category, ChannelStore, Sample, Value
from ems.devices.base import BalanceRole, SiteContext, balance_role_of
from ems.devices.grid_meter.config import GridMeterConfig
from ems.devices.grid_meter.model import GridMeterSimulator
from ems.devices.host import SimulationHost, SiteBus
from ems.devices.measured import STALE_POLLS, MeasuredDevice
from ems.drivers.base import Driver, DriverConfig, DriverContext, Reading
from ems.drivers.host import DRIVER_CHANNELS, DriverRunner
from ems.edge.config import load_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import DeviceTimeout
from ems.profiles import builtin_profiles

POLL_S = 1.0
START_S = 1_782_036_000.0  # 2026-06-21 10:00Z: the PV produces


def measured_site(clock: VirtualClock) -> tuple[ChannelStore, SimulationHost]:
    """The demo site's store and simulators, but battery_1 is measured (a driver)."""
    rt = EdgeRuntime(load_edge_config(None), clock)
    for name, unit in DRIVER_CHANNELS.items():  # as the DriverHost declares them
        rt.store.declare(f"battery_1/{name}", Category.INPUT, unit)
    sims = [s for s in rt.simulators if s.device_id != "battery_1"]
    battery = MeasuredDevice.polled("battery_1", balance_role_of("battery"), POLL_S)
    return rt.store, SimulationHost(rt.store, clock, sims, {}, measured=[battery])


def power(store: ChannelStore, device_id: str) -> float:
    sample = store.get_channel(f"{device_id}/ActivePower")
    assert sample is not None and isinstance(sample.value, float | int)
    return float(sample.value)


def grid_without_battery(store: ChannelStore) -> float:
    return power(store, "load") - power(store, "pv_1")


class FakeBattery(Driver):
    """A battery driver reading a number the test sets; ``None``: it does not answer."""

    type_name = "fake_battery"

    def __init__(self) -> None:
        super().__init__(
            "battery_1",
            DriverConfig(poll_s=POLL_S, retries=0),
            builtin_profiles()["battery"],
            DriverContext(),
        )
        self.power_w: float | None = 0.0

    def read(self) -> Reading:
        if self.power_w is None:
            raise DeviceTimeout("no answer")
        return Reading({"ActivePower": self.power_w, "Soc": 50.0})

    def write(self, channel: str, value: Value) -> None:
        raise AssertionError("nothing is written here")


def test_a_measured_battery_read_from_the_dal_enters_the_balance() -> None:
    clock = VirtualClock(START_S)
    store, host = measured_site(clock)
    host.tick_all()
    assert power(store, "grid") == pytest.approx(grid_without_battery(store), abs=1e-9)
    # As a driver without the bus would write it: seen when the grid meter next steps.
    store.set_channels({"battery_1/ActivePower": 1500.0, "battery_1/CommunicationFailed": False})
    clock.advance(POLL_S)
    host.tick_all()
    assert power(store, "pv_1") > 0  # the PV's sign is in the balance too
    load_w = power(store, "load")
    assert load_w == pytest.approx(power(store, "grid") + power(store, "pv_1") + 1500.0, abs=1e-9)


def test_a_driver_poll_and_the_grid_closed_over_it_land_in_one_write() -> None:
    clock = VirtualClock(START_S)
    store, host = measured_site(clock)
    host.tick_all()
    driver = FakeBattery()
    runner = DriverRunner(driver, store, clock, host.publish_measured)
    seen: dict[str, Sample] = {}
    store.watch("", lambda address, sample: seen.__setitem__(address, sample))
    clock.advance(0.3)  # between two simulator ticks
    driver.power_w = -2500.0  # charging
    assert runner.poll_once()
    assert seen["grid/ActivePower"].ts == seen["battery_1/ActivePower"].ts == clock.time()
    snapshot = store.snapshot()
    grid_w = snapshot.number("grid/ActivePower")
    assert grid_w == pytest.approx(grid_without_battery(store) + 2500.0, abs=1e-9)


def test_a_stale_reading_counts_as_zero_after_three_polls() -> None:
    clock = VirtualClock(START_S)
    store, host = measured_site(clock)
    host.tick_all()
    store.set_channels({"battery_1/ActivePower": 2000.0, "battery_1/CommunicationFailed": False})
    clock.advance((STALE_POLLS - 1) * POLL_S)  # late, not dead: still counted
    host.tick_all()
    assert power(store, "grid") == pytest.approx(grid_without_battery(store) - 2000.0, abs=1e-9)
    clock.advance(2 * POLL_S)  # now older than STALE_POLLS polls: the device is gone
    host.tick_all()
    assert power(store, "grid") == pytest.approx(grid_without_battery(store), abs=1e-9)


def test_a_device_that_stops_answering_counts_as_zero_at_once() -> None:
    clock = VirtualClock(START_S)
    store, host = measured_site(clock)
    host.tick_all()
    driver = FakeBattery()
    runner = DriverRunner(driver, store, clock, host.publish_measured)
    driver.power_w = 3000.0
    assert runner.poll_once()
    assert power(store, "grid") == pytest.approx(grid_without_battery(store) - 3000.0, abs=1e-9)
    driver.power_w = None
    clock.advance(POLL_S)
    assert not runner.poll_once()  # CommunicationFailed: the grid closes without it now
    assert store.get_channel("battery_1/CommunicationFailed").value is True  # type: ignore[union-attr]
    assert power(store, "battery_1") == 3000.0  # the old number stays, stale
    assert power(store, "grid") == pytest.approx(grid_without_battery(store), abs=1e-9)


@pytest.mark.parametrize("value", [math.nan, math.inf, "1500", None, True])
def test_a_reading_that_is_no_number_counts_as_zero_and_the_host_runs_on(value: Value) -> None:
    clock = VirtualClock(START_S)
    store, host = measured_site(clock)
    store.set_channels({"battery_1/ActivePower": value, "battery_1/CommunicationFailed": False})
    host.tick_all()
    assert host.errors == 0
    assert power(store, "grid") == pytest.approx(grid_without_battery(store), abs=1e-9)


@pytest.mark.parametrize(
    ("profile", "net_w"),
    [("battery", -1000.0), ("pv_inverter", -1000.0), ("load_meter", 1000.0), ("grid_meter", 0.0)],
)
def test_each_profile_enters_with_the_sign_its_simulators_have(profile: str, net_w: float) -> None:
    clock = VirtualClock(START_S)
    store = ChannelStore(clock)
    for name in ("ActivePower", "Voltage"):
        store.declare(f"grid/{name}", Category.INPUT)
    for name in ("ActivePower", "CommunicationFailed"):
        store.declare(f"dev_1/{name}", Category.INPUT)
    site = SiteContext(52.52, 13.405, 34.0, "Europe/Berlin")
    grid = GridMeterSimulator("grid", GridMeterConfig(), site)
    bus = SiteBus(store, grid, [MeasuredDevice.polled("dev_1", balance_role_of(profile), POLL_S)])
    bus.publish_measured({"dev_1/ActivePower": 1000.0}, clock.time())
    expected: Mapping[str, BalanceRole] = {
        "battery": BalanceRole.STORAGE,
        "pv_inverter": BalanceRole.GENERATION,
        "load_meter": BalanceRole.CONSUMPTION,
        "grid_meter": BalanceRole.GRID,
    }
    assert balance_role_of(profile) is expected[profile]
    if profile == "grid_meter":  # a measured grid is no part of the sum it closes
        assert store.get_channel("grid/ActivePower") is None
    else:
        assert power(store, "grid") == pytest.approx(net_w, abs=1e-9)


def test_the_simulators_take_their_role_from_the_same_mapping() -> None:
    rt = EdgeRuntime(load_edge_config(None), VirtualClock(START_S))
    for sim in rt.simulators:
        assert sim.balance_role is balance_role_of(rt.devices[sim.device_id].type)
