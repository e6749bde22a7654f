"""Replay devices: recorded load, PV and grid data played into the profile's channels."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ems.clock import VirtualClock
from ems.dal import Sample, Value
from ems.devices.base import SIMULATORS, BalanceRole, GridSimulator, Simulator, SiteContext
from ems.devices.replay import ReplayConfig, ReplaySimulator
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError

T0 = dt.datetime(2026, 6, 21, tzinfo=dt.UTC).timestamp()
CSV = (
    "timestamp,load_w,pv_w,voltage_v,frequency_hz\n"
    "2026-06-21T00:00:00Z,400,0,231,50.00\n"
    "2026-06-21T00:10:00Z,1000,600,229,49.90\n"
    "2026-06-21T00:20:00Z,1000,1200,233,50.10\n"
)


@pytest.fixture
def site(tmp_path: Path) -> SiteContext:
    (tmp_path / "site.csv").write_text(CSV, encoding="utf-8")
    return SiteContext(52.52, 13.405, 34.0, "Europe/Berlin", config_dir=str(tmp_path))


def make(site: SiteContext, profile: str, **params: Any) -> Simulator:
    config = ReplayConfig.model_validate({"csv": "site.csv", **params})
    return ReplaySimulator.create("dev", config, site, profile)


def num(value: Value) -> float:
    assert isinstance(value, int | float)
    return float(value)


def profile_inputs(profile: str) -> set[str]:
    text = resources.files("ems.profiles").joinpath(f"{profile}.json").read_text("utf-8")
    channels: dict[str, Any] = json.loads(text)["channels"]
    return {n for n, spec in channels.items() if spec["category"] == "input"}


def test_registered_as_replay() -> None:
    assert SIMULATORS.get("replay") is ReplaySimulator


@pytest.mark.parametrize(
    ("profile", "params", "role"),
    [
        ("load_meter", {"column": "load_w"}, BalanceRole.CONSUMPTION),
        ("pv_inverter", {"column": "pv_w"}, BalanceRole.GENERATION),
        ("grid_meter", {"voltage_column": "voltage_v"}, BalanceRole.GRID),
    ],
)
def test_fills_every_input_channel_of_its_profile(
    site: SiteContext, profile: str, params: dict[str, Any], role: BalanceRole
) -> None:
    sim = make(site, profile, **params)
    assert sim.balance_role is role
    assert set(sim.step(T0, 0.0, {})) == profile_inputs(profile)


def test_load_is_linear_between_rows_held_past_the_ends_and_integrated(site: SiteContext) -> None:
    sim = make(site, "load_meter", column="load_w", scale=2.0)
    assert num(sim.step(T0 - 3600, 0.0, {})["ActivePower"]) == 800.0, "held before the start"
    assert num(sim.step(T0 + 300, 3900.0, {})["ActivePower"]) == pytest.approx(1400.0)
    out = sim.step(T0 + 600, 300.0, {})
    assert num(out["ActivePower"]) == pytest.approx(2000.0)
    # Energy integrates the power chosen at each previous step over the interval after it.
    assert num(out["ActiveEnergy"]) == pytest.approx((800.0 * 3900 + 1400.0 * 300) / 3600.0)
    assert num(sim.step(T0 + 86_400, 85_800.0, {})["ActivePower"]) == 2000.0, "held after the end"


def test_pv_is_curtailed_by_a_fresh_limit_only(site: SiteContext) -> None:
    sim = make(site, "pv_inverter", column="pv_w")
    now = T0 + 900.0
    out = sim.step(now, 0.0, {"SetActivePowerLimit": Sample(500.0, now - 1.0)})
    assert num(out["AvailablePower"]) == pytest.approx(900.0)
    assert num(out["ActivePower"]) == 500.0
    out = sim.step(now + 1, 1.0, {"SetActivePowerLimit": Sample(500.0, now - 60.0)})
    assert num(out["ActivePower"]) == pytest.approx(901.0), (
        "a stale limit is ignored (PV rises 1 W/s here)"
    )
    assert num(out["Current"]) == pytest.approx(num(out["ActivePower"]) / 230.0)


def test_grid_plays_voltage_and_frequency_and_closes_the_balance(site: SiteContext) -> None:
    sim = make(site, "grid_meter", voltage_column="voltage_v", frequency_column="frequency_hz")
    assert isinstance(sim, GridSimulator)
    closed = sim.close_balance(T0 + 300, 1500.0)
    assert closed == {"ActivePower": 1500.0, "Voltage": pytest.approx(230.0)}
    out = sim.step(T0 + 300, 0.0, {})
    assert num(out["Frequency"]) == pytest.approx(49.95)
    sim.close_balance(T0 + 310, -500.0)
    out = sim.step(T0 + 310, 10.0, {})  # 1500 W imported for 10 s
    assert num(out["ActiveEnergyImport"]) == pytest.approx(1500.0 * 10 / 3600)
    out = sim.step(T0 + 330, 20.0, {})  # -500 W for 20 s
    assert num(out["ActiveEnergyExport"]) == pytest.approx(500.0 * 20 / 3600)
    only_f = make(site, "grid_meter", frequency_column="frequency_hz", nominal_voltage_v=240.0)
    assert num(only_f.step(T0, 0.0, {})["Voltage"]) == 240.0


@pytest.mark.parametrize(
    ("profile", "params", "message"),
    [
        (
            "battery",
            {"column": "load_w"},
            r"^profile: a replay device plays grid_meter, load_meter",
        ),
        ("load_meter", {}, r"^params.column: a load_meter replay needs its power column"),
        ("load_meter", {"column": "nope"}, r"^params.csv: site.csv line 1: no column 'nope'"),
        (
            "pv_inverter",
            {"column": "pv_w", "voltage_column": "voltage_v"},
            r"^params.voltage_column: only a grid_meter replay plays it",
        ),
        ("grid_meter", {"column": "load_w"}, r"^params.column: a grid_meter's power closes"),
        ("grid_meter", {}, r"^params.voltage_column: a grid_meter replay needs"),
    ],
)
def test_bad_params_are_refused_naming_the_field(
    site: SiteContext, profile: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make(site, profile, **params)


def site_document(csv: str, **device: Any) -> dict[str, Any]:
    return {
        "edge_id": "replayed",
        "site": {"latitude_deg": 52.52, "longitude_deg": 13.405, "timezone": "Europe/Berlin"},
        "devices": [
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {
                "id": "load",
                "profile": "load_meter",
                "simulator": "replay",
                "params": {"csv": csv, **device},
            },
        ],
    }


def test_a_site_replays_its_load_from_a_file_next_to_its_config(tmp_path: Path) -> None:
    (tmp_path / "load.csv").write_text(CSV, encoding="utf-8")
    config = parse_edge_config(site_document("load.csv", column="load_w"), "site.yaml", tmp_path)
    runtime = EdgeRuntime(config, VirtualClock(T0 + 300))
    runtime.host.tick_all()
    assert runtime.store.get_channel("load/ActivePower") == Sample(pytest.approx(700.0), T0 + 300)
    grid = runtime.store.get_channel("grid/ActivePower")
    assert grid is not None and num(grid.value) == pytest.approx(700.0, abs=1e-9)


def test_a_bad_replay_file_is_refused_at_start_naming_device_line_and_column(
    tmp_path: Path,
) -> None:
    (tmp_path / "load.csv").write_text(CSV + "2026-06-21T00:30:00Z,oops,0,230,50\n", "utf-8")
    config = parse_edge_config(site_document("load.csv", column="load_w"), "site.yaml", tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"^devices\[1\]\.params\.csv: load.csv line 5, column 'load_w': 'oops' is not",
    ):
        EdgeRuntime(config, VirtualClock(T0))
    missing = parse_edge_config(site_document("gone.csv", column="load_w"), "s.yaml", tmp_path)
    with pytest.raises(ConfigError, match=r"^devices\[1\]\.params\.csv: .*gone.csv: cannot read"):
        EdgeRuntime(missing, VirtualClock(T0))
