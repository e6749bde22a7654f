"""``ems devices scan`` against a pymodbus server: JSON out, reason codes on failure."""

from __future__ import annotations

import json
import socket

import pytest
from sunspec_server import COMMON, CONTROLS_123, INVERTER_103, NAMEPLATE_120, ServeFn, sunspec_map

from ems.cli import main


def test_scan_prints_the_models_and_the_common_identity(
    serve: ServeFn, capsys: pytest.CaptureFixture[str]
) -> None:
    models = [(1, COMMON), (103, INVERTER_103), (120, NAMEPLATE_120), (123, CONTROLS_123)]
    server = serve({0: sunspec_map(models)})
    code = main(["devices", "scan", "--host", "127.0.0.1", "--port", str(server.port)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "base": 0,
        "manufacturer": "Acme Solar",
        "model": "SP-5000",
        "serial": "A123456",
        "version": "1.2.3",
        "profile": "pv_inverter",
        "models": [
            {"id": 1, "name": "common", "address": 2, "length": 66},
            {"id": 103, "name": "inverter_three_phase", "address": 70, "length": 50},
            {"id": 120, "name": "nameplate", "address": 122, "length": 26},
            {"id": 123, "name": "controls", "address": 150, "length": 24},
        ],
    }


def test_scan_of_a_device_without_sunspec_prints_the_reason_and_exits_2(
    serve: ServeFn, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve({40000: [0x1234, 0x5678]})
    code = main(
        ["devices", "scan", "--host", "127.0.0.1", "--port", str(server.port), "--unit-id", "1"]
    )
    assert code == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"] == "sunspec_not_found"
    assert "sunspec_not_found" in captured.err


def test_scan_of_a_closed_port_is_connection_failed(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["devices", "scan", "--host", "127.0.0.1", "--port", str(port), "--timeout", "0.5"])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["error"] == "connection_failed"
