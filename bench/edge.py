"""Footprint of one edge process: RSS and CPU of ``ems edge`` (DESIGN section 11).

Starts, on 127.0.0.1 only, one ``ems cloud`` with its own data directory
(embedded stores; an edge key made with ``ems auth``) and one ``ems edge``
process running the demo site (four simulators, manual override controller,
1 s cycle) connected to it: the real case, with its telemetry buffer, link
and ``/metrics`` on. ``--standalone`` runs ``ems edge --standalone`` instead
(no cloud). After ``--warmup`` seconds it samples the edge process (only
it) from ``/proc`` for ``--duration`` seconds (default 60):

- ``rss_mb``: the largest resident set seen [MiB], ``rss_mb_end`` the last;
- ``cpu_pct``: the edge's user + system CPU time over the wall time of the
  window, in % of one core;
- ``machine_busy_pct``: CPU the whole machine spent over the window, in % of
  one core (other jobs on the machine; the edge's figure barely depends on
  it, the context helps to read it);
- ``frames_acked``: telemetry frames the cloud acked during the window (from
  the edge's own ``/metrics``; a connected edge only).

Prints one JSON object with the figures, the budget and ``ok``.

``--soc-estimator`` runs the battery as the cell-level ``battery_ecm`` with an
``estimator: {type: ekf}`` (issue 20), to see what the EKF adds;
``--soc-estimator learned`` with ``{type: learned}`` (the EKF, the minute
recorder and, once a model exists, a GRU inference a minute; training runs in
a child process and is not measured here).

    .venv/bin/python bench/edge.py [--duration 60] [--warmup 5] [--standalone] [--soc-estimator]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

import httpx
import yaml

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from ems.edge.config import demo_config_path
from support.processes import EmsProcess
from support.site import ems_cli, free_port

BUDGET = {"rss_mb": 80.0, "cpu_pct": 3.0}
EDGE_ID = "site-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` itself (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> float:
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * PAGE_BYTES / 2**20


def machine_busy_s() -> float:
    """CPU seconds every core spent not idle so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def frames_acked(port: int | None) -> float | None:
    if port is None:
        return None
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(r"^ems_edge_telemetry_frames_acked_total (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def edge_config(path: Path, metrics: bool, soc_estimator: str | None = None) -> Path:
    document = yaml.safe_load(demo_config_path().read_text("utf-8"))
    if soc_estimator:
        # The cell-level battery and its EKF (issue 20): what the estimator adds.
        for device in document["devices"]:
            if device["id"] == "battery_1":
                device["simulator"] = "battery_ecm"
                device["estimator"] = {"type": soc_estimator}
    if metrics:
        document["metrics"] = {"enabled": True, "host": "127.0.0.1", "port": 0}
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def start_edge(
    root: Path, standalone: bool, soc_estimator: str | None = None
) -> tuple[EmsProcess | None, EmsProcess, int | None]:
    """(cloud, edge, edge metrics port) running and connected."""
    config = edge_config(root / "site.yaml", metrics=not standalone, soc_estimator=soc_estimator)
    if standalone:
        edge = EmsProcess(["edge", "--standalone", "--no-table", "--config", str(config)])
        return None, edge, None
    data = root / "cloud"
    key = ems_cli("auth", "create-edge-key", EDGE_ID, data=data).strip()
    (root / "edge.key").write_text(key + "\n")
    port = free_port()
    cloud = EmsProcess(["cloud", "--port", str(port), "--data-dir", str(data)])
    cloud.wait_for("Uvicorn running", 60)
    edge = EmsProcess(
        [
            "edge",
            "--config",
            str(config),
            "--cloud",
            f"http://127.0.0.1:{port}",
            "--api-key-file",
            str(root / "edge.key"),
            "--data-dir",
            str(root / "edge-data"),
            "--no-table",
        ]
    )
    line = edge.wait_for("edge metrics on http://", 60)
    match = re.search(r":(\d+)/metrics", line)
    cloud.wait_for(f"edge {EDGE_ID} inventory", 60)
    return cloud, edge, int(match.group(1)) if match else None


def measure(pid: int, duration_s: float, metrics_port: int | None) -> dict[str, object]:
    samples: list[float] = []
    acked_start = frames_acked(metrics_port)
    wall0, cpu0, busy0 = time.monotonic(), cpu_s(pid), machine_busy_s()
    deadline = wall0 + duration_s
    while (now := time.monotonic()) < deadline:
        samples.append(rss_mb(pid))
        time.sleep(min(1.0, deadline - now))  # the sampling period of a benchmark, not a sync
    wall_s = time.monotonic() - wall0
    cpu_used_s = cpu_s(pid) - cpu0
    busy_s = machine_busy_s() - busy0
    acked_end = frames_acked(metrics_port)
    samples.append(rss_mb(pid))
    return {
        "duration_s": round(wall_s, 1),
        "rss_mb": round(max(samples), 1),
        "rss_mb_end": round(samples[-1], 1),
        "cpu_pct": round(100.0 * cpu_used_s / wall_s, 2),
        "machine_busy_pct": round(100.0 * busy_s / wall_s, 1),
        "frames_acked": None
        if acked_start is None or acked_end is None
        else int(acked_end - acked_start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured window [s]")
    parser.add_argument("--warmup", type=float, default=5.0, help="not measured [s]")
    parser.add_argument("--standalone", action="store_true", help="no cloud, no link")
    parser.add_argument(
        "--soc-estimator",
        nargs="?",
        const="ekf",
        choices=("ekf", "learned"),
        help="battery_1 as the cell-level battery_ecm with this estimator (default ekf)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ems-bench-edge-") as tmp:
        cloud, edge, port = start_edge(Path(tmp), args.standalone, args.soc_estimator)
        try:
            time.sleep(args.warmup)  # start-up (imports, first profile fetch) is not steady state
            if edge.proc.poll() is not None:
                raise SystemExit(f"the edge stopped:\n{edge.output}")
            figures = measure(edge.proc.pid, args.duration, port)
        finally:
            edge.stop()
            if cloud is not None:
                cloud.stop()
    result: dict[str, object] = {
        "mode": "standalone" if args.standalone else "connected",
        "soc_estimator": args.soc_estimator,
        "cycle_s": 1.0,
        **figures,
        "budget": BUDGET,
    }
    result["ok"] = (
        float(figures["rss_mb"]) <= BUDGET["rss_mb"]  # type: ignore[arg-type]
        and float(figures["cpu_pct"]) <= BUDGET["cpu_pct"]  # type: ignore[arg-type]
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
