"""What the cloud benchmarks share: the services they start, and process figures from /proc.

``bench/commands.py`` and ``bench/telemetry.py`` each start a throwaway
``redis-server`` and PostgreSQL and one ``ems cloud`` on them, then measure
CPU seconds and resident memory of those processes (Linux ``/proc``).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from support.postgres import RunningPostgres
from support.redis import RunningRedis

__all__ = [
    "CLOUD_START_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "Services",
    "cpu_s",
    "machine_busy_s",
    "percentile",
    "rss_kb",
]

CLOUD_START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by rank; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process itself) from /proc, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # after the command name: state ppid ... utime (11) stime (12)
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (PostgreSQL's backends, cloud workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


def cpu_s(root: int | None, children: bool = False) -> float:
    """CPU seconds used so far by ``root`` (with ``children``: and its descendants)."""
    if root is None:
        return 0.0
    pids = _descendants(root) if children else [root]
    return sum(stat[1] for pid in pids if (stat := _proc_stat(pid)) is not None)


def rss_kb(pid: int, children: bool = False) -> int:
    """Resident memory of ``pid`` [KiB] (with ``children``: and its descendants')."""
    total = 0
    for one in _descendants(pid) if children else [pid]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle so far (/proc/stat)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / _CLK_TCK


@dataclass
class Services:
    """Redis, PostgreSQL and one ``ems cloud`` of a benchmark run, all under ``root``."""

    root: Path
    redis: RunningRedis | None = None
    postgres: RunningPostgres | None = None
    cloud: subprocess.Popen[bytes] | None = None
    cloud_log: Path | None = None
    port: int = 0

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def postgres_pid(self) -> int | None:
        if self.postgres is None:
            return None
        try:
            return int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start_cloud(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        """Run ``argv`` (an ``ems cloud``) with its output in ``cloud.log``; returns once
        it answers ``/healthz``."""
        self.cloud_log = self.root / "cloud.log"
        with self.cloud_log.open("wb") as log:  # the child keeps its own descriptor
            self.cloud = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + CLOUD_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.cloud.poll() is not None:
                raise RuntimeError(f"ems cloud exited ({self.cloud.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{self.base}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)  # polling a process that is starting
        raise RuntimeError(f"ems cloud did not answer /healthz within {CLOUD_START_TIMEOUT_S} s")

    def log_tail(self, lines: int = 30) -> str:
        if self.cloud_log is None:
            return ""
        with contextlib.suppress(OSError):
            return "\n".join(self.cloud_log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        try:
            if self.cloud is not None and self.cloud.poll() is None:
                self.cloud.send_signal(signal.SIGINT)
                try:
                    self.cloud.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.cloud.kill()
                    self.cloud.wait()
        finally:
            try:
                if self.postgres is not None:
                    self.postgres.stop()
            finally:
                try:
                    if self.redis is not None:
                        self.redis.stop()
                finally:
                    shutil.rmtree(self.root, ignore_errors=True)
