"""Dynamic peak shaving: the threshold is planned, then held like fixed peak shaving.

Every 15 min (and at the first cycle) it plans the threshold for the next
``horizon_h``: a persistence forecast of the net load (``grid + battery``, what
the site would import with the battery idle) from its own 15-min history,
raised by ``forecast_margin_pct``, and the battery's usable energy now
(``(Soc − min_soc_pct) · Capacity``), its live power limits and
``efficiency_pct`` (each way) give the lowest threshold the battery can
hold over the forecast, recharging between peaks as the rule would
(:func:`lowest_threshold`, a bisection over a simulation of the rule). It never goes below
the month's billed peak so far, less ``peak_hold_margin_pct`` (that peak is paid
anyway, so shaving below it would spend energy for nothing; the small margin keeps
the battery's one-cycle lag at a load step from raising it a little every time),
nor below ``min_peak_import_w``. Until a day of
history exists it uses ``initial_peak_import_w``.

Each cycle then acts as :class:`~ems.edge.controllers.peak_shaving.PeakShaving`
with that threshold (the shared :class:`Shaver`): discharge what import exceeds
it, recharge only while import is ``recharge_gap_pct`` below it. The month's
peak is the highest 15-min mean grid import, reset when the month changes in the
site's local time; it survives a restart (durable state). The history does not:
after a restart the plan starts again from ``initial_peak_import_w`` (or the
month's peak, whichever is higher).

Status: ``State`` (as peak shaving, or ``stale_inputs``/``missing_inputs``),
``PeakImportW`` (the threshold in force) and ``MonthPeakW``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ems.edge.context import CycleContext
from ems.edge.controllers.base import (
    ControllerSite,
    SiteController,
    register_controller,
)
from ems.edge.controllers.dynamic_peak_shaving.config import DynamicPeakShavingParams
from ems.edge.controllers.dynamic_peak_shaving.threshold import BatteryNow, lowest_threshold
from ems.edge.controllers.dynamic_peak_shaving.windows import LoadHistory, MonthPeak
from ems.edge.controllers.inputs import Inputs, Missing, battery_at_grid, read_fresh
from ems.edge.controllers.peak_shaving.shaver import Shaver, Thresholds
from ems.edge.controllers.state import StateReporter
from ems.errors import ConfigError
from ems.forecast.base import STEP_S, Series
from ems.forecast.persistence import PersistenceForecaster
from ems.forecast.resample import series_from_csv
from ems.profiles import DeviceProfile
from ems.timeseries import resolve_path

__all__ = ["DynamicPeakShaving"]

log = logging.getLogger(__name__)

_DAY_S = 86400.0


@register_controller
class DynamicPeakShaving(SiteController):
    type_name = "dynamic_peak_shaving"
    config_model = DynamicPeakShavingParams
    params: DynamicPeakShavingParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: DynamicPeakShavingParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite | None = None,
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.params = params
        site = ControllerSite() if site is None else site
        self._channels = ch = battery_at_grid(devices, params.battery, params.grid)
        battery_id = ch.setpoint.split("/", 1)[0]
        self._capacity = f"{battery_id}/Capacity"
        self._inputs = (
            ch.grid_w,
            ch.battery_w,
            ch.max_charge_w,
            ch.max_discharge_w,
            ch.soc,
            self._capacity,
        )
        self._shaver = Shaver(ch)
        self._history = LoadHistory(params.history_days)
        self._seed = _net_history(params, site)  # read now: a bad file stops the start
        self._month = MonthPeak(site.timezone)
        self._forecaster = PersistenceForecaster(params.forecast_mode)
        self._planned_step: int | None = None
        self.threshold_w = params.initial_peak_import_w
        self.output = ch.setpoint
        self._reporter = StateReporter(controller_id, log)

    @property
    def state(self) -> str:
        return self._reporter.state

    def status_channels(self) -> dict[str, str | None]:
        return {"State": None, "PeakImportW": "W", "MonthPeakW": "W"}

    def durable_state(self) -> Mapping[str, Any] | None:
        month = self._month.month
        if month is None:
            return None
        return {"month": list(month), "month_peak_w": self._month.peak_w_raw}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        try:
            year, month = (int(v) for v in state["month"])
            peak_w = float(state["month_peak_w"])
        except (KeyError, TypeError, ValueError):
            log.warning("%s: unreadable saved month peak %r ignored", self.id, state)
            return
        if math.isfinite(peak_w) and peak_w >= 0:
            self._month.restore((year, month), peak_w)

    def run(self, ctx: CycleContext) -> None:
        inputs = read_fresh(ctx, self._inputs, self.params.max_input_age_s)
        if isinstance(inputs, Missing):
            self._reporter.report(ctx, inputs.state, inputs.detail)
            return
        ch = self._channels
        if self._seed is not None:
            self._history.seed(self._seed, math.floor(ctx.now_s / STEP_S) * STEP_S)
            self._seed = None
        self._history.add(ctx.now_s, inputs[ch.grid_w] + inputs[ch.battery_w])
        self._month.add(ctx.now_s, inputs[ch.grid_w])
        step = math.floor(ctx.now_s / STEP_S)
        if step != self._planned_step:
            self._planned_step = step
            self.threshold_w = self._plan(ctx.now_s, inputs)
        t_w = self.threshold_w
        gap = self.params.recharge_gap_pct / 100.0
        state = self._shaver.act(ctx, inputs, Thresholds(t_w, t_w * (1.0 - gap)))
        ctx.status("PeakImportW", t_w)
        ctx.status("MonthPeakW", self._month.peak_w(ctx.now_s))
        self._reporter.report(ctx, state, "")

    def _plan(self, now_s: float, inputs: Inputs) -> float:
        p = self.params
        held_w = self._month.peak_w(now_s) * (1.0 - p.peak_hold_margin_pct / 100.0)
        floor_w = max(held_w, p.min_peak_import_w)
        history = self._history.series()
        if history is None or self._history.span_s < _DAY_S - STEP_S:
            return max(p.initial_peak_import_w, floor_w)
        start_s = math.floor(now_s / STEP_S) * STEP_S
        steps = round(p.horizon_h * 3600.0 / STEP_S)
        forecast = self._forecaster.forecast(history, start_s, steps)
        raised_w = forecast.values * (1.0 + p.forecast_margin_pct / 100.0)
        ch = self._channels
        eff = p.efficiency_pct / 100.0
        capacity_wh = inputs[self._capacity]
        usable_pct = max(inputs[ch.soc] - p.min_soc_pct, 0.0)
        battery = BatteryNow(
            energy_wh=usable_pct / 100.0 * capacity_wh,
            capacity_wh=capacity_wh,
            max_discharge_w=inputs[ch.max_discharge_w],
            # A full battery reports no charge power; its discharge power stands in for
            # what it will take once a peak has used it.
            max_charge_w=inputs[ch.max_charge_w] or inputs[ch.max_discharge_w],
            efficiency=eff,
        )
        recharge_share = 1.0 - p.recharge_gap_pct / 100.0
        threshold_w = lowest_threshold(raised_w, STEP_S, battery, recharge_share, floor_w)
        log.debug("%s: planned threshold %.0f W (floor %.0f W)", self.id, threshold_w, floor_w)
        return threshold_w


def _net_history(params: DynamicPeakShavingParams, site: ControllerSite) -> Series | None:
    """``history_csv``'s load − PV as 15-min means; raises ``ValueError`` naming
    ``history_csv`` and the file's problem."""
    if params.history_csv is None:
        return None
    path = resolve_path(params.history_csv, site.config_dir)
    try:
        load = series_from_csv(path, params.load_column)
        pv = series_from_csv(path, params.pv_column, start_s=load.start_s)
    except ConfigError as exc:
        raise ValueError(f"history_csv: {exc}") from None
    n = min(len(load.values), len(pv.values))
    net = load.values[:n] - np.nan_to_num(pv.values[:n], nan=0.0)
    return Series(load.start_s, load.step_s, np.asarray(net, dtype=np.float64))
