"""Peak shaving: grid import above ``peak_import_w`` comes from the battery.

From the snapshot it works out the import the site would have with the
battery idle, ``import0 = grid + battery_now`` [W], then *narrows* the
battery's setpoint rather than taking it over, so a less important
controller (self-consumption) keeps working inside the range:

* ``import0 > peak_import_w``: discharge at least ``import0 − peak_import_w``
  (up to the battery's ``MaxDischargePower``);
* otherwise charge at most ``recharge_below_w − import0`` (none once import
  is at or above ``recharge_below_w``), so recharging never lifts the import
  above that level.

When no less important controller wrote the battery this cycle, it also
writes its own setpoint: the discharge the peak needs, else recharging as
fast as the range and the battery allow, so it works alone too. Run it at a
higher priority than self-consumption: then it wins whenever both act.

With an input missing or older than ``max_input_age_s`` it stands aside
(no range, no write) and says why in ``<id>/State``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.inputs import Missing, device_of_type, read_fresh
from ems.edge.controllers.peak_shaving.config import PeakShavingParams
from ems.profiles import DeviceProfile

__all__ = ["PeakShaving"]

log = logging.getLogger(__name__)


@register_controller
class PeakShaving(Controller):
    type_name = "peak_shaving"
    config_model = PeakShavingParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: PeakShavingParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        battery = device_of_type(devices, params.battery, "battery", "battery")
        grid = device_of_type(devices, params.grid, "grid_meter", "grid")
        self._grid_w = f"{grid}/ActivePower"
        self._battery_w = f"{battery}/ActivePower"
        self._max_charge_w = f"{battery}/MaxChargePower"
        self._max_discharge_w = f"{battery}/MaxDischargePower"
        self._inputs = (self._grid_w, self._battery_w, self._max_charge_w, self._max_discharge_w)
        self.output = f"{battery}/SetActivePower"
        self.state = "starting"

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None}

    def run(self, ctx: CycleContext) -> None:
        p = self.params
        inputs = read_fresh(ctx, self._inputs, p.max_input_age_s)
        if isinstance(inputs, Missing):
            self._report(ctx, inputs.state, inputs.detail)
            return
        import0_w = inputs[self._grid_w] + inputs[self._battery_w]
        max_discharge_w = inputs[self._max_discharge_w]
        max_charge_w = inputs[self._max_charge_w]
        alone = ctx.staged(self.output) is None
        if import0_w > p.peak_import_w:
            need_w = min(import0_w - p.peak_import_w, max_discharge_w)
            ctx.narrow(
                self.output,
                f"import {import0_w:.0f} W over the peak {p.peak_import_w:g} W",
                min=need_w,
            )
            own_w = need_w
            state = "shaving"
        else:
            room_w = min(max(p.recharge_below_w - import0_w, 0.0), max_charge_w)
            ctx.narrow(
                self.output,
                f"import {import0_w:.0f} W: recharge at most {room_w:.0f} W "
                f"(below {p.recharge_below_w:g} W)",
                min=-room_w,
            )
            own_w = -room_w
            state = "recharging" if room_w > 0 else "standby"
        if alone:
            ctx.write(self.output, own_w)
        self._report(ctx, state, "")

    def _report(self, ctx: CycleContext, state: str, detail: str) -> None:
        if state != self.state:
            level = logging.WARNING if state.endswith("_inputs") else logging.INFO
            log.log(level, "%s: %s%s", self.id, state, f" ({detail})" if detail else "")
        self.state = state
        ctx.status("State", state)
