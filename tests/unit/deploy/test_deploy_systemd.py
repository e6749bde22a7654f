"""deploy/systemd units: ``systemd-analyze verify`` where the tool exists, and the
options a site operator relies on (restart, watchdog, hardening), read from the files."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ems.cli import build_parser

UNITS = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
INSTALLED_EMS = "/opt/ems/venv/bin/ems"
HARDENING = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "ReadWritePaths": "/var/lib/ems",
    "User": "ems",
}


def _service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string((UNITS / name).read_text())
    return parser["Service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("name", ["ems-edge.service", "ems-cloud.service"])
def test_systemd_analyze_verify_is_clean(name: str, tmp_path: Path) -> None:
    # verify needs ExecStart's program to exist: point it at this environment's ems.
    ems = Path(sys.executable).parent / "ems"
    assert ems.is_file()
    unit = tmp_path / name
    unit.write_text((UNITS / name).read_text().replace(INSTALLED_EMS, str(ems)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # Unknown keys and bad values are only warnings (exit 0): none is allowed.
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("name", ["ems-edge.service", "ems-cloud.service"])
def test_hardening(name: str) -> None:
    service = _service(name)
    for key, value in HARDENING.items():
        assert service[key] == value, key
    assert service["StateDirectory"] == "ems"
    assert service["UMask"] == "0077"


@pytest.mark.parametrize(
    ("name", "subcommand"), [("ems-edge.service", "edge"), ("ems-cloud.service", "cloud")]
)
def test_exec_start_parses_with_the_real_parser(name: str, subcommand: str) -> None:
    program, *argv = shlex.split(_service(name)["ExecStart"])
    assert program == INSTALLED_EMS
    args = build_parser().parse_args(argv)
    # Not args.command: `ems edge --command` shares that name.
    assert args.func.__name__ == f"_cmd_{subcommand}"
    assert args.log_json
    assert str(args.data_dir) == "/var/lib/ems"


def test_edge_restarts_always_and_has_a_watchdog_it_feeds() -> None:
    service = _service("ems-edge.service")
    assert service["Restart"] == "always"
    # WatchdogSec only with Type=notify: the edge pings it (ems.edge.sdnotify).
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["WatchdogSec"].endswith("s")
    argv = shlex.split(service["ExecStart"])[1:]
    args = build_parser().parse_args(argv)
    assert args.no_table  # no live table on a service's journal
    assert not args.standalone
    # The key reaches the service as a systemd credential (the file stays root's, 0600).
    assert service["LoadCredential"] == "edge.key:/etc/ems/edge.key"
    assert str(args.api_key_file) == "%d/edge.key"


def test_cloud_has_no_watchdog_it_would_not_feed() -> None:
    service = _service("ems-cloud.service")
    assert "WatchdogSec" not in service
    assert service["Type"] == "exec"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/ems/cloud.env"
