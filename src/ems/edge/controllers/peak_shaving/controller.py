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

With ``reserve_soc_pct`` it also keeps energy for the next peak, which a
self-consumption controller would otherwise spend on the evening's load: at or
below the reserve it allows no discharge but what the peak needs, and once a peak took the
SOC more than ``reserve_hysteresis_pct`` below it, it *requires* recharging as
much as the recharge rule allows until the SOC is back at the reserve.

When no less important controller wrote the battery this cycle, it also
writes its own setpoint: the discharge the peak needs, else recharging as
fast as the range and the battery allow, so it works alone too. Run it at a
higher priority than self-consumption: then it wins whenever both act.

``peak_import_w`` and ``recharge_below_w`` can be changed at runtime
(``set_controller``). With an input missing or older than ``max_input_age_s`` it stands aside
(no range, no write) and says why in ``<id>/State``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.inputs import Missing, battery_at_grid, read_fresh
from ems.edge.controllers.peak_shaving.config import PeakShavingParams
from ems.edge.controllers.peak_shaving.shaver import Shaver, Thresholds
from ems.edge.controllers.state import StateReporter
from ems.profiles import DeviceProfile

__all__ = ["PeakShaving"]

log = logging.getLogger(__name__)


@register_controller
class PeakShaving(Controller):
    type_name = "peak_shaving"
    config_model = PeakShavingParams
    settable_params = ("peak_import_w", "recharge_below_w")
    settable_below: ClassVar[Mapping[str, str]] = {"recharge_below_w": "peak_import_w"}
    params: PeakShavingParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: PeakShavingParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        self._channels = ch = battery_at_grid(devices, params.battery, params.grid)
        self._inputs: tuple[str, ...] = (
            ch.grid_w,
            ch.battery_w,
            ch.max_charge_w,
            ch.max_discharge_w,
        )
        if params.reserve_soc_pct > 0:
            self._inputs = (*self._inputs, ch.soc)
        self._shaver = Shaver(ch)
        self.output = ch.setpoint
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None}

    def run(self, ctx: CycleContext) -> None:
        p = self.params
        inputs = read_fresh(ctx, self._inputs, p.max_input_age_s)
        if isinstance(inputs, Missing):
            self._reporter.report(ctx, inputs.state, inputs.detail)
            return
        thresholds = Thresholds(
            p.peak_import_w, p.recharge_below_w, p.reserve_soc_pct, p.reserve_hysteresis_pct
        )
        self._reporter.report(ctx, self._shaver.act(ctx, inputs, thresholds), "")
