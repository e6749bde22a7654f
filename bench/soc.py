"""SOC estimation: the BMS's coulomb counter and the edge's EKF against the cells' true SOC.

A simulated site (DESIGN 17): the ``load_meter`` and ``pv_inverter``
simulators (residential load, 8 kWp PV, Berlin, from 1 April) and a
``battery_ecm`` battery run by a self-consumption rule (discharge what the
load needs beyond PV, charge the surplus), whose BMS has a biased current
sensor and starts off by some points of SOC. The EKF runs through the same
stage the edge's cycle runs (:class:`~ems.estimation.stage.SocEstimators`),
starting from the BMS's first (wrong) Soc.

For LFP and NMC, over the first 1, 7 and 30 days: RMSE and max |error| of
the counter and of the EKF against ``SocTrue`` (% points), the EKF's
estimated bias, and its CPU time per update. Prints one JSON object.

The learned estimator (``estimator: {type: learned}``) runs on the same site
started ``--train-days`` earlier: it trains at the first evaluated moment on
those earlier days only, retrains on its schedule from what it has seen by
then, and is scored on the evaluated days beside the EKF of the same run:
the model's own estimate (whether or not it was chosen), what was published
(the model or the EKF, by the validation verdict), the trainings' verdicts and
CPU, the inference's CPU, the model's size, and what importing autograd (the
training process only) costs in RSS.

    python bench/soc.py [--days 30] [--step-s 10] [--bias-a 0.3] [--initial-error-pct 10]
                        [--train-days 21] [--no-learned]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ems.dal import Sample, Snapshot
from ems.devices.base import SiteContext
from ems.devices.battery_ecm import EcmBatteryConfig, EcmBatterySimulator
from ems.devices.load_meter.config import LoadMeterConfig
from ems.devices.load_meter.model import LoadMeterSimulator
from ems.devices.pv_inverter.config import PvInverterConfig
from ems.devices.pv_inverter.model import PvInverterSimulator
from ems.estimation import EkfConfig, LearnedConfig
from ems.estimation.learned.trainers import InlineTrainer
from ems.estimation.stage import SocEstimators

SITE = SiteContext(52.52, 13.405, 34.0, "Europe/Berlin")
T0 = 1_775_001_600.0  # 2026-04-01T00:00:00Z
WINDOWS_D = (1, 7, 30)
BUDGET_RMSE_PCT = 2.0
DEVICE = "battery_1"


def _stats(errors: list[float]) -> dict[str, float]:
    if not errors:
        return {"rmse_pct": math.nan, "max_abs_pct": math.nan}
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    return {"rmse_pct": round(rmse, 3), "max_abs_pct": round(max(abs(e) for e in errors), 3)}


def run(chemistry: str, days: float, step_s: float, bias_a: float, error_pct: float) -> Any:
    battery, load, pv = _site(chemistry, bias_a, error_pct)
    ekf_config = EkfConfig(chemistry=chemistry)
    stage = SocEstimators({DEVICE: ekf_config})
    ekf_nameplate_ah = battery.pack.capacity_ah / (
        1.0 + battery.ecm_config.capacity_deviation_pct / 100
    )
    counter_err: list[float] = []
    ekf_err: list[float] = []
    times_d: list[float] = []
    cpu_s = 0.0
    throughput_ah = 0.0
    steps = int(days * 86_400 / step_s)
    setpoint_w = 0.0
    for k in range(steps + 1):
        t = T0 + k * step_s
        dt = 0.0 if k == 0 else step_s
        load_w = float(load.step(t, dt, {})["ActivePower"])  # type: ignore[arg-type]
        pv_w = float(pv.step(t, dt, {})["ActivePower"])  # type: ignore[arg-type]
        setpoint_w = load_w - pv_w
        out = battery.step(t, dt, {"SetActivePower": Sample(setpoint_w, t)})
        snapshot = Snapshot({f"{DEVICE}/{n}": Sample(v, t) for n, v in out.items()}, t)
        started = time.process_time()
        estimate = stage.compute(snapshot)
        cpu_s += time.process_time() - started
        true_pct = float(out["SocTrue"])  # type: ignore[arg-type]
        counter_err.append(float(out["Soc"]) - true_pct)  # type: ignore[arg-type]
        ekf_err.append(float(estimate[f"{DEVICE}/SocEstimate"].value) - true_pct)  # type: ignore[arg-type]
        times_d.append(k * step_s / 86_400.0)
        throughput_ah += abs(battery._current_a) * dt / 3600.0
    ekf = stage.filter_of(DEVICE)
    result: dict[str, Any] = {}
    for window in WINDOWS_D:
        if window > days + 1e-9:
            continue
        n = sum(1 for d in times_d if d <= window)
        result[f"{window}d"] = {
            "counter": _stats(counter_err[:n]),
            "ekf": _stats(ekf_err[:n]),
            "ekf_after_first_hour": _stats(ekf_err[int(3600 / step_s) : n]),
        }
    result["equivalent_full_cycles"] = round(throughput_ah / (2 * battery.pack.capacity_ah), 1)
    result["true_bias_a"] = bias_a
    result["ekf_bias_a"] = None if ekf is None else round(ekf.bias_a, 3)
    # What the filter learned of the pack, against the simulator's truth.
    result["true_capacity_factor"] = round(battery.capacity_ah / ekf_nameplate_ah, 4)
    result["ekf_capacity_factor"] = None if ekf is None else round(ekf.capacity_factor, 4)
    result["true_resistance_factor"] = round(1.0 + battery.resistance_growth, 4)
    result["ekf_resistance_factor"] = None if ekf is None else round(ekf.resistance_factor, 4)
    result["ekf_cpu_us_per_update"] = round(cpu_s / (steps + 1) * 1e6, 1)
    result["ekf_rmse_within_budget"] = all(
        v["ekf"]["rmse_pct"] <= BUDGET_RMSE_PCT for k, v in result.items() if k.endswith("d")
    )
    return result


def _site(chemistry: str, bias_a: float, error_pct: float) -> tuple[Any, Any, Any]:
    battery = EcmBatterySimulator(
        DEVICE,
        EcmBatteryConfig(
            chemistry=chemistry,
            bms_error={"current_bias_a": bias_a, "initial_soc_error_pct": error_pct},
            seed=7,
        ),
        SITE,
    )
    load = LoadMeterSimulator("load", LoadMeterConfig(seed=3), SITE)
    pv = PvInverterSimulator("pv_1", PvInverterConfig(seed=5), SITE)
    return battery, load, pv


def run_learned(
    chemistry: str, train_days: float, days: float, step_s: float, bias_a: float, error_pct: float
) -> Any:
    """The learned estimator on the same site, started ``train_days`` before the evaluated days.

    Its first training is due at T0 and uses only the days before it; it then
    retrains on schedule (every ``train_days``) from what it has seen so far: never a
    label from the days it is scored on. The same run's EKF (its fallback, on the same
    samples) is scored beside it."""
    battery, load, pv = _site(chemistry, bias_a, error_pct)
    config = LearnedConfig(
        chemistry=chemistry,
        retrain_every_s=train_days * 86_400.0,
        # What the site knows of its BMS: it calls the pack full at its max_soc_pct.
        full_soc_pct=battery.ecm_config.max_soc_pct,
    )
    trainer = InlineTrainer()
    stage = SocEstimators({DEVICE: config}, trainer=lambda: trainer)
    learned = stage.learned_of(DEVICE)
    assert learned is not None
    start = T0 - train_days * 86_400.0
    raw_err: list[float] = []
    published_err: list[float] = []
    ekf_err: list[float] = []
    times_d: list[float] = []
    learned_share = 0
    reports: list[dict[str, Any]] = []
    train_cpu_s = 0.0
    stage_cpu_s = 0.0
    steps = int((train_days + days) * 86_400 / step_s)
    for k in range(steps + 1):
        t = start + k * step_s
        dt = 0.0 if k == 0 else step_s
        load_w = float(load.step(t, dt, {})["ActivePower"])  # type: ignore[arg-type]
        pv_w = float(pv.step(t, dt, {})["ActivePower"])  # type: ignore[arg-type]
        out = battery.step(t, dt, {"SetActivePower": Sample(load_w - pv_w, t)})
        snapshot = Snapshot({f"{DEVICE}/{n}": Sample(v, t) for n, v in out.items()}, t)
        report_before = learned.report
        started = time.process_time()
        estimate = stage.compute(snapshot)
        stage_cpu_s += time.process_time() - started
        if learned.report is not report_before and learned.report is not None:
            reports.append({"at_day": round((t - T0) / 86_400.0, 2), **learned.report.as_dict()})
            train_cpu_s += learned.report.cpu_s
        if t < T0:
            continue
        true_pct = float(out["SocTrue"])  # type: ignore[arg-type]
        ekf = stage.filter_of(DEVICE)
        assert ekf is not None
        ekf_err.append(ekf.soc_pct - true_pct)
        published_err.append(float(estimate[f"{DEVICE}/SocEstimate"].value) - true_pct)  # type: ignore[arg-type]
        raw = learned.learned_soc_pct
        if raw is not None:
            raw_err.append(raw - true_pct)
        learned_share += estimate[f"{DEVICE}/SocEstimateSource"].value == "learned"
        times_d.append((t - T0) / 86_400.0)
    result: dict[str, Any] = {}
    for window in WINDOWS_D:
        if window > days + 1e-9:
            continue
        n = sum(1 for d in times_d if d <= window)
        result[f"{window}d"] = {
            "ekf_same_run": _stats(ekf_err[:n]),
            "learned": _stats(raw_err[: min(n, len(raw_err))]),
            "published": _stats(published_err[:n]),
        }
    result["learned_share_of_published"] = round(learned_share / max(len(times_d), 1), 3)
    result["trainings"] = reports
    result["training_cpu_s_total"] = round(train_cpu_s, 1)
    # Per cycle (one sample): the EKF, the recorder, one inference a minute; no training.
    result["stage_cpu_us_per_update"] = round((stage_cpu_s - train_cpu_s) / (steps + 1) * 1e6, 1)
    model = learned.candidate
    if model is not None:
        window = learned.history.last(model.window_min)
        started = time.process_time()
        for _ in range(200):
            model.predict_pct(window)
        result["inference_cpu_us"] = round((time.process_time() - started) / 200 * 1e6, 1)
        result["model_params_kb"] = round(model.size_bytes() / 1024, 1)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.npz"
            model.save(path)
            result["model_file_kb"] = round(path.stat().st_size / 1024, 1)
    return result


_RSS_PROBE = """
import re
def rss_kb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
import numpy, ems.estimation.learned.estimator
before = rss_kb()
import autograd, autograd.numpy, autograd.misc.optimizers
print(before, rss_kb())
"""


def autograd_import_rss_mb() -> dict[str, float] | None:
    """RSS of a fresh interpreter with numpy and the learned estimator, then with autograd."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    before_kb, after_kb = (int(v) for v in done.stdout.split())
    return {
        "rss_without_autograd_mb": round(before_kb / 1024, 1),
        "rss_with_autograd_mb": round(after_kb / 1024, 1),
        "autograd_delta_mb": round((after_kb - before_kb) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--step-s", type=float, default=10.0)
    parser.add_argument("--bias-a", type=float, default=0.3)
    parser.add_argument("--initial-error-pct", type=float, default=10.0)
    parser.add_argument("--chemistry", choices=("lfp", "nmc"), action="append")
    parser.add_argument("--train-days", type=float, default=21.0)
    parser.add_argument("--no-learned", action="store_true")
    args = parser.parse_args()
    wall = time.perf_counter()
    out: dict[str, Any] = {
        "note": "measured on a loaded shared machine; CPU time per update, not wall time",
        "days": args.days,
        "step_s": args.step_s,
        "current_bias_a": args.bias_a,
        "initial_soc_error_pct": args.initial_error_pct,
        "budget_ekf_rmse_pct": BUDGET_RMSE_PCT,
    }
    for chem in args.chemistry or ["lfp", "nmc"]:
        out[chem] = run(chem, args.days, args.step_s, args.bias_a, args.initial_error_pct)
        if not args.no_learned:
            out[chem]["learned"] = run_learned(
                chem, args.train_days, args.days, args.step_s, args.bias_a, args.initial_error_pct
            )
    if not args.no_learned:
        out["train_days"] = args.train_days
        out["autograd_import"] = autograd_import_rss_mb()
    out["wall_s"] = round(time.perf_counter() - wall, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
