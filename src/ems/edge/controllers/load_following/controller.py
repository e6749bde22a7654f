"""Load following: the battery holds the grid at a target that follows a schedule.

The target [W, > 0 import] comes from daily steps in the site's local time or
from a CSV time series (:mod:`.target`); each cycle the battery is set as
self-consumption sets it for a fixed target (``battery = grid + battery_now −
target`` within the deadband, the no-flicker latch, the SOC bounds and the live
limits: :class:`~ems.edge.controllers.grid_target.GridFollower`). With an input
missing or older than ``max_input_age_s`` it writes 0 W (idle) and says why in
``<id>/State``; ``<id>/TargetGridPower`` shows the target it holds now. Its
write is the least important kind: peak shaving narrows it, manual replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.edge.controllers.base import (
    ControllerSite,
    SiteController,
    register_controller,
)
from ems.edge.controllers.grid_target import GridFollower
from ems.edge.controllers.load_following.config import LoadFollowingParams
from ems.edge.controllers.load_following.target import GridTarget, grid_target
from ems.edge.controllers.state import StateReporter
from ems.errors import ConfigError
from ems.profiles import DeviceProfile

__all__ = ["LoadFollowing"]

log = logging.getLogger(__name__)


@register_controller
class LoadFollowing(SiteController):
    type_name = "load_following"
    config_model = LoadFollowingParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: LoadFollowingParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite | None = None,
    ) -> None:
        """``site``: its time zone places the schedule's steps, its folder finds the CSV.

        Raises ``ValueError`` naming the parameter (a device the site lacks, a CSV that
        cannot be read).
        """
        super().__init__(controller_id, priority, params, devices, site)
        site = self.site
        self.params = params
        self._follower = GridFollower(params, devices)
        self.output = self._follower.output
        try:
            self._target: GridTarget = grid_target(params, site.timezone, site.config_dir)
        except ConfigError as exc:
            raise ValueError(f"csv: {exc}") from None
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None, "TargetGridPower": "W"}

    def run(self, ctx: CycleContext) -> None:
        target_w = self._target(ctx.now_s)
        decision = self._follower.decide(ctx, target_w)
        ctx.write(self.output, decision.setpoint_w)
        ctx.status("TargetGridPower", target_w)
        self._reporter.report(ctx, decision.state, decision.detail)
