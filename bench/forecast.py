"""Forecast benchmark: day-ahead errors of each forecaster on published profiles.

Rolling origin: on each day of the span, at local midnight, every forecaster
forecasts the next 24 h at 15 min from the history before it (it is handed the
whole year and must not look past the origin; the unit tests hold it to that).
Prints one JSON line per data set and quantity with, for each forecaster, MAE
(W and % of the span's mean), RMSE, the skill against persistence
(1 − MAE / MAE of ``persistence_yesterday``), and for the learned model its
training time and the days it fell back to its floor (``learned_over_<floor>``).
A last line (``pv_intraday``) gives the clear-sky forecaster's PV error when it is
re-made during the day, as the optimiser re-plans: origins at each hour from 06 to
12 local, the next 6 h.

The data are the control benchmark's (``bench/_control_data.py``): the BDEW
H0/G0/G1 load profiles that demandlib ships and PV from the TMY3 file of
Greensboro, NC that pvlib ships (the same per kWp for every site, so PV is
evaluated once, for the household's 6 kWp). BDEW profiles are smooth synthetic
averages with one shape per day type and season: last week's persistence is
nearly exact on them except at season and holiday boundaries, so the load
figures say more about how each forecaster handles those steps than about
real, noisy meters. The PV comes from measured weather, so its day-to-day
variation is real.

Figures are deterministic (fixed seeds, one thread); training times depend on
the machine and its load.

    .venv/bin/python bench/forecast.py [--first-day 35] [--days 329] [--datasets household_h0 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _control_data import _TMY3_FILE, DATASETS, STEP_S, TIMEZONE, load_dataset  # bench/
from ems.forecast import Forecaster, Series
from ems.forecast.clearsky import ArrayGeometry, SiteLocation
from ems.forecast.learned import LearnedForecaster
from ems.forecast.persistence import PersistenceForecaster
from ems.forecast.pv import PvClearSkyForecaster

DAY_STEPS = 96
REFERENCE = "persistence_yesterday"
PV_DATASET = "household_h0"  # the 6 kWp array; PV per kWp is the same for every data set
ARRAY = ArrayGeometry(25.0, 180.0)  # as _control_data builds the PV
#: Intraday origins (local hours) and lead of the PV forecast re-made during the day.
INTRADAY_HOURS = range(6, 13)
INTRADAY_LEAD_H = 6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first-day", type=int, default=35, help="first origin (0 = 1 January)")
    parser.add_argument("--days", type=int, default=329, help="origins, one a day")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--retrain-days", type=float, default=7.0)
    args = parser.parse_args(argv)
    if args.first_day < 15 or args.first_day + args.days > 364:
        parser.error("--first-day must be ≥ 15 and the span must end within the year")
    site = _tmy_site()
    for name in args.datasets:
        data = load_dataset(name, 0, 365)
        load = Series(data.start_s, STEP_S, data.load_w)
        print(json.dumps(_evaluate(name, "load", load, _load_forecasters(args), args)), flush=True)
        if name == PV_DATASET:
            pv = Series(data.start_s, STEP_S, data.pv_w)
            record = _evaluate(name, "pv", pv, _pv_forecasters(site, args), args)
            print(json.dumps(record), flush=True)
            print(json.dumps(_evaluate_intraday(name, pv, site, args)), flush=True)
    return 0


def _load_forecasters(args: argparse.Namespace) -> list[Forecaster]:
    return [
        PersistenceForecaster("yesterday"),
        PersistenceForecaster("last_week"),
        PersistenceForecaster("blend"),
        PersistenceForecaster("best_recent"),
        LearnedForecaster("load", TIMEZONE, retrain_interval_s=args.retrain_days * 86_400.0),
    ]


def _pv_forecasters(site: SiteLocation, args: argparse.Namespace) -> list[Forecaster]:
    return [
        PersistenceForecaster("yesterday"),
        PersistenceForecaster("blend"),
        PersistenceForecaster("best_recent"),
        PvClearSkyForecaster(site, ARRAY),
        LearnedForecaster(
            "pv",
            TIMEZONE,
            site=site,
            array=ARRAY,
            retrain_interval_s=args.retrain_days * 86_400.0,
        ),
        # The same model held to the clear-sky forecast as its floor (fallback_kind).
        LearnedForecaster(
            "pv",
            TIMEZONE,
            site=site,
            array=ARRAY,
            retrain_interval_s=args.retrain_days * 86_400.0,
            fallback=PvClearSkyForecaster(site, ARRAY),
        ),
    ]


def _evaluate(
    dataset: str, quantity: str, data: Series, forecasters: list[Forecaster], args: Any
) -> dict[str, Any]:
    first, days = args.first_day, args.days
    actual = data.values[first * DAY_STEPS : (first + days) * DAY_STEPS]
    results: dict[str, dict[str, Any]] = {}
    for forecaster in forecasters:
        predicted = np.empty_like(actual)
        fallback_days = 0
        fits = 0
        fit_s = 0.0
        began = time.perf_counter()
        for i, day in enumerate(range(first, first + days)):
            start_s = data.start_s + day * DAY_STEPS * STEP_S
            if isinstance(forecaster, LearnedForecaster) and forecaster.due(start_s):
                fits += 1
            out = forecaster.forecast(data, start_s, DAY_STEPS)
            if isinstance(forecaster, LearnedForecaster):
                fallback_days += forecaster.reason is not None
                fit_s += forecaster.fit_duration_s if forecaster.fitted_at_s == start_s else 0.0
            predicted[i * DAY_STEPS : (i + 1) * DAY_STEPS] = out.values
        total_s = time.perf_counter() - began
        error = predicted - actual
        mae_w = float(np.mean(np.abs(error)))
        row: dict[str, Any] = {
            "mae_w": round(mae_w, 2),
            "mae_pct_of_mean": round(100.0 * mae_w / float(np.mean(actual)), 2),
            "rmse_w": round(float(np.sqrt(np.mean(error**2))), 2),
            "never_nan": bool(not np.isnan(predicted).any()),
        }
        if isinstance(forecaster, LearnedForecaster):
            row |= {
                "fits": fits,
                "fallback_days": fallback_days,
                "last_reason": forecaster.reason,
                "training_s_total": round(fit_s, 2),
            }
        row["wall_s_total"] = round(total_s, 2)
        # Named by kind and floor: a learned forecaster's name changes as it falls back.
        key = forecaster.name
        if isinstance(forecaster, LearnedForecaster):
            key = f"learned_over_{forecaster.fallback.name}"
        results[key] = row
    reference_mae = results[REFERENCE]["mae_w"]
    for row in results.values():
        row["skill_vs_persistence"] = round(1.0 - row["mae_w"] / reference_mae, 3)
    return {
        "bench": "forecast",
        "dataset": dataset,
        "quantity": quantity,
        "origins": days,
        "first_day": first,
        "horizon_steps": DAY_STEPS,
        "mean_w": round(float(np.mean(actual)), 2),
        "reference": REFERENCE,
        "forecasters": results,
    }


def _evaluate_intraday(dataset: str, data: Series, site: SiteLocation, args: Any) -> dict[str, Any]:
    """The clear-sky forecaster as the optimiser uses it, re-planning during the day:
    origins at each hour of ``INTRADAY_HOURS`` (local), the next ``INTRADAY_LEAD_H``
    hours; MAE per origin hour, where the morning's own sky has to be read."""
    forecaster = PvClearSkyForecaster(site, ARRAY)
    per_h = DAY_STEPS // 24
    lead = INTRADAY_LEAD_H * per_h
    errors: dict[int, list[float]] = {hour: [] for hour in INTRADAY_HOURS}
    for day in range(args.first_day, args.first_day + args.days):
        for hour in INTRADAY_HOURS:
            k = day * DAY_STEPS + hour * per_h
            out = forecaster.forecast(data, data.start_s + k * STEP_S, lead).values
            errors[hour].append(float(np.mean(np.abs(out - data.values[k : k + lead]))))
    every = [e for hour in INTRADAY_HOURS for e in errors[hour]]
    return {
        "bench": "forecast",
        "dataset": dataset,
        "quantity": "pv_intraday",
        "forecaster": forecaster.name,
        "lead_h": INTRADAY_LEAD_H,
        "mae_w_by_origin_hour": {str(h): round(float(np.mean(errors[h])), 1) for h in errors},
        "mae_w": round(float(np.mean(every)), 1),
    }


def _tmy_site() -> SiteLocation:
    import pvlib

    path = Path(pvlib.__file__).parent / "data" / _TMY3_FILE
    _, meta = pvlib.iotools.read_tmy3(path, map_variables=True)
    return SiteLocation(float(meta["latitude"]), float(meta["longitude"]), float(meta["altitude"]))


if __name__ == "__main__":
    sys.exit(main())
