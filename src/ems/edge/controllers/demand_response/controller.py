"""Demand response: during an accepted OpenADR event the grid import stays under its limit.

The VEN (:mod:`.ven`) runs on its own thread and fills an :class:`EventBook`; each
cycle this controller publishes what it sees (import, the battery's usable energy
and power) for the VEN's opt-in decisions and reads the limit in force at
``ctx.now_s`` (one reference read: no lock held across the network).

During a limit ``L`` it *narrows* the battery (composition rule, DESIGN 13):
with ``import0 = grid + battery`` (the import with the battery idle), the
setpoint must be at least ``import0 − L`` (clipped to the live limits): discharge
what the import exceeds ``L`` by, or charge no more than the room below it.
Alone, it writes that (never charging on its own). Run it above self-consumption
and peak shaving so it wins. Outside events it does nothing; a lost VTN changes
nothing here (accepted events stay in force until their end).

Status: ``State`` (``standby``, ``limiting``, ``missing_inputs``/``stale_inputs``),
``ImportLimitW`` (the limit in force, written while limiting), ``Ven`` (the VEN's
state: ``starting``, ``registered``, ``offline``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.demand_response.book import EventBook
from ems.edge.controllers.demand_response.config import DemandResponseParams
from ems.edge.controllers.demand_response.events import SiteView
from ems.edge.controllers.inputs import Missing, battery_at_grid, read_fresh
from ems.edge.controllers.state import StateReporter
from ems.profiles import DeviceProfile

if TYPE_CHECKING:
    from ems.edge.controllers.demand_response.ven import Ven

__all__ = ["DemandResponse"]

log = logging.getLogger(__name__)


@register_controller
class DemandResponse(Controller):
    type_name = "demand_response"
    config_model = DemandResponseParams
    params: DemandResponseParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: DemandResponseParams,
        devices: Mapping[str, DeviceProfile],
        book: EventBook | None = None,
    ) -> None:
        """``book``: where the events come from; without one, a VEN feeds it, started by
        the first cycle (a controller built only to check a config never registers)."""
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        self._channels = ch = battery_at_grid(devices, params.battery, params.grid)
        self._capacity = f"{ch.setpoint.split('/', 1)[0]}/Capacity"
        self._inputs = (
            ch.grid_w,
            ch.battery_w,
            ch.max_charge_w,
            ch.max_discharge_w,
            ch.soc,
            self._capacity,
        )
        self.ven: Ven | None = None
        self._own_ven = book is None
        self.book = EventBook() if book is None else book
        self.output = ch.setpoint
        self._reporter = StateReporter(controller_id, log)

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None, "ImportLimitW": "W", "Ven": None}

    def close(self) -> None:
        """Stop the VEN (if this controller started one)."""
        if self.ven is not None:
            self.ven.stop()

    def run(self, ctx: CycleContext) -> None:
        if self._own_ven and self.ven is None:
            # Imported here: openleadr and aiohttp weigh about 40 MB, which every edge
            # would carry (the registry imports every controller) to use none of it.
            from ems.edge.controllers.demand_response.ven import Ven

            self.ven = Ven(self.params, self.book)
            self.ven.start()
        ctx.status("Ven", self.book.ven_state)
        p = self.params
        inputs = read_fresh(ctx, self._inputs, p.max_input_age_s)
        if isinstance(inputs, Missing):
            self._reporter.report(ctx, inputs.state, inputs.detail)
            return
        ch = self._channels
        import0_w = inputs[ch.grid_w] + inputs[ch.battery_w]
        usable_pct = max(inputs[ch.soc] - p.min_soc_pct, 0.0)
        usable_wh = usable_pct / 100.0 * inputs[self._capacity] * p.discharge_efficiency_pct / 100.0
        self.book.view = SiteView(
            ctx.now_s, inputs[ch.grid_w], import0_w, usable_wh, inputs[ch.max_discharge_w]
        )
        limit = self.book.limit_at(ctx.now_s)
        if limit is None:
            self._reporter.report(ctx, "standby")
            return
        min_w = import0_w - limit.limit_w
        min_w = max(-inputs[ch.max_charge_w], min(min_w, inputs[ch.max_discharge_w]))
        alone = ctx.staged(self.output) is None
        ctx.narrow(
            self.output,
            f"OpenADR event {limit.event_id}: import at most {limit.limit_w:.0f} W",
            min=min_w,
        )
        if alone:
            ctx.write(self.output, max(min_w, 0.0))
        ctx.status("ImportLimitW", limit.limit_w)
        self._reporter.report(ctx, "limiting", limit.event_id)
