"""Grid meter simulator: the connection point that closes the site balance.

Signs (DESIGN.md §3): ``ActivePower`` > 0 importing from the grid, < 0 exporting,
in W; energy counters in Wh, both positive and cumulative; time in UTC epoch s.

``close_balance`` is a cheap, pure-ish query the host calls after every publish of
another device: it remembers the net it was given but never advances the random
processes, which only :meth:`GridMeterSimulator.step` does. So the number of
publishes between steps cannot change the random sequence.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping
from typing import ClassVar
from zoneinfo import ZoneInfo

from ems.dal import Sample, Value
from ems.devices.base import (
    GridSimulator,
    MeterEnergy,
    SimulatorConfig,
    SiteContext,
    register_simulator,
)
from ems.devices.grid_meter.config import GridMeterConfig
from ems.devices.grid_meter.events import GridEvents
from ems.devices.load_meter.local_day import LocalDay, local_day

__all__ = ["GridMeterSimulator"]

_FREQUENCY_MEMORY_S = 60.0  # primary control pulls deviations back within about a minute
_VOLTAGE_MEMORY_S = 120.0  # neighbours' loads change the feeder voltage over minutes


@register_simulator
class GridMeterSimulator(GridSimulator):
    """Grid power = net site demand + unmetered flows; voltage droops with import."""

    type_name: ClassVar[str] = "grid_meter"
    config_model: ClassVar[type[SimulatorConfig]] = GridMeterConfig

    def __init__(self, device_id: str, config: GridMeterConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.config = config
        self._tz = ZoneInfo(site.timezone)
        self._day: LocalDay | None = None
        self._hours = [h for h, _ in config.unmetered_profile_w]
        self._watts = [w for _, w in config.unmetered_profile_w]
        self._rng = random.Random(f"ems.grid_meter/{config.seed}")  # str seeds hash stably
        band = config.frequency_band_hz
        self._freq_dev_hz = min(max(self._rng.gauss(0.0, config.frequency_sd_hz), -band), band)
        self._voltage_dev_v = self._rng.gauss(0.0, config.voltage_sd_v)
        self._net_w = 0.0  # last net site demand close_balance was given
        self._held_w = 0.0  # ActivePower at the last step, flows until the next one
        self._energy = MeterEnergy()
        self._events = GridEvents(config.events)

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        self._events.start(now_s)
        if dt_s > 0:
            self._energy.add(self._held_w, dt_s)
            self._advance_noise(dt_s)
        channels = self.close_balance(now_s, self._net_w)
        power = channels["ActivePower"]
        self._held_w = float(power) if isinstance(power, int | float) else 0.0
        event_hz = self._events.frequency_hz(now_s)
        channels["Frequency"] = (
            self.config.nominal_frequency_hz + self._freq_dev_hz if event_hz is None else event_hz
        )
        channels["ActiveEnergyImport"] = self._energy.import_wh
        channels["ActiveEnergyExport"] = self._energy.export_wh
        return channels

    def close_balance(self, now_s: float, net_site_w: float) -> dict[str, Value]:
        """``ActivePower`` (net + unmetered) and ``Voltage`` for a net site demand.

        Voltage falls by ``voltage_droop_v_per_kw`` per kW imported (rises when
        exporting) around the feeder voltage (nominal, or what a grid event
        holds) plus the feeder noise of the last step.
        """
        self._net_w = net_site_w
        power = net_site_w + self.unmetered_w(now_s)
        cfg = self.config
        feeder_v = self._events.voltage_v(now_s)
        feeder_v = cfg.nominal_voltage_v if feeder_v is None else feeder_v
        voltage = feeder_v - cfg.voltage_droop_v_per_kw * power / 1000.0
        return {"ActivePower": power, "Voltage": voltage + self._voltage_dev_v}

    def unmetered_w(self, now_s: float) -> float:
        """Flows behind this meter that no other meter sees (W, > 0 import) at ``now_s``."""
        hours = self._hours
        if not hours:
            return 0.0
        if len(hours) == 1:
            return self._watts[0]
        day = self._day
        if day is None or not day.contains(now_s):
            day = self._day = local_day(now_s, self._tz)
        hour = day.wall_s(now_s) / 3600.0
        j = bisect.bisect_right(hours, hour)
        if 0 < j < len(hours):
            h0, h1, w0, w1 = hours[j - 1], hours[j], self._watts[j - 1], self._watts[j]
        else:  # between the last point and the first one of the next day
            h0, h1, w0, w1 = hours[-1], hours[0] + 24.0, self._watts[-1], self._watts[0]
            if hour < h0:
                hour += 24.0
        return w0 + (w1 - w0) * (hour - h0) / (h1 - h0)

    def _advance_noise(self, dt_s: float) -> None:
        """Advance frequency and voltage noise (Ornstein-Uhlenbeck, exact for any dt_s)."""
        cfg = self.config
        a = math.exp(-dt_s / _FREQUENCY_MEMORY_S)
        dev = a * self._freq_dev_hz + self._rng.gauss(0.0, cfg.frequency_sd_hz) * math.sqrt(
            1.0 - a * a
        )
        band = cfg.frequency_band_hz
        self._freq_dev_hz = min(max(dev, -band), band)
        b = math.exp(-dt_s / _VOLTAGE_MEMORY_S)
        self._voltage_dev_v = b * self._voltage_dev_v + self._rng.gauss(
            0.0, cfg.voltage_sd_v
        ) * math.sqrt(1.0 - b * b)
