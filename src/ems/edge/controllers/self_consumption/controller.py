"""Self-consumption: the battery holds the grid at ``target_grid_w``.

``battery = grid + battery_now − target`` within the deadband, the no-flicker
latch, the SOC bounds and the live limits, as
:class:`~ems.edge.controllers.grid_target.GridFollower` describes. With
``enabled`` off it writes nothing and reports ``disabled``; ``enabled`` and
``target_grid_w`` can be changed at runtime (``set_controller``). With an
input missing or older than ``max_input_age_s`` it writes 0 W (idle) and says
why in ``<id>/State``. Its write is the least important kind: more important
controllers narrow it (peak shaving) or replace it (manual).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, ControllerParams, register_controller
from ems.edge.controllers.grid_target import GridFollower
from ems.edge.controllers.self_consumption.config import SelfConsumptionParams
from ems.edge.controllers.state import StateReporter
from ems.profiles import DeviceProfile

__all__ = ["SelfConsumption"]

log = logging.getLogger(__name__)


@register_controller
class SelfConsumption(Controller):
    type_name = "self_consumption"
    config_model = SelfConsumptionParams
    settable_params = ("enabled", "target_grid_w")
    params: SelfConsumptionParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: SelfConsumptionParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        self._follower = GridFollower(params, devices)
        self.output = self._follower.output
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None}

    def reconfigure(self, params: ControllerParams) -> None:
        assert isinstance(params, SelfConsumptionParams)
        super().reconfigure(params)
        self._follower.params = params
        # A new target is a step in demand: decide the direction afresh.
        self._follower.reset()

    def run(self, ctx: CycleContext) -> None:
        if not self.params.enabled:
            # Off: no write, so the battery gets what others decide (or its default, idle).
            self._follower.reset()
            self._reporter.report(ctx, "disabled", "switched off by an operator")
            return
        decision = self._follower.decide(ctx, self.params.target_grid_w)
        ctx.write(self.output, decision.setpoint_w)
        self._reporter.report(ctx, decision.state, decision.detail)
