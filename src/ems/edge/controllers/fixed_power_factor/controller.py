"""Fixed power factor: ``Q = |P| · tan(acos(pf))``, absorbing or injecting.

The device's own measured ``ActivePower`` sets the reactive power, so the power
factor holds whatever P does; its magnitude is used, so a charging battery
holds the same power factor as a discharging one, with the same sign of Q.
``Q`` is limited to ``±MaxReactivePower`` (what the inverter's apparent-power
rating leaves now). With an input missing or older than ``max_input_age_s`` it
writes 0 var (unity) and says why in ``<id>/State``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.fixed_power_factor.config import FixedPowerFactorParams
from ems.edge.controllers.grid_support import check_device_with
from ems.edge.controllers.inputs import Missing, read_fresh
from ems.edge.controllers.state import StateReporter
from ems.profiles import DeviceProfile

__all__ = ["FixedPowerFactor"]

log = logging.getLogger(__name__)

_NEEDS = ("ActivePower", "MaxReactivePower", "SetReactivePower")


@register_controller
class FixedPowerFactor(Controller):
    type_name = "fixed_power_factor"
    config_model = FixedPowerFactorParams
    params: FixedPowerFactorParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: FixedPowerFactorParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        device = check_device_with(devices, params.device, _NEEDS, "device")
        self._p_w = f"{device}/ActivePower"
        self._max_var = f"{device}/MaxReactivePower"
        self.output = f"{device}/SetReactivePower"
        sign = -1.0 if params.direction == "absorbing" else 1.0
        # var per W of |P|; exactly 0 at unity.
        self._ratio = sign * math.tan(math.acos(params.power_factor))
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None}

    def run(self, ctx: CycleContext) -> None:
        inputs = read_fresh(ctx, (self._p_w, self._max_var), self.params.max_input_age_s)
        if isinstance(inputs, Missing):
            ctx.write(self.output, 0.0)
            self._reporter.report(ctx, inputs.state, inputs.detail)
            return
        want_var = abs(inputs[self._p_w]) * self._ratio
        limit_var = max(inputs[self._max_var], 0.0)
        q_var = min(max(want_var, -limit_var), limit_var)
        ctx.write(self.output, q_var)
        if q_var != want_var:
            self._reporter.report(
                ctx, "limited", f"{want_var:.0f} var wanted, {limit_var:.0f} var available"
            )
        else:
            self._reporter.report(ctx, self.params.direction if q_var else "unity")
