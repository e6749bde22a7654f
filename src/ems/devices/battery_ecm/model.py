"""Cell-level battery simulator: the ``battery`` simulator's inverter and limits over an ECM pack.

The inverter, its setpoint handling and the SOC-dependent power limits are the
``battery`` simulator's (:class:`~ems.devices.battery.BatterySimulator`); what
changes is what happens in the cells during a step:

1. the DC power of the interval (AC power through the inverter's efficiency)
   becomes a current at the pack's terminal voltage (``P = V·I`` with
   ``V = OCV - v1 - v2 - R0·I``);
2. that current moves the equivalent circuit (:mod:`ems.cells.ecm`), heats the
   pack (:mod:`ems.cells.thermal`) and ages it (:mod:`ems.cells.ageing`);
3. the BMS measures current (bias and noise), voltage and temperature, and
   counts charge (:class:`~ems.devices.battery_ecm.bms.CoulombCounter`): that
   count is the published ``Soc``. The cells' real SOC is ``SocTrue``.

Power limits follow the true SOC (a real BMS's voltage limits); ``Soc`` is what
the BMS believes. ``Current`` > 0 discharging (DESIGN §17).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import ClassVar

from ems.cells import EcmState, PackModel, chemistry
from ems.cells.ageing import Ageing
from ems.cells.thermal import LumpedThermal
from ems.dal import Sample, Value
from ems.devices.base import SimulatorConfig, SiteContext, register_simulator
from ems.devices.battery.model import BatterySimulator
from ems.devices.battery_ecm.bms import CoulombCounter
from ems.devices.battery_ecm.config import EcmBatteryConfig

__all__ = ["EcmBatterySimulator"]

# Ambient peaks at 15:00 UTC: a sine shifted by 9 h from its zero crossing.
_WARMEST_OFFSET_H = 9.0


@register_simulator
class EcmBatterySimulator(BatterySimulator):
    """A battery of ECM cells with a thermal model, ageing and a coulomb-counting BMS."""

    type_name: ClassVar[str] = "battery_ecm"
    config_model: ClassVar[type[SimulatorConfig]] = EcmBatteryConfig

    def __init__(self, device_id: str, config: EcmBatteryConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.ecm_config = config
        chem = chemistry(config.chemistry)
        cells = config.cells_in_series
        nameplate_ah = config.capacity_wh / (cells * chem.nominal_cell_v)
        capacity_ah = nameplate_ah * (1.0 + config.capacity_deviation_pct / 100.0)
        self.pack = PackModel(chem, cells, capacity_ah)
        self.state = EcmState(soc=config.initial_soc_pct / 100.0)
        self.ageing = Ageing(chem, config.ageing_acceleration, capacity_ah=capacity_ah)
        start_c = config.initial_temperature_c
        self.thermal = LumpedThermal(
            config.heat_capacity_j_per_k,
            config.conductance_w_per_k,
            config.ambient_c if start_c is None else start_c,
        )
        err = config.bms_error
        self.bms = CoulombCounter(
            min(max(config.initial_soc_pct + err.initial_soc_error_pct, 0.0), 100.0), nameplate_ah
        )
        self._rng = random.Random(config.seed)
        self._current_a = 0.0  # true current of the interval that just ended
        self._now_s: float | None = None

    @property
    def capacity_ah(self) -> float:
        """Charge capacity of the pack now (Ah, faded)."""
        return self.pack.capacity_ah * (1.0 - self.ageing.fade)

    @property
    def resistance_growth(self) -> float:
        """Pack resistance above the datasheet's (fraction): the cells' spread, then ageing."""
        spread = 1.0 + self.ecm_config.resistance_deviation_pct / 100.0
        return spread * (1.0 + self.ageing.resistance_growth) - 1.0

    @property
    def soc_true_pct(self) -> float:
        return 100.0 * self.state.soc

    def ambient_c(self, now_s: float) -> float:
        cfg = self.ecm_config
        hours = (now_s / 3600.0 - _WARMEST_OFFSET_H) % 24.0
        return cfg.ambient_c + cfg.ambient_swing_c * math.sin(2.0 * math.pi * hours / 24.0)

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        self._now_s = now_s
        out = super().step(now_s, dt_s, setpoints)
        if dt_s <= 0:
            self._current_a = 0.0
        err = self.ecm_config.bms_error
        temperature_c = self.thermal.temperature_c
        measured_a = (
            self._current_a + err.current_bias_a + self._rng.gauss(0.0, err.current_noise_a)
        )
        voltage_v = self.pack.terminal_v(
            self.state, self._current_a, temperature_c, self.resistance_growth
        ) + self._ocv_deviation_v(self.state.soc)
        if dt_s > 0:
            self.bms.count(measured_a, dt_s)
        out["Soc"] = self.bms.soc_pct
        out["Voltage"] = voltage_v + self._rng.gauss(0.0, err.voltage_noise_v)
        out["Current"] = measured_a
        out["Temperature"] = temperature_c + self._rng.gauss(0.0, err.temperature_noise_c)
        if self.ecm_config.publish_true_soc:
            out["SocTrue"] = self.soc_true_pct
        return out

    def _settle(self, dt_s: float) -> None:
        """Run the interval's power through the cells (overrides the energy bucket)."""
        cfg = self.ecm_config
        eta = cfg.efficiency
        p_ac = self._power_w
        p_dc = p_ac / eta if p_ac > 0 else p_ac * eta
        temperature_c = self.thermal.temperature_c
        growth = self.resistance_growth
        current_a = self._current_for(p_dc, temperature_c, growth)
        # The BMS stops at the window's bounds (its voltage limits, in this model).
        capacity_ah = self.capacity_ah
        low, high = cfg.min_soc_pct / 100.0, cfg.max_soc_pct / 100.0
        if current_a > 0:
            current_a = min(current_a, (self.state.soc - low) * 3600.0 * capacity_ah / dt_s)
        elif current_a < 0:
            current_a = max(current_a, -(high - self.state.soc) * 3600.0 * capacity_ah / dt_s)
        current_a = max(current_a, 0.0) if p_ac > 0 else min(current_a, 0.0)
        terminal_v = self.pack.terminal_v(self.state, current_a, temperature_c, growth)
        dc_wh = (terminal_v + self._ocv_deviation_v(self.state.soc)) * current_a
        dc_wh *= dt_s / 3600.0
        if dc_wh > 0:
            self._discharge_wh += dc_wh * eta
        elif dc_wh < 0:
            self._charge_wh += -dc_wh / eta
        heat_w = self.pack.heat_w(self.state, current_a, temperature_c, growth)
        self.pack.advance(self.state, current_a, dt_s, temperature_c, capacity_ah, growth)
        self.state.soc = min(max(self.state.soc, low), high)
        ambient_c = self.ambient_c(self._now_s if self._now_s is not None else 0.0)
        self.thermal.advance(heat_w, ambient_c, dt_s)
        self.ageing.advance(current_a, dt_s, temperature_c)
        self._current_a = current_a
        self._energy_wh = self.state.soc * cfg.capacity_wh

    def _ocv_deviation_v(self, soc: float) -> float:
        """The pack's OCV minus the datasheet's: real cells are not the curve an
        estimator is built from (on an LFP plateau 2 mV a cell pass for ~2 % of SOC)."""
        amplitude_v = self.ecm_config.ocv_deviation_mv / 1000.0 * self.pack.series_cells
        return amplitude_v * math.sin(2.0 * math.pi * soc)

    def _current_for(self, p_dc_w: float, temperature_c: float, growth: float) -> float:
        """The current (A) that draws ``p_dc_w`` at the terminals: ``R·I² - E·I + P = 0``."""
        if p_dc_w == 0:
            return 0.0
        s = self.state
        emf_v = self.pack.ocv_v(s.soc, temperature_c) + s.h_v - s.v1_v - s.v2_v
        emf_v += self._ocv_deviation_v(s.soc)
        r_ohm = self.pack.r0_ohm(temperature_c, growth)
        disc = emf_v * emf_v - 4.0 * r_ohm * p_dc_w
        if disc < 0:  # more than the pack can give at any current: its maximum power
            return emf_v / (2.0 * r_ohm)
        return (emf_v - math.sqrt(disc)) / (2.0 * r_ohm)
