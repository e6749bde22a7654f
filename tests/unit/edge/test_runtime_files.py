"""Files a config names (replay CSVs, price CSVs) are found next to it and checked at start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from ems.clock import VirtualClock
from ems.edge.config import load_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError

T0 = dt.datetime(2026, 6, 21, 10, tzinfo=dt.UTC).timestamp()


def write_site(folder: Path, price_column: str) -> Path:
    folder.mkdir()
    (folder / "load.csv").write_text("timestamp,w\n2026-06-21T00:00:00Z,700\n", "utf-8")
    (folder / "prices.csv").write_text(
        "timestamp,eur\n2026-06-21T00:00:00Z,0.25\n2026-06-21T12:00:00Z,0.35\n", "utf-8"
    )
    document = {
        "edge_id": "files",
        "site": {"latitude_deg": 52.52, "longitude_deg": 13.405, "timezone": "Europe/Berlin"},
        "devices": [
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {
                "id": "load",
                "profile": "load_meter",
                "simulator": "replay",
                "params": {"csv": "load.csv", "column": "w"},
            },
        ],
        "tariff": {"currency": "EUR", "import": {"csv": "prices.csv", "column": price_column}},
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def test_relative_files_are_found_next_to_the_config_not_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_site(tmp_path / "site", "eur")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    runtime = EdgeRuntime(load_edge_config(config_path), VirtualClock(T0))
    runtime.host.tick_all()
    load = runtime.store.get_channel("load/ActivePower")
    assert load is not None and load.value == 700.0
    assert runtime.tariff is not None
    assert runtime.tariff.import_price_per_kwh(T0) == 0.25
    assert runtime.tariff.import_price_per_kwh(T0 + 7200) == 0.35


def test_a_bad_price_file_is_refused_at_start_with_the_field_named(tmp_path: Path) -> None:
    config = load_edge_config(write_site(tmp_path / "site", "price_per_kwh"))
    with pytest.raises(ConfigError, match=r"^tariff\.import\.csv: .*prices.csv line 1: no column"):
        EdgeRuntime(config, VirtualClock(T0))


def test_without_a_tariff_block_there_is_no_tariff() -> None:
    assert EdgeRuntime(load_edge_config(None), VirtualClock(T0)).tariff is None
