"""``ems edge --standalone --for --out`` records the live site in the CSV shape of ``ems simulate``.

Real subprocesses on the wall clock with a 0.2 s cycle; the test waits on the
process (with a timeout) or on its log lines, never sleeps.
"""

from __future__ import annotations

import csv
import io
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ems.clock import VirtualClock
from ems.edge.config import demo_config_path, load_edge_config
from ems.edge.simulate import simulate


def wait_for_line(lines: queue.Queue[str], needle: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    seen = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} not seen within {timeout_s} s; got:\n{''.join(seen)}")


EDGE = (sys.executable, "-m", "ems.cli", "edge")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The demo site at a 0.2 s cycle, with a virtual meter."""
    doc: dict[str, Any] = yaml.safe_load(demo_config_path().read_text())
    doc["cycle"]["period_s"] = 0.2
    doc["virtual_meters"] = [
        {"id": "net_load", "unit": "W", "sum": ["load/ActivePower"], "minus": ["pv_1/ActivePower"]}
    ]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def ems_edge(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EDGE, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def simulate_header(config_path: Path) -> list[str]:
    out = io.StringIO()
    simulate(load_edge_config(config_path), VirtualClock().time(), 1 / 3600, out)
    return next(csv.reader(io.StringIO(out.getvalue())))


def cycles_run(stdout: str) -> int:
    m = re.search(r"stopped after (\d+) cycles", stdout)
    assert m is not None, stdout
    return int(m[1])


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        lines = list(csv.reader(f))
    return lines[0], lines[1:]


def test_a_timed_run_stops_by_itself_with_one_row_per_cycle(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "live.csv"
    proc = ems_edge(
        "--standalone", "--no-table", "--config", str(site), "--for", "2", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    header, rows = read_csv(out)
    assert header == simulate_header(site), "the columns of ems simulate, in its order"
    assert "net_load/Value" in header
    assert len(rows) == cycles_run(proc.stdout) >= 3  # 2 s at 0.2 s: about 10
    times = [datetime.fromisoformat(r[0].replace("Z", "+00:00")) for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times)
    col = {name: i for i, name in enumerate(header)}
    for row in rows:
        assert len(row) == len(header)
        load, pv, net = (
            row[col[c]] for c in ("load/ActivePower", "pv_1/ActivePower", "net_load/Value")
        )
        assert float(net) == pytest.approx(float(load) - float(pv), abs=1e-6)
    assert "wrote" in proc.stderr and str(out) in proc.stderr


def test_out_without_for_records_until_interrupted(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "until-stopped.csv"
    proc = subprocess.Popen(
        [
            *EDGE,
            "--standalone",
            "--no-table",
            "--config",
            str(site),
            "--out",
            str(out),
            "--command",
            "00:00:01,battery_1,set_active_power,-2000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stderr is not None
        stream = proc.stderr
        threading.Thread(target=lambda: [lines.put(x) for x in stream], daemon=True).start()
        # A second into the run: several cycles have been recorded by then.
        wait_for_line(lines, "command cli-1 controller.executed", 60)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    header, rows = read_csv(out)
    assert header == simulate_header(site)
    assert len(rows) == cycles_run(stdout) >= 3
    setpoint = header.index("battery_1/SetActivePower")
    assert float(rows[-1][setpoint]) == -2000, "the live site, command included"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "2"], "--for and --out record a standalone run: add --standalone"),
        (["--out", "x.csv"], "add --standalone"),
        (["--standalone", "--no-table", "--for", "0"], "--for 0.0: must be a positive number"),
        (
            ["--standalone", "--no-table", "--for", "1", "--out", "/nonexistent/dir/x.csv"],
            "--out /nonexistent/dir/x.csv: cannot write",
        ),
    ],
)
def test_bad_for_or_out_is_refused_with_the_flag_named(args: list[str], message: str) -> None:
    proc = ems_edge(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
