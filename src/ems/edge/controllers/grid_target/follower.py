"""The battery setpoint that holds the grid at a target, one cycle at a time.

Each cycle the battery is asked for what the grid takes beyond the target:
``battery = grid + battery_now − target`` (battery > 0 discharges, grid > 0
imports; the measured battery power is added back so the formula has no
integrator to wind up or oscillate). Then, in this order:

* **direction**: charge or discharge is decided by :class:`DirectionLatch`, so
  the battery does not alternate under a noisy steady load; against the latched
  direction it idles at 0 W instead;
* **deadband**: while the grid is within ``deadband_w`` of the target, on the
  side where that costs nothing the battery is for (exporting a little while
  charging, importing a little while discharging), the last setpoint stays, so
  noise is not chased; but only until the error held since that setpoint adds
  up to ``deadband_w × deadband_hold_s`` [W·s]. Noise averages out and keeps the
  setpoint; a slow drift of the load or the PV (a bias that costs energy all
  along) is corrected within seconds. On the other side (charging from the
  grid, discharging into it) the setpoint follows at once;
* **SOC bounds**: no discharging at or below ``min_soc_pct``, no charging at or
  above ``max_soc_pct`` (each latched until the SOC moved back by
  ``soc_hysteresis_pct``);
* **live limits**: within the battery's ``MaxChargePower`` and
  ``MaxDischargePower`` now.

With an input missing or older than ``max_input_age_s`` the setpoint is 0 W
(idle) and the state says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ems.edge.context import CycleContext
from ems.edge.controllers.grid_target.direction import Direction, DirectionLatch
from ems.edge.controllers.grid_target.params import GridTargetParams
from ems.edge.controllers.inputs import Missing, battery_at_grid, read_fresh
from ems.profiles import DeviceProfile

__all__ = ["Decision", "GridFollower"]


@dataclass(frozen=True, slots=True)
class Decision:
    """This cycle's battery setpoint [W, > 0 discharge] and why (``state``: lower_snake)."""

    setpoint_w: float
    state: str
    detail: str = ""


class GridFollower:
    """Holds the state between cycles (latches, the last setpoint) of one controller."""

    def __init__(self, params: GridTargetParams, devices: Mapping[str, DeviceProfile]) -> None:
        self.params = params
        self._channels = ch = battery_at_grid(devices, params.battery, params.grid)
        self.inputs = (ch.grid_w, ch.battery_w, ch.soc, ch.max_charge_w, ch.max_discharge_w)
        self.output = ch.setpoint
        self._latch = DirectionLatch(params.deadband_w, params.smoothing_s)
        self._last_w = 0.0
        self._last_s: float | None = None
        self._held_error_ws = 0.0
        self._at_min_soc = False
        self._at_max_soc = False

    def reset(self) -> None:
        """Forget the direction, the last setpoint and the held error: start afresh."""
        self._latch.reset()
        self._last_w = 0.0
        self._last_s = None
        self._held_error_ws = 0.0

    def decide(self, ctx: CycleContext, target_grid_w: float) -> Decision:
        """The setpoint that brings the grid to ``target_grid_w`` [W, > 0 import]."""
        p = self.params
        inputs = read_fresh(ctx, self.inputs, p.max_input_age_s)
        if isinstance(inputs, Missing):
            self.reset()
            return Decision(0.0, inputs.state, inputs.detail)
        error_w = inputs[self._channels.grid_w] - target_grid_w
        demand_w = error_w + inputs[self._channels.battery_w]
        dt_s = 0.0 if self._last_s is None else ctx.now_s - self._last_s
        self._last_s = ctx.now_s
        direction = self._latch.update(demand_w, dt_s)

        held = False
        if abs(error_w) <= p.deadband_w and _harmless(error_w, self._last_w):
            self._held_error_ws += error_w * dt_s
            held = abs(self._held_error_ws) <= p.deadband_w * p.deadband_hold_s
        if held:
            want_w = self._last_w  # on target: no new setpoint
        else:
            want_w = demand_w
            self._held_error_ws = 0.0
        # Never against the latched direction: idle instead of flipping.
        if direction is Direction.DISCHARGE:
            want_w = max(want_w, 0.0)
        elif direction is Direction.CHARGE:
            want_w = min(want_w, 0.0)
        else:
            want_w = 0.0

        soc = inputs[self._channels.soc]
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
        setpoint_w = min(
            max(want_w, -inputs[self._channels.max_charge_w]),
            inputs[self._channels.max_discharge_w],
        )
        self._last_w = setpoint_w
        return Decision(setpoint_w, self._state_of(setpoint_w, direction))

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


def _harmless(error_w: float, battery_w: float) -> bool:
    """Whether holding the setpoint at this grid error costs nothing the battery is for.

    Charging, a slight export only leaves a few watts of surplus unstored; a slight
    import would be charging the battery from the grid. Discharging, a slight import is
    the lesser evil; a slight export would be selling stored energy back to the grid.
    So only the harmless side of the target holds; the other gets a new setpoint at once.
    """
    if battery_w < 0:
        return error_w <= 0
    if battery_w > 0:
        return error_w >= 0
    return True


def _latched(on: bool, set_when: bool, clear_when: bool) -> bool:
    if set_when:
        return True
    if clear_when:
        return False
    return on
