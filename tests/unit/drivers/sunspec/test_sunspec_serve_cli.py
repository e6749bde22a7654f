"""``ems devices serve`` as a process: it announces its ports, and ``devices scan`` finds it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ems.cli import main

SITE_YAML = """
edge_id: serve-cli
site: {latitude_deg: 52.52, longitude_deg: 13.405, timezone: Europe/Berlin}
devices:
  - {id: battery_1, profile: battery, simulator: battery, params: {seed: 1}}
  - {id: load, profile: load_meter, simulator: load_meter, params: {seed: 4}}
"""


def test_serve_announces_its_ports_and_scan_finds_the_battery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(SITE_YAML, encoding="utf-8")
    argv = ["devices", "serve", "--config", str(config), "--port", "0"]
    with subprocess.Popen(
        [sys.executable, "-m", "ems.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            announced = json.loads(proc.stdout.readline())  # printed once the ports listen
            (battery,) = announced["serving"]
            assert battery["device"] == "battery_1"
            assert (battery["host"], battery["unit_id"]) == ("127.0.0.1", 1)
            port = str(battery["port"])
            assert main(["devices", "scan", "--host", "127.0.0.1", "--port", port]) == 0
        finally:
            proc.terminate()
    found = json.loads(capsys.readouterr().out)
    assert (found["profile"], found["serial"]) == ("battery", "battery_1")
    assert [m["id"] for m in found["models"]] == [1, 103, 120, 124]


def test_serve_refuses_a_site_with_nothing_to_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        SITE_YAML.replace(
            "  - {id: battery_1, profile: battery, simulator: battery, params: {seed: 1}}\n", ""
        ),
        encoding="utf-8",
    )
    assert main(["devices", "serve", "--config", str(config), "--port", "0"]) == 2
    assert "no simulated pv_inverter or battery to serve" in capsys.readouterr().err
