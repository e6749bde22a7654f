"""Time-of-use schedule: static windows of the site's local time to charge, discharge or idle.

Inside a window it takes the battery: it writes the window's power (by default
the battery's live limit), within the live limits, until the SOC reaches the
window's ``until_soc_pct`` (charging: up to it; discharging: down to it), then
0 W. Outside every window it writes nothing, so a less important controller
(self-consumption) acts. So give it a priority above self-consumption's and
below peak shaving's: its write replaces self-consumption's, and peak shaving
still narrows it. With an input missing or stale inside a window it writes 0 W
and says why in ``<id>/State``; ``<id>/Window`` is the window's index (−1: none).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from ems.edge.context import CycleContext
from ems.edge.controllers.base import (
    ControllerSite,
    SiteController,
    register_controller,
)
from ems.edge.controllers.inputs import Missing, device_of_type, read_fresh
from ems.edge.controllers.state import StateReporter
from ems.edge.controllers.tou_schedule.config import TouScheduleParams, week_table
from ems.profiles import DeviceProfile

__all__ = ["TouSchedule"]

log = logging.getLogger(__name__)


@register_controller
class TouSchedule(SiteController):
    type_name = "tou_schedule"
    config_model = TouScheduleParams
    params: TouScheduleParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: TouScheduleParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite | None = None,
    ) -> None:
        super().__init__(controller_id, priority, params, devices, site)
        site = self.site
        self.params = params
        battery = device_of_type(devices, params.battery, "battery", "battery")
        self._soc = f"{battery}/Soc"
        self._max_charge = f"{battery}/MaxChargePower"
        self._max_discharge = f"{battery}/MaxDischargePower"
        self.output = f"{battery}/SetActivePower"
        self._tz = ZoneInfo(site.timezone)
        self._table = week_table(params.windows)
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None, "Window": None}

    def window_at(self, now_s: float) -> int:
        """The index of the window covering ``now_s`` [UTC epoch s], or −1."""
        local = dt.datetime.fromtimestamp(now_s, self._tz)
        return self._table[local.weekday() * 1440 + local.hour * 60 + local.minute]

    def run(self, ctx: CycleContext) -> None:
        index = self.window_at(ctx.now_s)
        ctx.status("Window", index)
        if index < 0:
            self._reporter.report(ctx, "outside_window")
            return
        window = self.params.windows[index]
        if window.action == "idle":
            ctx.write(self.output, 0.0)
            self._reporter.report(ctx, "idle")
            return
        inputs = read_fresh(
            ctx, (self._soc, self._max_charge, self._max_discharge), self.params.max_input_age_s
        )
        if isinstance(inputs, Missing):
            ctx.write(self.output, 0.0)
            self._reporter.report(ctx, inputs.state, inputs.detail)
            return
        soc = inputs[self._soc]
        if window.action == "charge":
            limit_w = max(inputs[self._max_charge], 0.0)
            done = soc >= (100.0 if window.until_soc_pct is None else window.until_soc_pct)
            setpoint_w = -min(window.power_w or limit_w, limit_w)
            state = "at_target_soc" if done else "charging"
        else:
            limit_w = max(inputs[self._max_discharge], 0.0)
            done = soc <= (0.0 if window.until_soc_pct is None else window.until_soc_pct)
            setpoint_w = min(window.power_w or limit_w, limit_w)
            state = "at_target_soc" if done else "discharging"
        ctx.write(self.output, 0.0 if done else setpoint_w)
        self._reporter.report(ctx, state)
