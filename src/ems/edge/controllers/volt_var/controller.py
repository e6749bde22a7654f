"""Volt-var: ``Q = curve(U / U_nominal) · S_rated``, through a first-order response.

Each cycle the voltage (``<voltage_device>/Voltage``, the grid meter by default)
is read in per unit of ``nominal_voltage_v``; the curve gives the reactive power
in % of the inverter's ``RatedApparentPower`` (linear between points, flat
beyond the ends); the value written approaches it with the open-loop response
time (90 % of a step in ``response_time_s``, timed by the cycle's clock), and is
limited to ``±MaxReactivePower``. With an input missing or older than
``max_input_age_s`` it writes 0 var, restarts the response from 0 and says why
in ``<id>/State``.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.grid_support import check_device_with, meter_of
from ems.edge.controllers.inputs import Missing, read_fresh
from ems.edge.controllers.state import StateReporter
from ems.edge.controllers.volt_var.config import VoltVarParams
from ems.edge.controllers.volt_var.response import FirstOrderLag
from ems.profiles import DeviceProfile

__all__ = ["VoltVar"]

log = logging.getLogger(__name__)

_NEEDS = ("RatedApparentPower", "MaxReactivePower", "SetReactivePower")


@register_controller
class VoltVar(Controller):
    type_name = "volt_var"
    config_model = VoltVarParams
    params: VoltVarParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: VoltVarParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        device = check_device_with(devices, params.device, _NEEDS, "device")
        meter = meter_of(devices, params.voltage_device, "Voltage", "voltage_device")
        self._voltage_v = f"{meter}/Voltage"
        self._rated_va = f"{device}/RatedApparentPower"
        self._max_var = f"{device}/MaxReactivePower"
        self.output = f"{device}/SetReactivePower"
        self._v_pu = [p.v_pu for p in params.curve]
        self._q_pct = [p.q_pct for p in params.curve]
        self._lag = FirstOrderLag(params.response_time_s)
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None}

    def q_pct(self, v_pu: float) -> float:
        """The curve at ``v_pu``: % of rated apparent power, > 0 injecting."""
        v, q = self._v_pu, self._q_pct
        j = bisect.bisect_right(v, v_pu)
        if j == 0:
            return q[0]
        if j == len(v):
            return q[-1]
        return q[j - 1] + (q[j] - q[j - 1]) * (v_pu - v[j - 1]) / (v[j] - v[j - 1])

    def run(self, ctx: CycleContext) -> None:
        inputs = read_fresh(
            ctx, (self._voltage_v, self._rated_va, self._max_var), self.params.max_input_age_s
        )
        if isinstance(inputs, Missing):
            self._lag.reset()
            ctx.write(self.output, 0.0)
            self._reporter.report(ctx, inputs.state, inputs.detail)
            return
        v_pu = inputs[self._voltage_v] / self.params.nominal_voltage_v
        target_var = self.q_pct(v_pu) / 100.0 * inputs[self._rated_va]
        want_var = self._lag.update(target_var, ctx.now_s)
        limit_var = max(inputs[self._max_var], 0.0)
        q_var = min(max(want_var, -limit_var), limit_var)
        ctx.write(self.output, q_var)
        if q_var != want_var:
            self._reporter.report(
                ctx, "limited", f"{want_var:.0f} var wanted, {limit_var:.0f} var available"
            )
        elif target_var > 0:
            self._reporter.report(ctx, "injecting", f"{v_pu:.3f} pu")
        elif target_var < 0:
            self._reporter.report(ctx, "absorbing", f"{v_pu:.3f} pu")
        else:
            self._reporter.report(ctx, "deadband", f"{v_pu:.3f} pu")
