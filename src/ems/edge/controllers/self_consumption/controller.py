"""Self-consumption: the battery holds the grid at ``target_grid_w``.

Each cycle the battery is asked for what the grid takes beyond the target:
``battery = grid + battery_now − target`` (battery > 0 discharges, grid > 0
imports; the measured battery power is added back so the formula has no
integrator to wind up or oscillate). Then, in this order:

* **direction**: charge or discharge is decided by :class:`DirectionLatch`, so
  the battery does not alternate under a noisy steady load; against the latched
  direction it idles at 0 W instead;
* **deadband**: while the grid is within ``deadband_w`` of the target the last
  setpoint stays, so noise is not chased;
* **SOC bounds**: no discharging at or below ``min_soc_pct``, no charging at or
  above ``max_soc_pct`` (each latched until the SOC moved back by
  ``soc_hysteresis_pct``);
* **live limits**: within the battery's ``MaxChargePower`` and
  ``MaxDischargePower`` now.

With an input missing or older than ``max_input_age_s`` it writes 0 W (idle)
and says why in ``<id>/State``. Its write is the least important kind:
more important controllers narrow it (peak shaving) or replace it (manual).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.inputs import Missing, device_of_type, read_fresh
from ems.edge.controllers.self_consumption.config import SelfConsumptionParams
from ems.edge.controllers.self_consumption.direction import Direction, DirectionLatch
from ems.profiles import DeviceProfile

__all__ = ["SelfConsumption"]

log = logging.getLogger(__name__)


@register_controller
class SelfConsumption(Controller):
    type_name = "self_consumption"
    config_model = SelfConsumptionParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: SelfConsumptionParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        battery = device_of_type(devices, params.battery, "battery", "battery")
        grid = device_of_type(devices, params.grid, "grid_meter", "grid")
        self._grid_w = f"{grid}/ActivePower"
        self._battery_w = f"{battery}/ActivePower"
        self._soc = f"{battery}/Soc"
        self._max_charge_w = f"{battery}/MaxChargePower"
        self._max_discharge_w = f"{battery}/MaxDischargePower"
        self._inputs = (
            self._grid_w,
            self._battery_w,
            self._soc,
            self._max_charge_w,
            self._max_discharge_w,
        )
        self.output = f"{battery}/SetActivePower"
        self._latch = DirectionLatch(params.deadband_w, params.smoothing_s)
        self._last_w = 0.0
        self._last_s: float | None = None
        self._at_min_soc = False
        self._at_max_soc = False
        self.state = "starting"

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None}

    def run(self, ctx: CycleContext) -> None:
        p = self.params
        inputs = read_fresh(ctx, self._inputs, p.max_input_age_s)
        if isinstance(inputs, Missing):
            self._latch.reset()
            self._last_w = 0.0
            self._last_s = None
            ctx.write(self.output, 0.0)
            self._report(ctx, inputs.state, inputs.detail)
            return
        grid_w = inputs[self._grid_w]
        demand_w = grid_w + inputs[self._battery_w] - p.target_grid_w
        dt_s = 0.0 if self._last_s is None else ctx.now_s - self._last_s
        self._last_s = ctx.now_s
        direction = self._latch.update(demand_w, dt_s)

        on_target = abs(grid_w - p.target_grid_w) <= p.deadband_w
        want_w = self._last_w if on_target else demand_w  # on target: no new setpoint
        # Never against the latched direction: idle instead of flipping.
        if direction is Direction.DISCHARGE:
            want_w = max(want_w, 0.0)
        elif direction is Direction.CHARGE:
            want_w = min(want_w, 0.0)
        else:
            want_w = 0.0

        soc = inputs[self._soc]
        self._at_min_soc = _latched(
            self._at_min_soc, soc <= p.min_soc_pct, soc >= p.min_soc_pct + p.soc_hysteresis_pct
        )
        self._at_max_soc = _latched(
            self._at_max_soc, soc >= p.max_soc_pct, soc <= p.max_soc_pct - p.soc_hysteresis_pct
        )
        if self._at_min_soc:
            want_w = min(want_w, 0.0)
        if self._at_max_soc:
            want_w = max(want_w, 0.0)
        setpoint_w = min(max(want_w, -inputs[self._max_charge_w]), inputs[self._max_discharge_w])
        self._last_w = setpoint_w
        ctx.write(self.output, setpoint_w)
        self._report(ctx, self._state_of(setpoint_w, direction), "")

    def _state_of(self, setpoint_w: float, direction: Direction) -> str:
        if setpoint_w > 0:
            return "discharging"
        if setpoint_w < 0:
            return "charging"
        if self._at_min_soc and direction is Direction.DISCHARGE:
            return "at_min_soc"
        if self._at_max_soc and direction is Direction.CHARGE:
            return "at_max_soc"
        return "idle"

    def _report(self, ctx: CycleContext, state: str, detail: str) -> None:
        if state != self.state:
            level = logging.WARNING if state.endswith("_inputs") else logging.INFO
            log.log(level, "%s: %s%s", self.id, state, f" ({detail})" if detail else "")
        self.state = state
        ctx.status("State", state)


def _latched(on: bool, set_when: bool, clear_when: bool) -> bool:
    if set_when:
        return True
    if clear_when:
        return False
    return on
