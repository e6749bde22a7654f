"""The optimiser: a linear program over the next 24 h, re-solved every step (MPC).

At the start of each plan step (15 min) it hands a worker (:mod:`.worker`) what
it measured; the worker forecasts load and PV over the horizon, builds the LP from
the tariff, the battery now and the month's peak (:mod:`.planner`) and solves it:
on a thread of its own on the edge, so the cycle never waits on the forecasters
or HiGHS, or inline under ``ems simulate`` (``ControllerSite.inline_work``), so a
simulated day does not depend on how fast the machine is.

Each cycle follows the current plan's step as a *grid target*: the battery
holds the grid at the plan's grid power for that step, so an error of the
forecast is corrected at once by the battery (a plan is a target, the live grid
power is the truth), through the same follower as self-consumption (deadband,
no-flicker latch, SOC bounds, live limits).

With a demand charge the plan also holds its peak if the net load comes out as
high as the forecasters' recent error allows (a second LP scenario,
:mod:`.margin`), and the cycle caps the import at the plan's peak: a load above
the forecast is imported up to it before the battery does more than planned,
and the range is narrowed so nothing lifts the import over it.
Early in a month the days past the horizon will bill a peak of their own: the
plan's last month is billed in expectation (:mod:`.period_peak`).

The forecasts (a learned model's refit among them), the margin's backtest and the
month rest's day LPs all run on the worker's side: none of them holds the cycle up.

``history_csv`` seeds the measured history at the first cycle (a site that ran
before, a simulated run), so the first plans do not forecast from nothing.

The plan is the controller's durable state (:mod:`.carried_plan`): an HA pair
replicates it, a restart keeps it, and a controller that takes it back follows
it (state ``following_last_plan``) from its first cycle until its own first
solve completes, instead of running self-consumption or a plan solved from
no history meanwhile.

A solve that fails, is infeasible or takes longer than ``solve_timeout_s``
keeps the last good plan while it covers now (state ``following_last_plan``);
with none, the battery is run as self-consumption at ``fallback_target_grid_w``
and ``<id>/State`` says why (``no_plan``, ``solve_failed``, ``solve_timed_out``).
With an input missing or stale it idles (0 W) and says so, as self-consumption does.
Its write is the least important kind: give it a priority above
self-consumption's (if any) and below peak shaving's, which then narrows it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ems.edge.context import CycleContext
from ems.edge.controllers.base import (
    ControllerSite,
    SiteController,
    register_controller,
)
from ems.edge.controllers.grid_target import GridFollower
from ems.edge.controllers.inputs import Missing, read_fresh
from ems.edge.controllers.optimizer.carried_plan import plan_from_state, plan_to_state
from ems.edge.controllers.optimizer.config import NAIVE_SPEC, OptimizerParams
from ems.edge.controllers.optimizer.history import MonthPeak, StepMeans
from ems.edge.controllers.optimizer.margin import ErrorMargin, pv_shortfall_w
from ems.edge.controllers.optimizer.period_peak import MonthRest
from ems.edge.controllers.optimizer.plan_status import (
    PlanValues,
    expected_saving,
    plan_channels,
    plan_units,
)
from ems.edge.controllers.optimizer.planner import PlanInputs, build_problem
from ems.edge.controllers.optimizer.worker import (
    InlineWorker,
    Outcome,
    Solve,
    ThreadWorker,
    Worker,
)
from ems.edge.controllers.state import StateReporter
from ems.errors import ConfigError
from ems.forecast import Forecaster, Series
from ems.forecast.factory import make_forecaster
from ems.forecast.perfect import PerfectForecaster
from ems.forecast.pv import PvClearSkyForecaster
from ems.forecast.resample import series_from_csv
from ems.optimize import DispatchPlan, DispatchProblem, OptimizeError, solve_dispatch
from ems.profiles import DeviceProfile
from ems.tariff import Tariff
from ems.timeseries import read_csv_series, resolve_path

__all__ = ["Optimizer"]

log = logging.getLogger(__name__)


@register_controller
class Optimizer(SiteController):
    type_name = "optimizer"
    config_model = OptimizerParams
    params: OptimizerParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: OptimizerParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite | None = None,
        solve: Solve = solve_dispatch,
    ) -> None:
        """``solve``: the LP solver (a test injects one that fails or hangs).

        Raises ``ValueError`` naming the parameter (no tariff, a device the site lacks,
        a forecast CSV that cannot be read)."""
        super().__init__(controller_id, priority, params, devices, site)
        site = self.site
        if site.tariff is None:
            raise ValueError("type: the optimizer needs the site's tariff: block")
        self.params = params
        self._tariff: Tariff = site.tariff
        self._follower = GridFollower(params, devices)
        self.output = self._follower.output
        self._pv = tuple(
            sorted(f"{d}/ActivePower" for d, p in devices.items() if p.type == "pv_inverter")
        )
        self._step_s = params.step_min * 60.0
        self._steps = max(1, round(params.horizon_h * 3600.0 / self._step_s))
        keep = round(params.history_days * 86_400.0 / self._step_s)
        self._load = StepMeans(self._step_s, keep)
        self._pv_means = StepMeans(self._step_s, keep)
        self._peak = MonthPeak(site.timezone)
        # Only a demand charge makes a peak above the forecast costly enough to plan for.
        self._guard = params.cap_import_at_peak and site.tariff.demand_charge_per_kw_month > 0
        # A perfect forecast makes no error to hedge, and its future ends where its data
        # end: nothing past it is known or billed (the benchmark's perfect optimum).
        own_peak_risk = params.forecast != "perfect" and site.tariff.demand_charge_per_kw_month > 0
        self._margin = (
            ErrorMargin(params.peak_error_days, params.peak_error_quantile_pct)
            if params.peak_error_days > 0 and own_peak_risk
            else None
        )
        self._month_rest = (
            MonthRest(params.month_rest_days, ZoneInfo(site.timezone))
            if params.month_rest_days > 0 and own_peak_risk
            else None
        )
        self._load_fc, self._pv_fc, self._known_end_s = _forecasters(params, site)
        if isinstance(self._pv_fc, PvClearSkyForecaster):
            self._pv_fc.index_forecast = _weather(params, site, self._step_s)
        # Read now, so a bad file stops the edge at start; taken at the first cycle, when
        # the run's start (the end of what may be seeded) is known.
        self._seed = _history(params, site, self._step_s, with_pv=bool(self._pv))
        self._worker: Worker = (
            InlineWorker(solve) if site.inline_work else ThreadWorker(solve, params.solve_timeout_s)
        )
        self._plan: tuple[float, DispatchPlan] | None = None
        self._carried: dict[str, Any] | None = None  # the plan as durable state
        self._asked_step: int | None = None
        self._rated_charge_w = 0.0
        self._rated_discharge_w = 0.0
        self._error = ("no_plan", "no plan solved yet")
        self._reporter = StateReporter(controller_id, log)
        self._published: tuple[PlanValues, float] | None = None

    @property
    def state(self) -> str:
        return self._reporter.state

    @property
    def plan(self) -> tuple[float, DispatchPlan] | None:
        """The plan followed now: its first step's start [UTC epoch s] and the LP's answer."""
        return self._plan

    @property
    def worker(self) -> Worker:
        """Where plans are solved (a :class:`ThreadWorker` on an edge)."""
        return self._worker

    def durable_state(self) -> Mapping[str, Any] | None:
        """The plan followed now, compact (:func:`.carried_plan.plan_to_state`)."""
        return None if self._carried is None else {"plan": self._carried}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Follow the plan held before (another leader's, or before a restart) until this
        controller's own first solve completes; a plan that is not one is ignored."""
        carried = state.get("plan")
        if self._plan is not None or not isinstance(carried, Mapping):
            return
        restored = plan_from_state(carried, self._step_s, self.params.capacity_wh)
        if restored is None:
            log.warning("%s: the plan handed over is not usable; waiting for a solve", self.id)
            return
        self._plan, self._carried = restored, dict(carried)
        self._error = ("taken_over", "the plan handed over, until this controller's first solve")

    def status_channels(self) -> dict[str, str | None]:
        return {
            "State": None,
            "TargetGridPower": "W",
            "PlannedBatteryPower": "W",
            "PlannedSoc": "%",
            "PeakCapW": "W",  # with a demand charge: the import the cycle holds under
            "ExpectedSaving": None,  # the tariff's currency, over the plan's horizon
            **plan_units(),  # the plan hour by hour, see plan_status.py
        }

    def run(self, ctx: CycleContext) -> None:
        now = ctx.now_s
        inputs = read_fresh(ctx, self._follower.inputs + self._pv, self.params.max_input_age_s)
        self._take(self._worker.poll(now))
        if not isinstance(inputs, Missing):
            self._measure(now, inputs)
            step = math.floor(now / self._step_s)
            if step != self._asked_step and not self._worker.busy():
                self._ask(now, step, inputs)
                self._take(self._worker.poll(now))  # inline: the answer is there already

        planned = self._planned(now)
        if planned is None:
            decision = self._follower.decide(ctx, self.params.fallback_target_grid_w)
            ctx.write(self.output, decision.setpoint_w)
            self._count_import(inputs, decision.setpoint_w, now)
            ctx.status("TargetGridPower", self.params.fallback_target_grid_w)
            if decision.state.endswith("_inputs"):
                self._reporter.report(ctx, decision.state, decision.detail)
            else:
                state, detail = self._error
                self._reporter.report(ctx, state, f"self-consumption meanwhile: {detail}")
            return
        target_w, battery_w = planned
        decision = self._follower.decide(ctx, target_w)
        setpoint_w = decision.setpoint_w
        if self._guard and not isinstance(inputs, Missing):
            setpoint_w = self._cap_import(ctx, inputs, setpoint_w, battery_w)
        ctx.write(self.output, setpoint_w)
        self._count_import(inputs, setpoint_w, now)
        ctx.status("TargetGridPower", target_w)
        ctx.status("PlannedBatteryPower", battery_w)
        if self._published is not None:
            values, saving = self._published
            for name, value in values.items():
                ctx.status(name, value)
            ctx.status("ExpectedSaving", saving)
        soc_pct = self._planned_soc_pct(now)
        if soc_pct is not None:
            ctx.status("PlannedSoc", soc_pct)
        if decision.state.endswith("_inputs"):
            self._reporter.report(ctx, decision.state, decision.detail)
        elif self._error[0] != "no_plan":
            self._reporter.report(ctx, "following_last_plan", self._error[1])
        else:
            self._reporter.report(ctx, "following_plan")

    def _measure(self, now: float, inputs: Mapping[str, float]) -> None:
        if self._seed is not None:
            self._take_history(now, *self._seed)
            self._seed = None
        ch = self._follower.inputs  # grid, battery, soc, max charge, max discharge
        grid_w = inputs[ch[0]]
        pv_w = sum(inputs[a] for a in self._pv)
        self._load.add(now, grid_w + inputs[ch[1]] + pv_w)
        self._pv_means.add(now, pv_w)
        # Near an SOC bound the live limits are derated (to 0 at the bound): the most
        # seen stands for the rated power, or a full battery would plan no discharge.
        self._rated_charge_w = max(self._rated_charge_w, inputs[ch[3]])
        self._rated_discharge_w = max(self._rated_discharge_w, inputs[ch[4]])

    def _cap_import(
        self, ctx: CycleContext, inputs: Mapping[str, float], followed_w: float, planned_w: float
    ) -> float:
        """The battery [W, > 0 discharging] under the peak cap: import up to the plan's
        peak for this month (or the month's peak so far, if higher) is paid for already.

        A load above the forecast is imported up to the cap before the battery does more
        than planned (the energy stays for the peak it was kept for), and the range is
        narrowed to discharge at least import0 − cap (charge at most cap − import0), so
        no less important controller and no recharge lifts the import over it."""
        assert self._plan is not None
        ch = self._follower.inputs  # grid, battery, soc, max charge, max discharge
        plan_peak_w = self._plan[1].peak_import_w
        cap_w = max(float(plan_peak_w[0]) if len(plan_peak_w) else 0.0, self._peak.peak_w)
        import0_w = inputs[ch[0]] + inputs[ch[1]]
        need_w = min(import0_w - cap_w, inputs[ch[4]])
        ctx.narrow(self.output, f"import capped at the peak {cap_w:.0f} W", min=need_w)
        ctx.status("PeakCapW", cap_w)
        if followed_w <= planned_w:
            return followed_w  # the load came out lower: the follower saves energy
        chosen = min(followed_w, max(planned_w, need_w))
        return min(max(chosen, -inputs[ch[3]]), inputs[ch[4]])

    def _take_history(self, now: float, load: Series, pv: Series | None) -> None:
        """Seed the step means with ``history_csv``'s steps that ended before this one."""
        end = math.floor(now / self._step_s)
        taken = self._load.seed(_before(load, end))
        if pv is not None:
            self._pv_means.seed(_before(pv, end))
        log.info("%s: %d steps of load history taken from history_csv", self.id, taken)

    def _count_import(
        self, inputs: Mapping[str, float] | Missing, setpoint_w: float, now: float
    ) -> None:
        """Count the import that flows until the next cycle into the month's peak: the net
        load less this cycle's setpoint. The grid meter's reading still shows the last
        setpoint, which at a change of plan step would count a peak that never flows."""
        if isinstance(inputs, Missing):
            return
        ch = self._follower.inputs
        self._peak.add(now, inputs[ch[0]] + inputs[ch[1]] - setpoint_w)

    def _ask(self, now: float, step: int, inputs: Mapping[str, float]) -> None:
        """Hand what the cycle knows now to the worker, which forecasts, builds and
        solves the plan (:meth:`_build`) off the cycle's thread."""
        ch = self._follower.inputs
        start_s = step * self._step_s
        steps, terminal = self._steps, self.params.terminal_value_per_kwh
        if self._known_end_s is not None:
            # A perfect forecast knows where its data end: plan to there, and energy left
            # then is worth nothing (the perfect-foresight optimum's own assumption).
            known = math.ceil((self._known_end_s - start_s) / self._step_s)
            if known < steps:
                steps, terminal = max(known, 1), 0.0
        asked = _Asked(
            steps=steps,
            terminal_value_per_kwh=terminal,
            load=self._load.series(start_s),  # copies: the cycle goes on measuring
            pv=self._pv_means.series(start_s),
            now=PlanInputs(
                start_s=start_s,
                load_w=np.zeros(0),
                pv_w=np.zeros(0),
                live_net_w=inputs[ch[0]] + inputs[ch[1]],
                soc_pct=inputs[ch[2]],
                max_charge_w=self._rated_charge_w,
                max_discharge_w=self._rated_discharge_w,
                month_peak_w=self._peak.peak_w,
            ),
        )
        self._asked_step = step
        self._worker.submit(partial(self._build, asked), start_s, now)

    def _build(self, asked: _Asked) -> DispatchProblem:
        """The plan's LP (on the worker's side; the forecasters, the margin and the month
        rest are used by it alone, one plan at a time)."""
        start_s, steps = asked.now.start_s, asked.steps
        try:
            load = self._load_fc.forecast(asked.load, start_s, steps)
            pv = self._pv_fc.forecast(asked.pv, start_s, steps)
            margin_w = None
            if self._margin is not None:
                margin_w = self._margin.over(
                    self._load_fc, self._pv_fc, asked.load, asked.pv, start_s, steps
                )
                if self.params.peak_pv_low_days > 0:
                    low_pv_w = pv_shortfall_w(
                        np.clip(pv.values, 0.0, None),
                        asked.pv,
                        start_s,
                        self.params.peak_pv_low_days,
                        self.params.peak_error_quantile_pct,
                    )
                    margin_w = np.maximum(margin_w, low_pv_w)
            problem = build_problem(
                self.params,
                self._tariff,
                replace(
                    asked.now,
                    load_w=np.asarray(load.values, dtype=np.float64),
                    pv_w=np.asarray(pv.values, dtype=np.float64).clip(min=0.0),
                    margin_w=margin_w,
                ),
                asked.terminal_value_per_kwh,
            )
        except (ValueError, ArithmeticError) as exc:
            raise OptimizeError(f"could not build the plan: {exc}") from None
        if self._month_rest is not None:
            levels = self._month_rest.levels(
                asked.load,
                asked.pv if self._pv else None,
                start_s,
                start_s + steps * self._step_s,
                problem.battery,
            )
            problem = replace(problem, last_peak_levels=levels)
        return problem

    def _take(self, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        if outcome.plan is not None:
            self._plan = (outcome.start_s, outcome.plan)
            self._carried = plan_to_state(
                outcome.start_s, self._step_s, outcome.plan, self.params.capacity_wh
            )
            self._error = ("no_plan", "")
            if outcome.problem is not None:
                self._published = (
                    plan_channels(outcome.start_s, outcome.problem, outcome.plan),
                    round(expected_saving(outcome.problem, outcome.plan), 2),
                )
        else:
            log.warning("%s: %s (%s)", self.id, outcome.error, outcome.detail)
            self._error = (outcome.error, outcome.detail)

    def _planned_soc_pct(self, now: float) -> float | None:
        """The SOC the plan reaches at the end of the step under way [%]."""
        if self._plan is None:
            return None
        start_s, plan = self._plan
        j = math.floor((now - start_s) / self._step_s)
        if not 0 <= j < len(plan.energy_wh):
            return None
        return round(100.0 * float(plan.energy_wh[j]) / self.params.capacity_wh, 1)

    def _planned(self, now: float) -> tuple[float, float] | None:
        """The plan's grid and battery power [W] for the step under way, if it covers now."""
        if self._plan is None:
            return None
        start_s, plan = self._plan
        j = math.floor((now - start_s) / self._step_s)
        if not 0 <= j < len(plan.grid_w):
            return None
        return float(plan.grid_w[j]), float(plan.battery_w[j])


@dataclass(frozen=True, slots=True)
class _Asked:
    """What the cycle knew when it asked for a plan."""

    steps: int
    terminal_value_per_kwh: float | None
    load: Series  # the measured history
    pv: Series
    now: PlanInputs  # the live values; its forecasts are filled in by the build


def _history(
    params: OptimizerParams, site: ControllerSite, step_s: float, *, with_pv: bool
) -> tuple[Series, Series | None] | None:
    """``history_csv``'s load and (for a site with PV) PV as step means; raises
    ``ValueError`` naming ``history_csv`` and the file's problem."""
    if params.history_csv is None:
        return None
    path = resolve_path(params.history_csv, site.config_dir)
    try:
        load = series_from_csv(path, params.load_column, step_s)
        pv = series_from_csv(path, params.pv_column, step_s) if with_pv else None
    except ConfigError as exc:
        raise ValueError(f"history_csv: {exc}") from None
    return load, pv


def _weather(params: OptimizerParams, site: ControllerSite, step_s: float) -> Series | None:
    """``weather_csv``'s clear-sky index as step means; raises ``ValueError`` naming
    ``weather_csv`` and the file's problem, or an index outside 0..2."""
    if params.weather_csv is None:
        return None
    path = resolve_path(params.weather_csv, site.config_dir)
    try:
        index = series_from_csv(path, params.weather_column, step_s)
    except ConfigError as exc:
        raise ValueError(f"weather_csv: {exc}") from None
    seen = index.values[~np.isnan(index.values)]
    if seen.size and (seen.min() < 0.0 or seen.max() > 2.0):
        raise ValueError(f"weather_csv: {params.weather_column} must be within 0..2")
    return index


def _before(series: Series, end_step: int) -> Series:
    """The steps of ``series`` before step ``end_step`` (of its own step)."""
    keep = max(0, min(len(series.values), end_step - round(series.start_s / series.step_s)))
    return Series(series.start_s, series.step_s, series.values[:keep])


def _forecasters(
    params: OptimizerParams, site: ControllerSite
) -> tuple[Forecaster, Forecaster, float | None]:
    """Load and PV forecasters, and where the known future ends (perfect only).

    All but ``perfect`` come from :func:`ems.forecast.factory.make_forecaster` and learn
    from what this controller measured: under ``ems simulate`` that history starts with
    the run, so the first days forecast from little (persistence falls back to the
    days there are, then to 0; learned to its fallback until min_days)."""
    if params.forecast == "naive":
        return make_forecaster(**NAIVE_SPEC), make_forecaster(**NAIVE_SPEC), None
    if not isinstance(params.forecast, str):
        built = []
        for quantity in ("load", "pv"):
            kind, values = params.forecast.params_of(quantity)
            if kind in ("learned", "pv_clearsky"):
                values.setdefault("timezone", site.timezone)
            built.append(make_forecaster(kind, **values))
        return built[0], built[1], None
    assert params.forecast_csv is not None  # the params' validator
    path = resolve_path(params.forecast_csv, site.config_dir)
    try:
        series = read_csv_series(
            path, [params.load_column, params.pv_column], {params.pv_column: 0.0}
        )
    except ConfigError as exc:
        raise ValueError(f"forecast_csv: {exc}") from None
    load, pv = series[params.load_column], series[params.pv_column]
    return PerfectForecaster(load.linear), PerfectForecaster(pv.linear), min(load.end_s, pv.end_s)
