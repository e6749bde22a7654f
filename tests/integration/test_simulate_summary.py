"""``ems simulate --config``: a site with a replayed load and a tariff, and its summary line.

The summary is checked against the CSV by summing the CSV's columns here, and a
day at a 60 s cycle against the same day at 1 s.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from ems.edge.config import CycleConfig, load_edge_config
from ems.edge.simulate import parse_command, simulate

BERLIN = ZoneInfo("Europe/Berlin")
START = "2026-06-21"  # local midnight in Berlin = 2026-06-20T22:00:00Z
START_S = dt.datetime(2026, 6, 21, tzinfo=BERLIN).timestamp()
COMMANDS = ("01:00,battery_1,set_active_power,-3000", "12:00,battery_1,set_active_power,2000")
PRICES = [(0, 7, 0.22), (7, 17, 0.29), (17, 21, 0.59), (21, 24, 0.29)]  # local hours
EXPORT_PRICE = 0.08
DEMAND_CHARGE = 9.5


def write_site(folder: Path, period_s: float) -> Path:
    """A Berlin house whose load is replayed from an hourly CSV next to its config."""
    rows = ["timestamp,load_w"]
    for h in range(25):
        at = dt.datetime.fromtimestamp(START_S + 3600 * h, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{at},{400 + 900 * math.sin(math.pi * h / 24) ** 2:.1f}")
    (folder / "load.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    site: dict[str, Any] = {
        "edge_id": "replayed-house",
        "site": {"latitude_deg": 52.52, "longitude_deg": 13.405, "timezone": "Europe/Berlin"},
        "cycle": {"period_s": period_s},
        "devices": [
            {"id": "battery_1", "profile": "battery", "simulator": "battery"},
            {
                "id": "pv_1",
                "profile": "pv_inverter",
                "simulator": "pv_inverter",
                "params": {"seed": 2, "cloudiness": 0.3},
            },
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {
                "id": "load",
                "profile": "load_meter",
                "simulator": "replay",
                "params": {"csv": "load.csv", "column": "load_w"},
            },
        ],
        "controllers": [{"id": "manual_override", "type": "manual_override", "priority": 100}],
        "tariff": {
            "currency": "EUR",
            "import": {
                "windows": [
                    {"from": f"{a:02d}:00", "to": f"{b:02d}:00", "price_per_kwh": p}
                    for a, b, p in PRICES
                ]
            },
            "export": {"price_per_kwh": EXPORT_PRICE},
            "demand_charge_per_kw_month": DEMAND_CHARGE,
        },
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site), encoding="utf-8")
    return path


def run_cli(config: Path, out: Path, hours: float) -> subprocess.CompletedProcess[str]:
    args = ["simulate", "--config", str(config), "--hours", str(hours), "--start", START]
    args += ["--out", str(out), *(arg for c in COMMANDS for arg in ("--command", c))]
    return subprocess.run(
        [sys.executable, "-m", "ems.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=out.parent.parent,  # not the config's folder: load.csv is found next to the config
    )


def import_price(t_s: float) -> float:
    hour = dt.datetime.fromtimestamp(t_s, BERLIN).hour
    return next(p for a, b, p in PRICES if a <= hour < b)


def test_the_summary_line_agrees_with_the_csv(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "out").mkdir()
    config = write_site(tmp_path / "site", period_s=60.0)
    out = tmp_path / "out" / "day.csv"
    proc = run_cli(config, out, 24)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 * 60

    period_s = 60.0
    import_kwh = export_kwh = cost = throughput_kwh = 0.0
    quarter_wh: dict[int, float] = {}
    changes, last_sign = 0, 0.0
    for r in rows:
        t = dt.datetime.fromisoformat(r["timestamp"]).timestamp()
        grid_kwh = float(r["grid/ActivePower"]) * period_s / 3.6e6
        if grid_kwh > 0:
            import_kwh += grid_kwh
            cost += grid_kwh * import_price(t)
            quarter_wh[int(t // 900)] = quarter_wh.get(int(t // 900), 0.0) + grid_kwh * 1000
        else:
            export_kwh -= grid_kwh
            cost += grid_kwh * EXPORT_PRICE
        battery_w = float(r["battery_1/ActivePower"])
        throughput_kwh += abs(battery_w) * period_s / 3.6e6
        if battery_w and last_sign and math.copysign(1, battery_w) != last_sign:
            changes += 1
        last_sign = math.copysign(1, battery_w) if battery_w else last_sign
    peak_w = max(quarter_wh.values()) * 4
    cost += DEMAND_CHARGE * peak_w / 1000

    assert import_kwh > 1 and export_kwh > 1 and throughput_kwh > 5, "a day that does something"
    assert changes == 1, "charged at night, discharged from noon"
    assert summary["import_kwh"] == pytest.approx(import_kwh, rel=1e-9)
    assert summary["export_kwh"] == pytest.approx(export_kwh, rel=1e-9)
    assert summary["peak_import_15min_w"] == pytest.approx(peak_w, rel=1e-9)
    assert summary["cost"] == pytest.approx(cost, rel=1e-9)
    assert summary["currency"] == "EUR"
    assert summary["battery_throughput_kwh"] == pytest.approx(throughput_kwh, rel=1e-9)
    assert summary["battery_sign_changes"] == changes
    # The replayed load is the CSV's, linear between its hourly rows.
    assert float(rows[0]["load/ActivePower"]) == pytest.approx(400.0)
    assert float(rows[30]["load/ActivePower"]) == pytest.approx(
        400 + 900 * (math.sin(math.pi / 24) ** 2) / 2, rel=1e-3
    )


def test_a_bad_replay_file_stops_the_run_at_start_naming_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "out").mkdir()
    config = write_site(tmp_path / "site", period_s=60.0)
    load = tmp_path / "site" / "load.csv"
    lines = load.read_text().splitlines()
    lines[3] = lines[3].split(",")[0] + ",n/a"
    load.write_text("\n".join(lines) + "\n")
    proc = run_cli(config, tmp_path / "out" / "x.csv", 1)
    assert proc.returncode == 2
    assert "devices[3].params.csv: load.csv line 4, column 'load_w': 'n/a'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_day_at_60_s_agrees_with_the_same_day_at_1_s_within_1_percent(tmp_path: Path) -> None:
    config = load_edge_config(write_site(tmp_path, period_s=60.0))
    commands = [parse_command(c) for c in COMMANDS]
    results = {}
    for period_s in (1.0, 60.0):
        site = config.model_copy(update={"cycle": CycleConfig(period_s=period_s)})
        with open(os.devnull, "w", encoding="utf-8") as out:
            results[period_s] = simulate(site, START_S, 24, out, commands).summary
    fine, coarse = results[1.0], results[60.0]
    for key in ("import_kwh", "export_kwh", "battery_throughput_kwh"):
        assert isinstance(fine[key], float) and fine[key] > 1.0, key  # type: ignore[operator]
        assert coarse[key] == pytest.approx(fine[key], rel=0.01), key
    assert coarse["cost"] == pytest.approx(fine["cost"], rel=0.01)
