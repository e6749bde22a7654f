"""Telemetry ingest through one real cloud process (DESIGN section 11).

Starts everything it needs by itself, on 127.0.0.1 only: a throwaway
``redis-server`` and PostgreSQL (``tests/support``; fsync off, as for every
throwaway server here), one ``ems cloud`` with ``EMS_REDIS_URL`` and
``EMS_DATABASE_URL``, one API key per edge made through the auth service
(``ems.authsvc.create_edge_key``, in a child process), and ``--edges``
simulated edges in ``--load-procs`` child processes speaking the real
``/ws/edge`` protocol: auth with the key, an inventory, then one telemetry
frame a second with ``--channels`` values (the edges' phases spread evenly over
the second, as independent sites would be). An edge honours ``telemetry_ack``
as the real one does with its buffer: it keeps every unacked frame and, with
``--max-unacked`` of them outstanding, holds further frames back (counted as
``held_back_frames``; a cloud that keeps up never makes it).

Phases: connect every edge, ``--warmup`` seconds not counted, then
``--duration`` seconds measured:

- ``values_per_s``: rows in the database whose sample time lies in the measured
  window, counted ``LAG_GRACE_S`` (the 2 s lag budget) after the window ends,
  per second of window: what was *stored in time*, not what was offered;
- ``lag_p50_ms`` / ``lag_p99_ms``: frame ``ts`` to its ``telemetry_ack`` at the
  edge, for frames of the window (same machine, same clock);
- ``copy_baseline_values_per_s``: afterwards, with the edges gone, the same
  number of rows (same channels, other edge ids) written by a raw binary
  ``COPY`` straight into the same ``telemetry`` table in 50,000-row
  transactions: what this PostgreSQL on this machine can take;
- ``cloud_rss_mb`` with every edge connected, ``rss_per_edge_kb``: that minus
  the RSS before the first edge connected, per edge;
- ``cpu_percent`` per process over the window (100 = one core), ``other`` the
  rest of the machine (other jobs make the figures worse than the system's own);
  ``cloud_cpu_us_per_value``: the cloud's CPU time per value stored in the
  window, which depends little on what else the machine runs;
- ``shed_frames`` / ``read_pauses``: frames the cloud read and did not store
  for want of room, and times it stopped reading a socket (back-pressure),
  from its ``/metrics`` (every worker's with ``--workers``).

Prints one JSON object with the figures, ``budget`` and ``pass`` per budget,
and ``ok``. Exit status 0 when it ran, 1 when it could not.

    .venv/bin/python bench/telemetry.py [--edges 2000] [--channels 50] [--duration 30]
        [--warmup 10] [--load-procs N] [--max-unacked 30] [--cloud-log-level WARNING]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from _services import Services, cpu_s, machine_busy_s, percentile, rss_kb  # bench/
from support.postgres import start_postgres
from support.processes import free_port
from support.redis import start_redis

BUDGET_VALUES_PER_S = 100_000.0  # 2,000 edges x 50 channels at 1 Hz
BUDGET_LAG_P99_MS = 2000.0
BUDGET_COPY_RATIO = 0.5
BUDGET_RSS_PER_EDGE_KB = 50.0
FULL_EDGES = 2000  # the budget's size; smaller runs judge the rate pro rata

LAG_GRACE_S = 2.0  # rows must be stored within the lag budget to count
COPY_CHUNK_ROWS = 50_000
COPY_MAX_ROWS = 1_000_000  # the baseline's rate is clear long before this
CONNECT_CONCURRENCY = 20  # 100 at once ran the cloud's Redis pool dry (README)
CHILD_TIMEOUT_S = 300.0
SLOT_S = 0.01  # the load generator wakes every 10 ms and sends the frames due

# Real device ids (the inventory names real profiles) and channel names; a site
# with more channels gets numbered ones on the meters.
DEVICES = [
    ("battery_1", "battery"),
    ("pv_1", "pv_inverter"),
    ("grid", "grid_meter"),
    ("load", "load_meter"),
]
NAMED_CHANNELS = [
    "battery_1/Soc",
    "battery_1/ActivePower",
    "battery_1/MaxChargePower",
    "battery_1/MaxDischargePower",
    "battery_1/SetActivePower",
    "battery_1/Temperature",
    "pv_1/ActivePower",
    "pv_1/ReactivePower",
    "pv_1/Voltage",
    "grid/ActivePower",
    "grid/ReactivePower",
    "grid/Frequency",
    "grid/Voltage",
    "load/ActivePower",
    "load/Energy",
]


def channel_names(count: int) -> list[str]:
    names = NAMED_CHANNELS[:count]
    meters = ("grid", "load", "pv_1", "battery_1")
    k = 0
    while len(names) < count:
        names.append(f"{meters[k % 4]}/Extra{k // 4 + 1}")
        k += 1
    return names


def now_iso(at: float | None = None) -> str:
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def rounded(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


# -- the simulated edges (child process: --role load) ---------------------------------
@dataclass
class SimEdge:
    edge_id: str
    key: str
    phase_s: float
    ws: ClientConnection | None = None
    seq: int = 0
    unacked: dict[int, float] = field(default_factory=dict)  # seq -> frame ts [epoch s]


@dataclass
class LoadStats:
    sent: int = 0
    acked: int = 0
    held_back: int = 0
    errors: int = 0
    closed: int = 0
    lags_ms: list[float] = field(default_factory=list)


class Load:
    """Many edges on one event loop: one ticker sends every frame that is due."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.url: str = config["url"]
        self.channels = channel_names(int(config["channels"]))
        self.max_unacked = int(config["max_unacked"])
        offset, total = int(config["offset"]), int(config["total"])
        self.edges = [
            SimEdge(edge_id, key, ((offset + i) / total) % 1.0)
            for i, (edge_id, key) in enumerate(config["edges"])
        ]
        self.stats = LoadStats()
        self.window: tuple[float, float] | None = None  # frame ts range whose lag counts

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        inventory = json.dumps(
            {"type": "inventory", "devices": [{"id": d, "profile": p} for d, p in DEVICES]}
        )

        async def one(edge: SimEdge) -> None:
            async with gate:
                # No client pings: a cloud busy with thousands of sockets answers late,
                # and the measurement is about telemetry, not about keepalives.
                ws = await connect(
                    self.url, compression=None, max_size=2**22, open_timeout=60, ping_interval=None
                )
                auth = {"type": "auth", "edge_id": edge.edge_id, "api_key": edge.key}
                await ws.send(json.dumps({**auth, "edge_time": now_iso()}))
                hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if hello.get("type") != "auth_ok":
                    raise RuntimeError(f"edge {edge.edge_id} not authenticated: {hello}")
                await ws.send(inventory)
                edge.ws = ws

        await asyncio.gather(*(one(e) for e in self.edges))

    def _channels_json(self, ts: str, tick: int) -> str:
        """The channels object of one slot's frames: one text shared by its edges."""
        parts = [
            f'"{name}":{{"v":{1000.0 + (tick + k) % 97 * 10.5},"t":"{ts}"}}'
            for k, name in enumerate(self.channels)
        ]
        return "{" + ",".join(parts) + "}"

    async def run(self) -> None:
        readers = [asyncio.create_task(self._read(e)) for e in self.edges]
        try:
            await self._tick()
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def _tick(self) -> None:
        """Every ``SLOT_S``, send the frames of the edges whose phase falls in that slot."""
        per_second = round(1 / SLOT_S)
        slots: list[list[SimEdge]] = [[] for _ in range(per_second)]
        for edge in self.edges:
            slots[min(per_second - 1, int(edge.phase_s / SLOT_S))].append(edge)
        start = math.floor(time.time()) + 1.0  # whole seconds: phases mean the same in all
        n = 0
        while True:
            # Absolute deadlines: a late wake-up sends what is due, then catches up.
            delay = start + n * SLOT_S - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            due = slots[n % per_second]
            if due:
                at = time.time()
                ts = now_iso(at)
                channels = self._channels_json(ts, n // per_second)
                for edge in due:
                    await self._send(edge, at, ts, channels)
            n += 1

    async def _send(self, edge: SimEdge, at: float, ts: str, channels: str) -> None:
        if edge.ws is None:
            return
        if len(edge.unacked) >= self.max_unacked:
            self.stats.held_back += 1  # the real edge keeps it in its buffer for later
            return
        edge.seq += 1
        edge.unacked[edge.seq] = at
        text = f'{{"type":"telemetry","seq":{edge.seq},"ts":"{ts}","channels":{channels}}}'
        try:
            await edge.ws.send(text)
        except ConnectionClosed:
            self.stats.closed += 1
            edge.ws = None
            return
        self.stats.sent += 1

    async def _read(self, edge: SimEdge) -> None:
        assert edge.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in edge.ws:
                received = time.time()
                frame = json.loads(raw)
                if frame.get("type") == "telemetry_ack":
                    sent = edge.unacked.pop(frame["seq"], None)
                    if sent is None:
                        continue
                    self.stats.acked += 1
                    window = self.window
                    if window is not None and window[0] <= sent < window[1]:
                        self.stats.lags_ms.append(round((received - sent) * 1000.0, 2))
                elif frame.get("type") == "error":
                    self.stats.errors += 1

    async def close(self) -> None:
        """Close every socket at once, waiting at most a few seconds for the cloud."""

        async def one(ws: ClientConnection) -> None:
            with contextlib.suppress(Exception):
                await ws.close()

        sockets = [e.ws for e in self.edges if e.ws is not None]
        closing = [asyncio.create_task(one(ws)) for ws in sockets]
        if closing:
            _, late = await asyncio.wait(closing, timeout=5)
            for task in late:  # a drowning cloud: drop the connection instead
                task.cancel()


async def run_load(config: dict[str, Any]) -> None:
    """The load process: connect, say ready, start on ``go``, obey ``window T0 T1`` and
    ``stop``. Edges send nothing until every load process has connected all of its own:
    a cloud busy ingesting answers new sockets late."""
    load = Load(config)
    await load.connect_all()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    runner = asyncio.create_task(load.run())
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "stop":
                break
            if line[0] == "window":
                load.window = (float(line[1]), float(line[2]))
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        unacked = sum(len(e.unacked) for e in load.edges)
        report(load.stats, unacked)  # before closing: a cloud far behind closes slowly
        await load.close()


def report(s: LoadStats, unacked: int) -> None:
    print(
        json.dumps(
            {
                "sent": s.sent,
                "acked": s.acked,
                "held_back": s.held_back,
                "errors": s.errors,
                "closed": s.closed,
                "unacked": unacked,
                "lags_ms": s.lags_ms,
            }
        ),
        flush=True,
    )


# -- edge keys through the auth service (child process: --role keys) ------------------
def make_keys(data_dir: Path, edge_ids: list[str]) -> dict[str, str]:
    import ems.authsvc as authsvc

    authsvc.configure(data_dir)
    from django.db import transaction

    with transaction.atomic():
        return {edge_id: authsvc.create_edge_key(edge_id, "bench") for edge_id in edge_ids}


# -- the orchestration ---------------------------------------------------------------
class Child:
    """This script in another role, spoken to over stdin/stdout."""

    def __init__(self, role: str, config: dict[str, Any] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--role", role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if config is not None:
            self.say(json.dumps(config))

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, word: str, timeout_s: float = CHILD_TIMEOUT_S) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"child exited ({self.proc.wait()}) before {word!r}")
            if line.startswith(word):
                return line
        raise RuntimeError(f"no {word!r} from child within {timeout_s} s")

    def finish(self) -> dict[str, Any]:
        """Say stop; returns the JSON summary of its last line."""
        with contextlib.suppress(BrokenPipeError, OSError):
            self.say("stop")
        out, _ = self.proc.communicate(timeout=CHILD_TIMEOUT_S)
        last = out.strip().splitlines()[-1] if out.strip() else "{}"
        summary: dict[str, Any] = json.loads(last)
        return summary

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_services(
    services: Services, edge_ids: list[str], args: argparse.Namespace
) -> dict[str, str]:
    services.redis = start_redis()
    services.postgres = start_postgres()
    data = services.root / "cloud"
    data.mkdir()
    keys_child = subprocess.run(
        [sys.executable, __file__, "--role", "keys", "--data-dir", str(data)],
        input=json.dumps(edge_ids),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if keys_child.returncode != 0:
        raise RuntimeError(f"making edge keys failed: {keys_child.stderr[-2000:]}")
    keys: dict[str, str] = json.loads(keys_child.stdout.strip().splitlines()[-1])
    services.port = free_port()
    env = {
        **os.environ,
        "EMS_REDIS_URL": services.redis.url,
        "EMS_DATABASE_URL": services.postgres.dsn,
    }
    argv = [sys.executable, "-m", "ems.cli", "--log-level", args.cloud_log_level, "cloud"]
    argv += ["--port", str(services.port), "--data-dir", str(data), "--workers", str(args.workers)]
    services.start_cloud(argv, env)
    return keys


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds``, collapsed stacks into ``out``."""
    argv = [shutil.which("py-spy") or "py-spy", "record", "--pid", str(pid), "--nonblocking"]
    argv += ["--duration", str(int(seconds)), "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def scrape(base: str) -> dict[str, float]:
    """The cloud's own figures from ``/metrics`` (unlabelled samples, by name); with
    ``--workers`` every worker's, summed (each sample then carries a ``worker`` label)."""
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://{base}/metrics", timeout=60)).text
    except httpx.HTTPError:  # a cloud too busy to answer: its figures are missing
        return {}
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "worker"}
            if not labels or (set(labels) == {"le"} and labels["le"] == "+Inf"):
                figures[sample.name] = figures.get(sample.name, 0.0) + float(sample.value)
    return figures


async def count_rows(dsn: str, start_s: float, end_s: float) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM telemetry WHERE time >= $1 AND time < $2 AND edge_id LIKE 'tb-%'",
            datetime.fromtimestamp(start_s, UTC),
            datetime.fromtimestamp(end_s, UTC),
        )
        return count
    finally:
        await conn.close()


async def copy_baseline(dsn: str, rows: int, channels: list[str], start_s: float) -> float:
    """Values/s of a raw binary COPY of ``rows`` such rows into ``telemetry``."""
    rows = max(COPY_CHUNK_ROWS, min(rows, COPY_MAX_ROWS))
    conn = await asyncpg.connect(dsn)
    spent = 0.0
    written = 0
    try:
        per_second = 2000 * len(channels)  # the full-size site count, one frame a second
        t0 = datetime.fromtimestamp(math.floor(start_s), UTC)
        k = 0
        while written < rows:
            chunk: list[tuple[datetime, str, str, float, None]] = []
            while len(chunk) < COPY_CHUNK_ROWS:
                second, rest = divmod(k, per_second)
                edge, channel = divmod(rest, len(channels))
                at = t0 + timedelta(seconds=second, microseconds=edge * 37)
                chunk.append((at, f"copy-{edge}", channels[channel], 1000.0 + k % 97, None))
                k += 1
            started = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "telemetry",
                    records=chunk,
                    columns=("time", "edge_id", "channel", "value", "text_value"),
                )
            spent += time.perf_counter() - started
            written += len(chunk)
    finally:
        await conn.close()
    return written / spent


def judge(result: dict[str, Any]) -> dict[str, Any]:
    edges = result["edges"]
    wanted_rate = BUDGET_VALUES_PER_S * min(1.0, edges / FULL_EDGES) * result["channels"] / 50
    budget = {
        "values_per_s": round(wanted_rate, 1),
        "lag_p99_ms": BUDGET_LAG_P99_MS,
        "copy_ratio": BUDGET_COPY_RATIO,
        "rss_per_edge_kb": BUDGET_RSS_PER_EDGE_KB,
    }
    ratio = result.get("copy_ratio")
    lag = result.get("lag_p99_ms")
    per_edge = result.get("rss_per_edge_kb")
    verdict = {
        # Stored in time at least 99 % of what the edges offered at that size.
        "values_per_s": result["values_per_s"] >= 0.99 * wanted_rate,
        "lag_p99_ms": lag is not None and lag <= BUDGET_LAG_P99_MS,
        "copy_ratio": ratio is not None and ratio >= BUDGET_COPY_RATIO,
        "rss_per_edge_kb": per_edge is not None and per_edge <= BUDGET_RSS_PER_EDGE_KB,
    }
    result["budget"] = budget
    result["pass"] = verdict
    result["ok"] = all(verdict.values()) and edges >= FULL_EDGES
    return result


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    edge_ids = [f"tb-{i + 1}" for i in range(args.edges)]
    services = Services(Path(tempfile.mkdtemp(prefix="ems-bench-telemetry-")))
    loads: list[Child] = []
    try:
        try:
            keys = await asyncio.to_thread(start_services, services, edge_ids, args)
        except Exception:
            print(services.log_tail(), file=sys.stderr)
            raise
        assert services.cloud is not None
        assert services.postgres is not None
        cloud_pid = services.cloud.pid
        await asyncio.sleep(2.0)  # let start-up settle before the RSS reference
        several = args.workers > 1  # the cloud is a supervisor and its worker processes
        rss_before = rss_kb(cloud_pid, several)

        procs = args.load_procs or max(1, math.ceil(args.edges / 1000))
        shares = [edge_ids[p::procs] for p in range(procs)]
        for p, share in enumerate(shares):
            loads.append(
                Child(
                    "load",
                    {
                        "url": f"ws://{services.base}/ws/edge",
                        "edges": [[e, keys[e]] for e in share],
                        "channels": args.channels,
                        "max_unacked": args.max_unacked,
                        # interleaved shares: phases spread evenly over all edges
                        "offset": p,
                        "total": procs * max(len(s) for s in shares),
                    },
                )
            )
        connect_started = time.perf_counter()
        for load in loads:
            await asyncio.to_thread(load.expect, "ready")
        connect_s = time.perf_counter() - connect_started
        rss_connected = rss_kb(cloud_pid, several)  # every edge connected, none sending yet
        for load in loads:
            load.say("go")

        await asyncio.sleep(args.warmup)
        t0 = math.floor(time.time()) + 1.0
        t1 = t0 + args.duration
        for load in loads:
            load.say(f"window {t0} {t1}")
        pids = {"redis": services.redis.pid if services.redis else None}
        await asyncio.sleep(max(0.0, t0 - time.time()))
        c0 = {name: cpu_s(pid) for name, pid in pids.items()}
        c0["cloud"] = cpu_s(cloud_pid, children=several)
        c0["postgres"] = cpu_s(services.postgres_pid(), children=True)
        c0["load"] = sum(cpu_s(load.proc.pid) for load in loads)
        busy0, wall0 = machine_busy_s(), time.perf_counter()
        m0 = await scrape(services.base)  # with workers: every worker's (summed)
        spy = None
        if args.profile_cloud is not None:
            spy = start_profiler(cloud_pid, args.duration, args.profile_cloud)
        await asyncio.sleep(max(0.0, t1 - time.time()))
        c1 = {name: cpu_s(pid) for name, pid in pids.items()}
        c1["cloud"] = cpu_s(cloud_pid, children=several)
        c1["postgres"] = cpu_s(services.postgres_pid(), children=True)
        c1["load"] = sum(cpu_s(load.proc.pid) for load in loads)
        busy1, wall1 = machine_busy_s(), time.perf_counter()
        m1 = await scrape(services.base)
        rss_with = rss_kb(cloud_pid, several)
        if spy is not None:
            await asyncio.to_thread(spy.wait, 60)
        await asyncio.sleep(LAG_GRACE_S)
        stored = await count_rows(services.postgres.dsn, t0, t1)

        summaries = [await asyncio.to_thread(load.finish) for load in loads]
        loads = []
        lags = [lag for s in summaries for lag in s.pop("lags_ms")]
        wall = max(wall1 - wall0, 1e-9)
        used = {name: c1[name] - c0[name] for name in c0}
        used["other"] = max(0.0, busy1 - busy0 - sum(used.values()))
        copy_rate = await copy_baseline(
            services.postgres.dsn, stored, channel_names(args.channels), t1 + 86_400.0
        )
        values_per_s = stored / args.duration

        def delta(name: str) -> float:
            return m1.get(name, math.nan) - m0.get(name, math.nan)

        written = delta("ems_telemetry_values_total")
        write_s = delta("ems_telemetry_write_seconds_sum")
        batches = delta("ems_telemetry_batches_total")
        # The cloud's database path at full speed: values per second of batch write time.
        path_rate = written / write_s if write_s > 0 else math.nan  # NaN > 0 is False
        loop_lag_n = delta("ems_event_loop_lag_seconds_count")
        loop_lag_s = delta("ems_event_loop_lag_seconds_sum")
        result: dict[str, Any] = {
            "edges": args.edges,
            "workers": args.workers,
            "channels": args.channels,
            "duration_s": args.duration,
            "values_per_s": round(values_per_s, 1),
            "offered_values_per_s": args.edges * args.channels,
            "lag_p50_ms": rounded(percentile(lags, 0.50)),
            "lag_p99_ms": rounded(percentile(lags, 0.99)),
            "lag_max_ms": rounded(max(lags, default=math.nan)),
            "copy_baseline_values_per_s": round(copy_rate, 1),
            "write_path_values_per_s": rounded(path_rate),
            "copy_ratio": rounded(path_rate / copy_rate, 3),
            "stored_to_copy_ratio": round(values_per_s / copy_rate, 3),
            "db_busy_fraction": rounded(write_s / args.duration, 3),
            "batch_rows_mean": rounded(written / batches if batches else math.nan),
            "event_loop_lag_mean_ms": rounded(
                1000 * loop_lag_s / loop_lag_n if loop_lag_n else math.nan, 2
            ),
            "cloud_rss_mb": round(rss_with / 1024, 1),
            "cloud_rss_before_mb": round(rss_before / 1024, 1),
            "rss_per_edge_kb": round((rss_with - rss_before) / args.edges, 1),
            # Connected but idle: the part of it that is per socket, not per frame in flight.
            "rss_per_idle_edge_kb": round((rss_connected - rss_before) / args.edges, 1),
            "cpu_percent": {name: round(100.0 * s / wall, 1) for name, s in used.items()},
            # Load-independent: the cloud's CPU time per value it stored in the window.
            "cloud_cpu_us_per_value": rounded(
                1e6 * used["cloud"] / stored if stored else math.nan, 2
            ),
            "shed_frames": rounded(delta("ems_telemetry_shed_frames_total"), 0),
            "read_pauses": rounded(delta("ems_telemetry_read_pauses_total"), 0),
            "connect_s": round(connect_s, 1),
            "load_procs": procs,
            "edge_side": {
                k: sum(int(s.get(k, 0)) for s in summaries)
                for k in ("sent", "acked", "held_back", "unacked", "errors", "closed")
            },
        }
        return judge(result)
    except Exception:
        print(services.log_tail(), file=sys.stderr)  # why the cloud refused, if it did
        raise
    finally:
        for load in loads:
            load.kill()
        await asyncio.to_thread(services.stop)


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--edges", type=int, default=FULL_EDGES, help="simulated edges (2000)")
    parser.add_argument("--channels", type=int, default=50, help="values per frame (50)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds (30)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds not counted (10)")
    parser.add_argument("--load-procs", type=int, default=0, help="load processes (1 per 1000)")
    parser.add_argument("--max-unacked", type=int, default=30, help="frames per edge (30)")
    parser.add_argument("--workers", type=int, default=1, help="ems cloud --workers (1)")
    parser.add_argument("--cloud-log-level", default="WARNING", help="ems --log-level (WARNING)")
    parser.add_argument(
        "--profile-cloud",
        type=Path,
        metavar="FILE",
        help="py-spy (on PATH) samples the cloud over the window: collapsed stacks to FILE",
    )
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.role != "main":
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its children
    if args.role == "load":
        import uvloop

        uvloop.run(run_load(json.loads(sys.stdin.readline())))
        return 0
    if args.role == "keys":
        print(json.dumps(make_keys(args.data_dir, json.loads(sys.stdin.read()))), flush=True)
        return 0

    checks = {
        "--edges": 1 <= args.edges <= 20_000,
        "--channels": 1 <= args.channels <= 1000,
        "--duration": 1 <= args.duration <= 3600,
        "--warmup": 0 <= args.warmup <= 600,
        "--load-procs": 0 <= args.load_procs <= 16,
        "--max-unacked": 1 <= args.max_unacked <= 10_000,
        "--workers": 1 <= args.workers <= 16,
    }
    for name, valid in checks.items():
        if not valid:
            parser.error(f"{name} out of range")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        result = asyncio.run(drive(args))
    except Exception as exc:
        traceback.print_exc()
        print(f"bench/telemetry.py could not run: {exc!r}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
