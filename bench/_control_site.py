"""A data set as an edge site: replay CSVs, a site YAML, and ``simulate()`` over it.

The site is the same one ``ems simulate --config FILE`` runs: a grid meter
closing the balance, a replayed load and a replayed PV inverter, the data set's
battery, its tariff, and the controllers of one case file
(``bench/control_cases/<name>.yaml``). Each 15-min value is held for the whole
quarter hour (rows at its start and one second before its end), so a 60 s
cycle sees exactly the values the LP and the reference rule see.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml

from _control_data import STEP_S, TIMEZONE, DataSet, write_prices  # bench/
from _control_weather import WEATHER_CSV, write_weather  # bench/
from ems.edge.config import load_edge_config
from ems.edge.controllers.base import CONTROLLERS
from ems.edge.simulate import simulate

__all__ = ["CASES_DIR", "HISTORY_CSV", "Case", "SiteRun", "load_case", "run_site"]

CASES_DIR = Path(__file__).parent / "control_cases"
BATTERY_ID = "battery_1"
PERIOD_S = 60.0
HISTORY_CSV = "history.csv"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Case:
    """One controller set-up: the ``controllers:`` block of a site, from its case file."""

    name: str
    text: str  # YAML with $placeholders the data set fills in

    def controllers(self, values: dict[str, float]) -> list[dict[str, Any]]:
        document = yaml.safe_load(string.Template(self.text).substitute(values))
        controllers: list[dict[str, Any]] = document["controllers"]
        return controllers

    def missing_types(self) -> list[str]:
        """Controller types the case uses that this build does not register."""
        document = yaml.safe_load(string.Template(self.text).safe_substitute())
        known = set(CONTROLLERS.names())
        return [c["type"] for c in document["controllers"] if c["type"] not in known]


def load_case(name: str) -> Case:
    return Case(name, (CASES_DIR / f"{name}.yaml").read_text("utf-8"))


@dataclass(frozen=True, slots=True)
class SiteRun:
    summary: dict[str, Any]
    grid_w: FloatArray  # per cycle, > 0 import
    battery_w: FloatArray  # per cycle, > 0 discharging
    soc_pct: FloatArray
    max_discharge_w: FloatArray  # the battery's discharge limit at each cycle


def write_series(path: Path, data: DataSet) -> None:
    """``data``'s load and PV as a CSV of ``timestamp,load_w,pv_w``."""
    times = data.times_s()
    # Two rows per quarter: its start and one second before its end, so linear
    # interpolation between rows holds each value for the whole quarter.
    stamps = np.column_stack([times, times + STEP_S - 1.0]).ravel()
    text = pd.to_datetime(stamps, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = pd.DataFrame(
        {
            "timestamp": text,
            "load_w": np.repeat(data.load_w, 2).round(3),
            "pv_w": np.repeat(data.pv_w, 2).round(3),
        }
    )
    frame.to_csv(path, index=False)


def write_site(
    folder: Path,
    data: DataSet,
    controllers: list[dict[str, Any]],
    history: DataSet | None = None,
) -> Path:
    """The site YAML and its CSVs; ``history`` (the days before ``data``) as
    ``history.csv``, which a case reads as ``history_csv: $history_csv``."""
    write_series(folder / "series.csv", data)
    if history is not None:
        write_series(folder / HISTORY_CSV, history)
    write_prices(folder, data)  # read only by a tariff with a price file
    write_weather(folder / WEATHER_CSV, data)  # read only by a case with $weather_csv
    document = {
        "edge_id": "bench-" + data.spec.name.replace("_", "-"),
        "site": {
            "latitude_deg": 36.1,
            "longitude_deg": -79.95,
            "altitude_m": 273,
            "timezone": TIMEZONE,
        },
        "cycle": {"period_s": PERIOD_S},
        "devices": [
            {
                "id": BATTERY_ID,
                "profile": "battery",
                "simulator": "battery",
                "params": data.spec.battery.model_dump(mode="json", exclude_defaults=True),
            },
            {
                "id": "pv_1",
                "profile": "pv_inverter",
                "simulator": "replay",
                "params": {"csv": "series.csv", "column": "pv_w"},
            },
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {
                "id": "load",
                "profile": "load_meter",
                "simulator": "replay",
                "params": {"csv": "series.csv", "column": "load_w"},
            },
        ],
        "controllers": controllers,
        "tariff": data.spec.tariff,
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")
    return path


def run_site(
    folder: Path,
    data: DataSet,
    controllers: list[dict[str, Any]],
    history: DataSet | None = None,
) -> SiteRun:
    """``simulate()`` the site over the data set's whole span at a 60 s cycle."""
    config = load_edge_config(write_site(folder, data, controllers, history))
    csv_path = folder / "run.csv"
    with csv_path.open("w", encoding="utf-8") as out:
        result = simulate(config, data.start_s, data.steps * STEP_S / 3600.0, out)
    columns = {
        "grid_w": "_sum/GridActivePower",
        "battery_w": f"{BATTERY_ID}/ActivePower",
        "soc_pct": f"{BATTERY_ID}/Soc",
        "max_discharge_w": f"{BATTERY_ID}/MaxDischargePower",
    }
    frame = pd.read_csv(csv_path, usecols=list(columns.values()))
    arrays = {k: frame[v].fillna(0.0).to_numpy(dtype=np.float64) for k, v in columns.items()}
    return SiteRun(summary=result.summary, **arrays)
