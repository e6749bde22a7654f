"""The yardsticks a controller's run is measured against, on the same data, battery and tariff.

- no battery: the grid takes load − PV;
- the perfect-foresight optimum: :func:`ems.optimize.solve_dispatch` (HiGHS) with
  the battery simulator's own parameters and the site's tariff, the stored
  energy free at the end as it is for the controller;
- the ideal greedy self-consumption rule, stepped at the controller's cycle.

All of them are summed by :class:`ems.edge.energy_summary.SiteSummary`, the
code that prints ``ems simulate``'s summary line, so the figures compare like
with like.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from _control_data import STEP_S, TIMEZONE, DataSet, write_prices  # bench/
from ems.edge.energy_summary import SiteSummary
from ems.optimize import (
    BatteryModel,
    DispatchProblem,
    greedy_self_consumption,
    solve_dispatch,
)
from ems.tariff import Tariff, TariffConfig

__all__ = ["References", "figures", "tariff_of"]

FloatArray = npt.NDArray[np.float64]


def tariff_of(data: DataSet) -> Tariff:
    """The data set's tariff; a price file is written for it and read at once."""
    with tempfile.TemporaryDirectory(prefix="ems-bench-prices-") as folder:
        write_prices(Path(folder), data)
        config = TariffConfig.model_validate(data.spec.tariff)
        return Tariff.from_config(config, TIMEZONE, folder)


def figures(
    tariff: Tariff, start_s: float, step_s: float, grid_w: FloatArray, battery_w: FloatArray
) -> dict[str, Any]:
    """The summary line's figures for a run given as power per step."""
    summary = SiteSummary(tariff, TIMEZONE, ["battery"])
    for k, (grid, battery) in enumerate(zip(grid_w.tolist(), battery_w.tolist(), strict=True)):
        summary.add(start_s + k * step_s, step_s, grid, {"battery": battery})
    return summary.result()


class References:
    """No battery, optimum and greedy figures of one span of a data set."""

    def __init__(self, data: DataSet, tariff: Tariff, cycle_s: float) -> None:
        self.data = data
        self.tariff = tariff
        self.battery = BatteryModel.from_config(data.spec.battery)
        self.net_w = data.load_w - data.pv_w
        zero = np.zeros(data.steps)
        self.no_battery = figures(tariff, data.start_s, STEP_S, self.net_w, zero)
        started = time.perf_counter()
        self.plan = solve_dispatch(self.problem(self.net_w, data.start_s))
        self.lp_solve_s = time.perf_counter() - started
        self.optimum = figures(tariff, data.start_s, STEP_S, self.plan.grid_w, self.plan.battery_w)
        self.optimum["lp_objective"] = self.plan.cost
        per_cycle_w = np.repeat(self.net_w, round(STEP_S / cycle_s))
        greedy = greedy_self_consumption(self.battery, per_cycle_w, cycle_s)
        self.greedy = figures(tariff, data.start_s, cycle_s, greedy.grid_w, greedy.battery_w)

    def problem(self, net_w: FloatArray, start_s: float) -> DispatchProblem:
        times = (start_s + STEP_S * np.arange(len(net_w))).tolist()
        return DispatchProblem(
            battery=self.battery,
            step_s=STEP_S,
            net_load_w=net_w,
            import_price_per_kwh=[self.tariff.import_price_per_kwh(t) for t in times],
            export_price_per_kwh=[self.tariff.export_price_per_kwh(t) for t in times],
            demand_charge_per_kw=self.tariff.demand_charge_per_kw_month,
            period_of_step=_months(times),
        )

    def min_holdable_peak_w(self) -> float:
        """The lowest 15-min import peak the battery could hold over the span, knowing the
        future: the LP with nothing but a demand charge (one period: the whole span)."""
        problem = DispatchProblem(
            battery=self.battery,
            step_s=STEP_S,
            net_load_w=self.net_w,
            import_price_per_kwh=np.zeros(self.data.steps),
            export_price_per_kwh=np.zeros(self.data.steps),
            demand_charge_per_kw=1.0,
        )
        return float(solve_dispatch(problem).peak_import_w.max())

    def day_ahead_solve_ms(self) -> list[float]:
        """Wall time of each whole day's 96-step LP in the span (DESIGN §11's MPC budget)."""
        times_ms = []
        per_day = round(86_400 / STEP_S)
        for day in range(self.data.steps // per_day):
            part = slice(day * per_day, (day + 1) * per_day)
            problem = self.problem(self.net_w[part], self.data.start_s + part.start * STEP_S)
            started = time.perf_counter()
            solve_dispatch(problem)
            times_ms.append((time.perf_counter() - started) * 1000.0)
        return times_ms


def _months(times_s: Iterable[float]) -> list[int]:
    zone = ZoneInfo(TIMEZONE)
    months = []
    for t in times_s:
        local = dt.datetime.fromtimestamp(float(t), zone)
        months.append(local.year * 12 + local.month)
    return months
