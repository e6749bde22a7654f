"""``ems simulate`` of the demo site for a day with a charge command, checked row by row.

Runs the real command line in a subprocess, as an operator would.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from ems.devices.battery.config import BatteryConfig
from ems.edge.config import load_edge_config

START = "2026-06-21"  # local midnight in Berlin = 2026-06-20T22:00:00Z
COMMAND_ROW = 3600  # 01:00 after the start at a 1 s cycle

B = "battery_1"


def run_simulate(out: Path, hours: float, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ems.cli",
            "simulate",
            "--hours",
            str(hours),
            "--start",
            START,
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], str]:
    out = tmp_path_factory.mktemp("sim") / "day.csv"
    # Manual mode from the start: the demo's self-consumption would otherwise run the battery.
    proc = run_simulate(
        out,
        24,
        "--command",
        "01:00,battery_1,set_active_power,-3000",
        "--command",
        "00:00,battery_1,set_mode,manual",
    )
    assert proc.returncode == 0, proc.stderr
    with out.open() as f:
        return list(csv.DictReader(f)), proc.stderr


def f(row: dict[str, str], column: str) -> float:
    return float(row[column])


@pytest.mark.slow
def test_shape_of_the_csv(day: tuple[list[dict[str, str]], str]) -> None:
    rows, stderr = day
    assert len(rows) == 86_400
    assert next(iter(rows[0])) == "timestamp"
    assert rows[0]["timestamp"] == "2026-06-20T22:00:00.000Z"
    assert rows[1]["timestamp"] == "2026-06-20T22:00:01.000Z"
    for column in (
        "battery_1/Soc",
        "battery_1/SetActivePower",
        "grid/ActivePower",
        "pv_1/ActivePower",
        "load/ActivePower",
        "_sum/ConsumptionActivePower",
    ):
        assert column in rows[0]
    assert "sim-1 executed" in stderr


@pytest.mark.slow
def test_battery_charges_from_the_command_cycle_until_full(
    day: tuple[list[dict[str, str]], str],
) -> None:
    rows, _ = day
    cfg = BatteryConfig.model_validate(load_edge_config(None).devices[0].params)
    assert all(f(r, f"{B}/ActivePower") == 0 for r in rows[:COMMAND_ROW]), "idle before"
    assert f(rows[COMMAND_ROW], f"{B}/SetActivePower") == -3000, "executed in the 01:00 cycle"
    assert f(rows[COMMAND_ROW], f"{B}/ActivePower") == -3000, "followed from that cycle on"
    full = next(i for i, r in enumerate(rows) if f(r, f"{B}/Soc") >= cfg.max_soc_pct)
    assert COMMAND_ROW < full < len(rows) - 1, "reaches max SOC within the day"
    charging = [f(r, f"{B}/ActivePower") for r in rows[COMMAND_ROW:full]]
    assert all(p < 0 for p in charging), "charges on every cycle until full"
    assert min(charging) == -3000, "never beyond the command"
    after = rows[full:]
    assert all(f(r, f"{B}/ActivePower") == 0 for r in after), "0 W once full"
    assert all(f(r, f"{B}/Soc") == cfg.max_soc_pct for r in after)
    assert all(r[f"{B}/State"] == "full" for r in after)


@pytest.mark.slow
def test_energy_balance_and_soc_bounds(day: tuple[list[dict[str, str]], str]) -> None:
    rows, _ = day
    cfg = BatteryConfig.model_validate(load_edge_config(None).devices[0].params)
    socs = [f(r, f"{B}/Soc") for r in rows]
    assert min(socs) >= cfg.min_soc_pct and max(socs) <= cfg.max_soc_pct
    # Power in row k flows for one cycle (1 s) from that row's timestamp.
    stored_wh = 0.0
    for r in rows[:-1]:
        p = f(r, f"{B}/ActivePower")
        stored_wh += (-p * cfg.efficiency if p < 0 else -p / cfg.efficiency) / 3600.0
    soc_change_wh = (socs[-1] - socs[0]) / 100.0 * cfg.capacity_wh
    assert soc_change_wh > 3000  # it really charged
    assert stored_wh == pytest.approx(soc_change_wh, rel=0.01)


@pytest.mark.slow
def test_site_balance_exact_and_pv_dark_at_night(day: tuple[list[dict[str, str]], str]) -> None:
    rows, _ = day
    import pandas as pd
    import pvlib

    site = load_edge_config(None).site
    times = pd.DatetimeIndex([datetime.fromisoformat(r["timestamp"]) for r in rows[::60]])
    elevation = pvlib.solarposition.get_solarposition(
        times, site.latitude_deg, site.longitude_deg, site.altitude_m
    )["apparent_elevation"].to_numpy()
    for r, elev in zip(rows[::60], elevation, strict=True):
        if elev < -1.0:
            assert f(r, "pv_1/ActivePower") == 0.0, r["timestamp"]
    assert max(f(r, "pv_1/ActivePower") for r in rows) > 3000, "it is a June day"
    for r in rows:
        load = f(r, "load/ActivePower")
        total = f(r, "grid/ActivePower") + f(r, "pv_1/ActivePower") + f(r, f"{B}/ActivePower")
        assert math.isclose(load, total, rel_tol=1e-12, abs_tol=1e-9), r["timestamp"]


def test_same_seed_same_result(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        assert (
            run_simulate(out, 0.5, "--command", "00:10,battery_1,set_active_power,2000").returncode
            == 0
        )
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("01:00,battery_9,set_active_power,-3000", "no device 'battery_9'"),
        ("01:00,battery_1,fly,1", "has no action 'fly'"),
        ("01:00,battery_1,set_active_power,lots", "takes a number"),
        ("01:00,battery_1,set_active_power,-9000000", "outside the static range"),
        ("1h,battery_1,set_active_power,1", "is not HH:MM"),
        ("01:00,battery_1", "expected HH:MM,DEVICE,ACTION,VALUE"),
    ],
)
def test_bad_command_is_refused_clearly(tmp_path: Path, command: str, message: str) -> None:
    proc = run_simulate(tmp_path / "x.csv", 0.01, "--command", command)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
