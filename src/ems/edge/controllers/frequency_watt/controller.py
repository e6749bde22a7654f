"""Frequency-watt: over-frequency curtailment with a deadband and a droop.

While the frequency ``f`` exceeds ``nominal_hz + deadband_hz`` the device's active
power is reduced by

    ΔP = P_ref · (f − (f_nom + db)) / (f_nom · droop)

from ``P_pre``, its active power when the event began (remembered until the
frequency is back within the deadband):

* a **PV inverter** gets ``SetActivePowerLimit = max(P_pre − ΔP, 0)`` with
  ``P_ref = P_pre`` (its power falls by ``1 / droop`` of itself per unit of
  frequency rise, as EN 50549-1 and VDE-AR-N 4105 state it);
* a **battery** gets ``SetActivePower = P_pre − ΔP`` with ``P_ref`` its rated
  apparent power (IEEE 1547-2018 §6.5.2.7 states the droop per unit of rating,
  so an idle battery responds too), within its charge and discharge limits: it
  discharges less, and at a high enough frequency it charges, absorbing the
  surplus that raised the frequency.

Outside an event it writes nothing, so the other controllers decide. With an
input missing or older than ``max_input_age_s`` it curtails nothing, forgets
the event and says why in ``<id>/State``. ``<id>/PreDisturbancePower`` shows
``P_pre`` during an event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.frequency_watt.config import FrequencyWattParams
from ems.edge.controllers.grid_support import check_device_with, meter_of
from ems.edge.controllers.inputs import Missing, read_fresh
from ems.edge.controllers.state import StateReporter
from ems.profiles import DeviceProfile

__all__ = ["FrequencyWatt"]

log = logging.getLogger(__name__)

_PV_NEEDS = ("ActivePower", "SetActivePowerLimit")
_BATTERY_NEEDS = (
    "ActivePower",
    "SetActivePower",
    "MaxChargePower",
    "MaxDischargePower",
    "RatedApparentPower",
)


@register_controller
class FrequencyWatt(Controller):
    type_name = "frequency_watt"
    config_model = FrequencyWattParams
    params: FrequencyWattParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: FrequencyWattParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        device = check_device_with(devices, params.device, ("ActivePower",), "device")
        self._is_pv = "SetActivePowerLimit" in devices[device].channels
        check_device_with(devices, device, _PV_NEEDS if self._is_pv else _BATTERY_NEEDS, "device")
        meter = meter_of(devices, params.frequency_device, "Frequency", "frequency_device")
        self._f_hz = f"{meter}/Frequency"
        self._p_w = f"{device}/ActivePower"
        self._inputs: tuple[str, ...] = (self._f_hz, self._p_w)
        if self._is_pv:
            self.output = f"{device}/SetActivePowerLimit"
        else:
            self.output = f"{device}/SetActivePower"
            self._max_charge_w = f"{device}/MaxChargePower"
            self._max_discharge_w = f"{device}/MaxDischargePower"
            self._rated_va = f"{device}/RatedApparentPower"
            self._inputs += (self._max_charge_w, self._max_discharge_w, self._rated_va)
        self._threshold_hz = params.nominal_hz + params.deadband_hz
        self.pre_disturbance_w: float | None = None  # P_pre while an event lasts
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None, "PreDisturbancePower": "W"}

    def run(self, ctx: CycleContext) -> None:
        inputs = read_fresh(ctx, self._inputs, self.params.max_input_age_s)
        if isinstance(inputs, Missing):
            self._end(ctx, inputs.state, inputs.detail)
            return
        f_hz = inputs[self._f_hz]
        if f_hz <= self._threshold_hz:
            self._end(ctx, "normal")
            return
        if self.pre_disturbance_w is None:
            self.pre_disturbance_w = inputs[self._p_w]
        p_pre = self.pre_disturbance_w
        per_unit = (f_hz - self._threshold_hz) / (self.params.nominal_hz * self.params.droop)
        if self._is_pv:
            ctx.write(self.output, max(p_pre - max(p_pre, 0.0) * per_unit, 0.0))
        else:
            target_w = p_pre - inputs[self._rated_va] * per_unit
            lo_w, hi_w = -inputs[self._max_charge_w], inputs[self._max_discharge_w]
            ctx.write(self.output, min(max(target_w, lo_w), hi_w))
        ctx.status("PreDisturbancePower", p_pre)
        self._reporter.report(ctx, "curtailing", f"{f_hz:.3f} Hz, from {p_pre:.0f} W")

    def _end(self, ctx: CycleContext, state: str, detail: str = "") -> None:
        """No event: curtail nothing (write nothing) and forget the pre-disturbance power."""
        self.pre_disturbance_w = None
        ctx.status("PreDisturbancePower", None)
        self._reporter.report(ctx, state, detail)
