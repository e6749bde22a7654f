"""Command latency and throughput through one real cloud process (DESIGN section 11).

Starts everything it needs by itself, on 127.0.0.1 only: a throwaway
``redis-server`` and PostgreSQL (``tests/support``), one ``ems cloud`` with
``EMS_REDIS_URL`` and ``EMS_DATABASE_URL`` and its own data directory (the
operators and one key per edge made with ``ems auth``), and ``--edges``
simulated edges in a child process speaking the real ``/ws/edge`` protocol:
auth, an inventory with ``battery_1``, one telemetry frame a second with
generous MaxChargePower/MaxDischargePower, ``delivered`` as soon as a command
arrives and ``executed`` at the edge's next cycle tick (``--cycle-ms``; the
edges' cycles are evenly phase-shifted, as independent sites would be), or
``failed(expired)`` when that tick is past the command's deadline less 250 ms.

A dashboard (``--ui-sockets`` sockets of each of ``--users`` operators, on
``/ws/ui``; commands go round robin over the sockets and the edges) then runs:

1. baseline: the same frames at the same rate to a bare WebSocket echo server
   (its own process): the round trip floor of this machine and client;
2. warm-up: a few hundred commands, not counted;
3. rate: ``--rate`` commands/s for ``--seconds`` (absolute-deadline pacing: a
   late send goes out at once and does not shift the later ones; fresh uuid4
   ids, ``issued_at`` now); per command the time from send to ``received`` and
   to ``executed``;
4. saturation: as fast as possible for ``--saturation-seconds`` with at most
   ``--window`` commands awaiting their first ack; ``max_commands_per_s`` is the
   number of commands acked ``received`` and ``delivered`` (their edge had them)
   per second.

Prints one JSON object with the figures, the budgets and ``ok`` (every budget
met, and no command of the rate phase refused, failed or lost). ``errors``
counts the rate phase's problems by status and reason, ``saturation_errors``
those of the saturation phase. ``cpu_percent`` is each process's CPU time over
a phase's sending time (100 = one core); ``other`` is the rest of the machine,
and ``disturbed`` says it took more than 30 % of a core in a phase: another job
shared the cores, and the latencies are not this system's alone.
``cloud_cpu_ms_per_command`` is all the cloud's CPU time for a phase, late acks
included, per command, and ``redis_calls_per_command`` the commands Redis ran
(inside scripts too) per command: the figures to watch when tuning, as they
barely depend on what else runs. ``--profile-cloud FILE`` runs the cloud under
cProfile (everything is then slower). Exit status 0 when it ran (whatever the
budgets say), 1 when it could not run.

The per-user (10 commands/s) and per-edge (100 acks/s) rate limits are lifted
for the cloud under test (``EMS_COMMAND_RATE_PER_S`` and friends, unless set in
the environment): the limiter still runs on every command, so its cost is in
the figures, but it refuses nothing. Set them to see ``rejected:rate_limited``.

    .venv/bin/python bench/commands.py [--rate 500] [--seconds 10] [--edges 4]
        [--cycle-ms 1000] [--saturation-seconds 5] [--window 500] [--users 1]
        [--ui-sockets 1] [--cloud-log-level INFO] [--cloud-log-json] [--workers 1]
        [--profile-cloud FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from _services import STOP_TIMEOUT_S, Services, cpu_s, machine_busy_s, percentile  # bench/
from support.postgres import start_postgres
from support.processes import free_port
from support.redis import start_redis

BUDGET_RECEIVED_P50_MS = 3.0
BUDGET_RECEIVED_P99_MS = 15.0
BUDGET_EXECUTED_EXTRA_MS = 50.0  # executed p99 <= one cycle period + this
BUDGET_COMMANDS_PER_S = 2000.0
BUDGET_RATE = 500.0  # the receive budget holds at this rate
DISTURBED_PERCENT = 30.0  # other jobs using more of the cores than this: figures disturbed

DEVICE = "battery_1"
MAX_POWER_W = 100_000.0  # the simulated battery's limits: every command value fits
EXPIRY_MARGIN_S = 0.25  # an edge applies nothing later than its deadline less this
WATCHDOG_S = 5.0  # the cloud's default (EMS_WATCHDOG_S)
WARMUP_COMMANDS = 300
WARMUP_RATE = 200.0
BASELINE_MAX_S = 3.0
CHILD_READY_TIMEOUT_S = 60.0
MAX_FRAME = 4 * 1024 * 1024


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def ms(value: float) -> float | None:
    """Milliseconds rounded for the report; ``None`` (JSON null) when there is no figure."""
    return None if math.isnan(value) else round(value, 3)


# -- CPU accounting -------------------------------------------------------------------
@dataclass(frozen=True)
class CpuSample:
    at: float  # perf_counter [s]
    busy_s: float  # the machine's non-idle CPU seconds
    used_s: dict[str, float]  # per named process [CPU s]


class CpuMeter:
    """CPU time of a few named processes; a name ending in ``*`` counts the process's
    descendants too. ``other`` is what the rest of the machine used meanwhile: kernel
    work not charged to a process, and any other job on the same cores (which disturbs
    the figures)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids

    def sample(self) -> CpuSample:
        used = {
            name.rstrip("*"): cpu_s(pid, children=name.endswith("*"))
            for name, pid in self.pids.items()
        }
        return CpuSample(time.perf_counter(), machine_busy_s(), used)

    @staticmethod
    def used(a: CpuSample, b: CpuSample) -> dict[str, float]:
        """CPU seconds per process between two samples, and ``other``."""
        used = {name: b.used_s[name] - a.used_s[name] for name in a.used_s}
        used["other"] = max(0.0, b.busy_s - a.busy_s - sum(used.values()))
        return used

    @classmethod
    def percent(cls, a: CpuSample, b: CpuSample) -> dict[str, float]:
        """Percent of one core per process between two samples."""
        wall = max(b.at - a.at, 1e-9)
        return {name: round(100.0 * s / wall, 1) for name, s in cls.used(a, b).items()}


# -- the simulated edges (child process: --role edges) -------------------------------
@dataclass
class EdgeStats:
    commands: int = 0
    duplicates: int = 0
    executed: int = 0
    expired: int = 0
    late_ticks: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def _telemetry(seq: int) -> str:
    at = now_iso()
    channels = {
        f"{DEVICE}/Soc": 55.0,
        f"{DEVICE}/ActivePower": 0.0,
        f"{DEVICE}/MaxChargePower": MAX_POWER_W,
        f"{DEVICE}/MaxDischargePower": MAX_POWER_W,
        f"{DEVICE}/State": "idle",
    }
    return json.dumps(
        {
            "type": "telemetry",
            "seq": seq,
            "ts": at,
            "channels": {k: {"v": v, "t": at} for k, v in channels.items()},
        }
    )


def _edge_ack(command_id: str, status: str, at: str, reason: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "ack", "command_id": command_id, "status": status, "at": at}
    if reason is not None:
        frame["reason"] = reason
        frame["detail"] = "tick after the command's deadline"
    return json.dumps(frame)


class SimEdge:
    """One site: answers commands like an edge whose cycle runs every ``period_s``."""

    def __init__(
        self, url: str, edge_id: str, key: str, period_s: float, phase_s: float, stats: EdgeStats
    ) -> None:
        self.url = url
        self.edge_id = edge_id
        self.key = key
        self.period_s = period_s
        self.phase_s = phase_s
        self.stats = stats
        self.pending: list[tuple[str, float]] = []  # (command id, deadline [epoch s])
        self.seen: set[str] = set()

    async def connect(self) -> ClientConnection:
        ws = await connect(self.url, compression=None, max_size=MAX_FRAME)
        auth = {"type": "auth", "edge_id": self.edge_id, "api_key": self.key}
        await ws.send(json.dumps({**auth, "edge_time": now_iso()}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "auth_ok":
            raise RuntimeError(f"edge {self.edge_id} not authenticated: {hello}")
        devices = [{"id": DEVICE, "profile": "battery"}]
        await ws.send(json.dumps({"type": "inventory", "devices": devices}))
        await ws.send(_telemetry(0))
        return ws

    async def run(self, ws: ClientConnection) -> None:
        tasks = [
            asyncio.create_task(self._receive(ws)),
            asyncio.create_task(self._cycle(ws)),
            asyncio.create_task(self._report(ws)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _receive(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "command":
                    command_id = frame["command_id"]
                    if command_id in self.seen:  # at most once, even if sent again
                        self.stats.duplicates += 1
                        continue
                    self.seen.add(command_id)
                    self.stats.commands += 1
                    deadline = datetime.fromisoformat(frame["deadline"]).timestamp()
                    await ws.send(_edge_ack(command_id, "delivered", now_iso()))
                    self.pending.append((command_id, deadline))
                elif kind == "error":
                    self.stats.errors[str(frame.get("code"))] += 1

    async def _cycle(self, ws: ClientConnection) -> None:
        """Absolute-deadline ticks; each executes what was delivered before it."""
        loop = asyncio.get_running_loop()
        base = loop.time() + self.phase_s
        k = 1
        while True:
            delay = base + k * self.period_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            batch, self.pending = self.pending, []
            now, at = time.time(), now_iso()
            for command_id, deadline in batch:
                if now > deadline - EXPIRY_MARGIN_S:
                    self.stats.expired += 1
                    await ws.send(_edge_ack(command_id, "failed", at, "expired"))
                else:
                    self.stats.executed += 1
                    await ws.send(_edge_ack(command_id, "executed", at))
            # An overrun starts the next cycle at the next future deadline.
            k_next = math.floor((loop.time() - base) / self.period_s) + 1
            if k_next > k + 1:
                self.stats.late_ticks += k_next - k - 1
            k = max(k + 1, k_next)

    async def _report(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        t0, seq = loop.time(), 1
        while True:
            await asyncio.sleep(max(0.0, t0 + seq - loop.time()))
            await ws.send(_telemetry(seq))
            seq += 1


async def run_edges(config: dict[str, Any]) -> None:
    """The edges' process: connect all, say ``ready``, run until stdin says stop."""
    loop = asyncio.get_running_loop()
    period_s = float(config["cycle_ms"]) / 1000.0
    stats = EdgeStats()
    edges = [
        SimEdge(config["url"], edge_id, key, period_s, period_s * i / len(config["edges"]), stats)
        for i, (edge_id, key) in enumerate(config["edges"])
    ]
    sockets = [await edge.connect() for edge in edges]
    runners = [asyncio.create_task(e.run(ws)) for e, ws in zip(edges, sockets, strict=True)]
    print("ready", flush=True)
    try:
        await loop.run_in_executor(None, sys.stdin.readline)  # "stop", or EOF
    finally:
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
    summary = {
        "commands": stats.commands,
        "executed": stats.executed,
        "expired": stats.expired,
        "duplicates": stats.duplicates,
        "late_ticks": stats.late_ticks,
        "still_pending": sum(len(e.pending) for e in edges),
        "errors": dict(stats.errors),
    }
    print(json.dumps(summary), flush=True)


# -- the baseline echo server (child process: --role echo) ----------------------------
async def run_echo(port: int) -> None:
    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                await ws.send(message)

    async with serve(echo, "127.0.0.1", port, compression=None, max_size=MAX_FRAME):
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


# -- the dashboard ------------------------------------------------------------------
@dataclass(slots=True)
class Record:
    phase: str
    sent: float
    received: float | None = None
    delivered: float | None = None
    executed: float | None = None
    first_ack: bool = False
    queued: bool = False
    final: str | None = None
    reason: str | None = None


class Dashboard:
    """Operator sockets on /ws/ui: sends commands, times their acks."""

    def __init__(self, sockets: list[ClientConnection], edge_ids: list[str]) -> None:
        self.sockets = sockets
        self.edge_ids = edge_ids
        self.records: dict[str, Record] = {}
        self.frame_errors: Counter[str] = Counter()
        self.window: asyncio.Semaphore | None = None
        self._sent = 0
        self._readers = [asyncio.create_task(self._read(ws)) for ws in sockets]

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)

    async def send(self, phase: str) -> None:
        k = self._sent
        self._sent += 1
        command_id = str(uuid.uuid4())
        text = json.dumps(
            {
                "type": "command",
                "command_id": command_id,
                "edge_id": self.edge_ids[k % len(self.edge_ids)],
                "device": DEVICE,
                "action": "set_active_power",
                "value": float(-5000 + (k % 101) * 100),
                "issued_at": now_iso(),
            }
        )
        self.records[command_id] = Record(phase, time.perf_counter())
        await self.sockets[k % len(self.sockets)].send(text)

    def _first_ack(self, record: Record) -> None:
        if not record.first_ack:
            record.first_ack = True
            if record.phase == "saturation" and self.window is not None:
                self.window.release()

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                at = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "error":
                    self.frame_errors[f"error_frame:{frame.get('code')}"] += 1
                    continue
                if kind != "ack":
                    continue
                record = self.records.get(frame.get("command_id"))
                if record is None:
                    continue
                status = frame["status"]
                if status == "received":
                    if record.received is None:  # several sockets of a user all get it
                        record.received = at
                    self._first_ack(record)
                elif status == "delivered":
                    if record.delivered is None:
                        record.delivered = at
                elif status == "queued":
                    record.queued = True
                    self._first_ack(record)
                elif record.final is None:  # executed, rejected, failed
                    record.final, record.reason = status, frame.get("reason")
                    if status == "executed":
                        record.executed = at
                    self._first_ack(record)

    def of(self, phase: str) -> list[Record]:
        return [r for r in self.records.values() if r.phase == phase]

    async def settle(
        self, phase: str, done: Callable[[Record], bool], timeout_s: float
    ) -> list[Record]:
        """Wait (bounded) until ``done`` holds for every command of ``phase``."""
        records = self.of(phase)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            records = [r for r in records if not done(r)]
            if not records:
                break
            await asyncio.sleep(0.05)
        return self.of(phase)


async def redis_calls(services: BenchServices) -> int:
    """Commands the Redis server has run so far (``INFO stats``)."""
    assert services.redis is not None
    client = redis_async.Redis.from_url(services.redis.url)
    try:
        info = await client.info("stats")
    finally:
        await client.aclose()
    return int(info["total_commands_processed"]) - 1  # not counting this INFO


def per_command(cpu_s: float, commands: int) -> float | None:
    return round(1000.0 * cpu_s / commands, 3) if commands else None


def errors_of(records: Iterable[Record]) -> dict[str, int]:
    errors: Counter[str] = Counter()
    for r in records:
        if r.final in ("rejected", "failed"):
            errors[f"{r.final}:{r.reason}"] += 1
        elif r.final is None:
            errors["no_final_status" if r.first_ack else "no_ack"] += 1
        if r.queued:  # the edge seemed offline
            errors["queued"] += 1
        if r.final == "executed" and (r.received is None or r.delivered is None):
            errors["executed_without_received_or_delivered"] += 1
    return dict(sorted(errors.items()))


async def paced(dash: Dashboard, phase: str, rate: float, count: int) -> float:
    """Send ``count`` commands at ``rate``/s against absolute deadlines; returns the
    achieved rate (a late send goes out at once, it does not shift later ones)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.005
    for k in range(count):
        delay = t0 + k / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await dash.send(phase)
    return count / max(loop.time() - t0, 1e-9)


async def flood(dash: Dashboard, seconds: float, window: int) -> tuple[float, int]:
    """Send as fast as the window allows for ``seconds``; returns (start, stalls)."""
    dash.window = asyncio.Semaphore(window)
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    end = loop.time() + seconds
    stalls = 0
    while loop.time() < end:
        try:
            await asyncio.wait_for(dash.window.acquire(), timeout=10.0)
        except TimeoutError:
            stalls += 1  # nothing acked for 10 s: the cloud is stuck
            break
        await dash.send("saturation")
    return start, stalls


# -- the baseline ----------------------------------------------------------------------
async def echo_baseline(url: str, rate: float, seconds: float, edge_id: str) -> list[float]:
    """Round trips of command-sized frames through a bare WebSocket echo, at ``rate``."""
    sent: dict[str, float] = {}
    rtts: list[float] = []
    async with connect(url, compression=None, max_size=MAX_FRAME) as ws:

        async def read() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    at = time.perf_counter()
                    rtts.append((at - sent.pop(json.loads(raw)["command_id"])) * 1000.0)

        reader = asyncio.create_task(read())
        loop = asyncio.get_running_loop()
        count = max(1, int(rate * seconds))
        t0 = loop.time() + 0.005
        for k in range(count):
            delay = t0 + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            command_id = str(uuid.uuid4())
            text = json.dumps(
                {
                    "type": "command",
                    "command_id": command_id,
                    "edge_id": edge_id,
                    "device": DEVICE,
                    "action": "set_active_power",
                    "value": -1000.0,
                    "issued_at": now_iso(),
                }
            )
            sent[command_id] = time.perf_counter()
            await ws.send(text)
        for _ in range(100):  # up to 5 s for the last echoes
            if not sent:
                break
            await asyncio.sleep(0.05)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return rtts


# -- child processes ----------------------------------------------------------------
class Child:
    """This script in another role, told what to do on stdin and stopped by a line on stdin."""

    def __init__(self, role: str, args: list[str], config: dict[str, Any] | None = None) -> None:
        self.role = role
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--role", role, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None
        if config is not None:
            self.proc.stdin.write(json.dumps(config) + "\n")
            self.proc.stdin.flush()

    async def ready(self) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(
            asyncio.to_thread(self.proc.stdout.readline), CHILD_READY_TIMEOUT_S
        )
        if line.strip() != "ready":
            raise RuntimeError(f"{self.role} process did not start (exit {self.proc.poll()})")

    def stop(self) -> dict[str, Any]:
        """Say stop, collect its last JSON line (if any); kill it if it hangs."""
        result: dict[str, Any] = {}
        try:
            if self.proc.poll() is None and self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.write("stop\n")
                    self.proc.stdin.flush()  # communicate() closes it
            out, _ = self.proc.communicate(timeout=STOP_TIMEOUT_S)
            lines = [line for line in (out or "").splitlines() if line.startswith("{")]
            if lines:
                result = json.loads(lines[-1])
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        return result


# -- the cloud and its services -----------------------------------------------------
@dataclass
class BenchServices(Services):
    """The shared services, and the operators and edge keys made for the run."""

    password: str = ""
    users: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)


def ems_auth(*args: str, data: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", "auth", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ems auth {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout


def start_services(services: BenchServices, edge_ids: list[str], args: argparse.Namespace) -> None:
    services.redis = start_redis()
    services.postgres = start_postgres()
    data = services.root / "cloud"
    data.mkdir()
    for user in services.users:
        pw = services.password
        # Granted every edge: a user sees and commands only the edges granted.
        ems_auth(
            "create-user", user, "--role", "operator", "--password", pw, "--edge", "*", data=data
        )
    for edge_id in edge_ids:
        services.keys[edge_id] = ems_auth("create-edge-key", edge_id, data=data).strip()
    services.port = free_port()
    env = {
        **os.environ,
        "EMS_REDIS_URL": services.redis.url,
        "EMS_DATABASE_URL": services.postgres.dsn,
        # The limiters still run on every command and ack (their cost is measured),
        # but this load is one site's, not an abuse: lifted unless set outside.
        "EMS_COMMAND_RATE_PER_S": os.environ.get("EMS_COMMAND_RATE_PER_S", "1000000"),
        "EMS_COMMAND_BURST": os.environ.get("EMS_COMMAND_BURST", "1000000"),
        "EMS_ACK_RATE_PER_S": os.environ.get("EMS_ACK_RATE_PER_S", "1000000"),
        "EMS_ACK_BURST": os.environ.get("EMS_ACK_BURST", "1000000"),
    }
    runner = [sys.executable]
    if args.profile_cloud is not None:
        runner += ["-m", "cProfile", "-o", str(args.profile_cloud)]
    argv = [*runner, "-m", "ems.cli", "--log-level", args.cloud_log_level]
    argv += [*(["--log-json"] if args.cloud_log_json else []), "cloud"]
    argv += ["--port", str(services.port), "--data-dir", str(data)]
    argv += ["--workers", str(args.workers)]
    services.start_cloud(argv, env)


async def open_dashboard(services: BenchServices, sockets: int, edge_ids: list[str]) -> Dashboard:
    """``sockets`` sockets for each operator; the first subscribes until every edge's
    telemetry has reached the cloud, then unsubscribes."""
    tokens: list[str] = []
    async with httpx.AsyncClient() as client:
        for user in services.users:
            r = await client.post(
                f"http://{services.base}/auth/token",
                json={"username": user, "password": services.password},
            )
            if r.status_code != 200:
                raise RuntimeError(f"no token for {user}: {r.status_code} {r.text}")
            tokens.append(r.json()["access"])
    opened: list[ClientConnection] = []
    try:
        for token in [t for t in tokens for _ in range(sockets)]:
            ws = await connect(
                f"ws://{services.base}/ws/ui?token={token}", compression=None, max_size=MAX_FRAME
            )
            opened.append(ws)
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if hello.get("type") != "auth_ok":
                raise RuntimeError(f"dashboard not authenticated: {hello}")
        # Dynamic limits need each edge's telemetry in the cloud: wait until it is forwarded.
        first = opened[0]
        waiting = set(edge_ids)
        for edge_id in edge_ids:
            await first.send(json.dumps({"type": "subscribe", "edge_id": edge_id}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while waiting:
            frame = json.loads(await asyncio.wait_for(first.recv(), deadline - loop.time()))
            if frame.get("type") == "telemetry":
                waiting.discard(frame["edge_id"])
        for edge_id in edge_ids:
            await first.send(json.dumps({"type": "unsubscribe", "edge_id": edge_id}))
    except BaseException:
        for ws in opened:
            with contextlib.suppress(Exception):
                await ws.close()
        raise
    return Dashboard(opened, edge_ids)


async def drive(
    args: argparse.Namespace, services: BenchServices, edge_ids: list[str]
) -> dict[str, Any]:
    cycle_s = args.cycle_ms / 1000.0
    settle_s = WATCHDOG_S + cycle_s + 5.0
    result: dict[str, Any] = {}

    # 1. baseline: a bare WebSocket echo at the same rate
    echo_port = free_port()
    echo = Child("echo", ["--port", str(echo_port)])
    try:
        await echo.ready()
        seconds = min(args.seconds, BASELINE_MAX_S)
        rtts = await echo_baseline(f"ws://127.0.0.1:{echo_port}", args.rate, seconds, edge_ids[0])
    finally:
        echo.stop()

    edges = Child(
        "edges",
        [],
        {
            "url": f"ws://{services.base}/ws/edge",
            "edges": [[e, services.keys[e]] for e in edge_ids],
            "cycle_ms": args.cycle_ms,
        },
    )
    dash: Dashboard | None = None
    edge_summary: dict[str, Any] = {}
    try:
        await edges.ready()
        dash = await open_dashboard(services, args.ui_sockets, edge_ids)
        meter = CpuMeter(
            {
                # With --workers the cloud is a supervisor and its worker processes.
                ("cloud*" if args.workers > 1 else "cloud"): (
                    services.cloud.pid if services.cloud else None
                ),
                "redis": services.redis.pid if services.redis else None,
                "postgres*": services.postgres_pid(),
                "edges": edges.proc.pid,
                "dashboard": os.getpid(),
            }
        )

        # 2. warm-up (first use of scripts, connections, code paths): not counted
        await paced(dash, "warmup", WARMUP_RATE, WARMUP_COMMANDS)
        await dash.settle("warmup", lambda r: r.final is not None, settle_s)

        # 3. the steady rate
        r0, c0 = await redis_calls(services), meter.sample()
        achieved = await paced(dash, "rate", args.rate, int(args.rate * args.seconds))
        c1 = meter.sample()
        done = await dash.settle("rate", lambda r: r.final is not None, settle_s)
        r2, c2 = await redis_calls(services), meter.sample()
        received = [(r.received - r.sent) * 1000.0 for r in done if r.received is not None]
        executed = [(r.executed - r.sent) * 1000.0 for r in done if r.executed is not None]

        # 4. saturation
        r3, c3 = await redis_calls(services), meter.sample()
        start, stalls = await flood(dash, args.saturation_seconds, args.window)
        sat = await dash.settle(
            "saturation",
            lambda r: r.final is not None or (r.received is not None and r.delivered is not None),
            settle_s,
        )
        c4 = meter.sample()
        finished = [
            max(r.received, r.delivered)
            for r in sat
            if r.received is not None and r.delivered is not None
        ]
        per_s = len(finished) / (max(finished) - start) if finished else 0.0
        sat = await dash.settle("saturation", lambda r: r.final is not None, settle_s)
        r5, c5 = await redis_calls(services), meter.sample()
        sat_received = [(r.received - r.sent) * 1000.0 for r in sat if r.received is not None]
        sat_errors = errors_of(sat)
        if stalls:
            sat_errors["stalled"] = stalls

        errors = errors_of(done)
        errors.update(dash.frame_errors)
        result = {
            "rate": args.rate,
            "achieved_rate": round(achieved, 1),
            "seconds": args.seconds,
            "edges": len(edge_ids),
            "users": args.users,
            "ui_sockets": args.ui_sockets,
            "workers": args.workers,
            "commands": len(done),
            "received_p50_ms": ms(percentile(received, 0.50)),
            "received_p99_ms": ms(percentile(received, 0.99)),
            "received_max_ms": ms(max(received, default=math.nan)),
            "executed_p50_ms": ms(percentile(executed, 0.50)),
            "executed_p99_ms": ms(percentile(executed, 0.99)),
            "executed_max_ms": ms(max(executed, default=math.nan)),
            "cycle_ms": args.cycle_ms,
            "max_commands_per_s": round(per_s, 1),
            "saturation_commands": len(sat),
            "saturation_window": args.window,
            "saturation_received_p50_ms": ms(percentile(sat_received, 0.50)),
            "saturation_received_p99_ms": ms(percentile(sat_received, 0.99)),
            "baseline_echo_p50_ms": ms(percentile(rtts, 0.50)),
            "baseline_echo_p99_ms": ms(percentile(rtts, 0.99)),
            "cpu_percent": {
                "rate": CpuMeter.percent(c0, c1),
                "saturation": CpuMeter.percent(c3, c4),
            },
            # All the cloud's work for a command, its late acks included.
            # Commands Redis ran per dashboard command (the cloud's background work included).
            "redis_calls_per_command": {
                "rate": round((r2 - r0) / len(done), 2) if done else None,
                "saturation": round((r5 - r3) / len(sat), 2) if sat else None,
            },
            "cloud_cpu_ms_per_command": {
                "rate": per_command(CpuMeter.used(c0, c2)["cloud"], len(done)),
                "saturation": per_command(CpuMeter.used(c3, c5)["cloud"], len(sat)),
            },
            "errors": errors,
            "saturation_errors": sat_errors,
        }
        result["disturbed"] = any(
            phase["other"] > DISTURBED_PERCENT for phase in result["cpu_percent"].values()
        )
    finally:
        if dash is not None:
            await dash.close()
        edge_summary = edges.stop()
    result["edge_side"] = edge_summary
    return result


def judge(result: dict[str, Any], cycle_ms: float) -> dict[str, Any]:
    budget = {
        "rate": BUDGET_RATE,
        "received_p50_ms": BUDGET_RECEIVED_P50_MS,
        "received_p99_ms": BUDGET_RECEIVED_P99_MS,
        "executed_p99_ms": cycle_ms + BUDGET_EXECUTED_EXTRA_MS,
        "max_commands_per_s": BUDGET_COMMANDS_PER_S,
    }

    def at_most(key: str) -> bool:
        value = result.get(key)
        return value is not None and value <= budget[key]

    result["budget"] = budget
    result["ok"] = (
        result["rate"] >= BUDGET_RATE
        and at_most("received_p50_ms")
        and at_most("received_p99_ms")
        and at_most("executed_p99_ms")
        and result["max_commands_per_s"] >= BUDGET_COMMANDS_PER_S
        and not result["errors"]
    )
    return result


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM: unwind like Ctrl-C, so every ``finally`` stops what it started."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="commands/s (default 500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="of steady rate (10)")
    parser.add_argument("--edges", type=int, default=4, help="simulated edges (4)")
    parser.add_argument("--cycle-ms", type=float, default=1000.0, help="edge cycle (1000)")
    parser.add_argument("--saturation-seconds", type=float, default=5.0, help="(5)")
    parser.add_argument("--window", type=int, default=500, help="saturation in flight (500)")
    parser.add_argument("--users", type=int, default=1, help="operators (1)")
    parser.add_argument("--ui-sockets", type=int, default=1, help="sockets per operator (1)")
    parser.add_argument("--workers", type=int, default=1, help="ems cloud --workers (1)")
    parser.add_argument("--cloud-log-json", action="store_true", help="ems --log-json cloud")
    parser.add_argument("--cloud-log-level", default="INFO", help="ems --log-level (INFO)")
    parser.add_argument("--profile-cloud", type=Path, metavar="FILE", help="cProfile output")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.role != "main":
        # The parent stops its children (a line on stdin, or EOF when it is gone);
        # a Ctrl-C meant for it must not kill them halfway through.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.role == "edges":
        asyncio.run(run_edges(json.loads(sys.stdin.readline())))
        return 0
    if args.role == "echo":
        asyncio.run(run_echo(args.port))
        return 0

    checks = {
        "--rate": args.rate > 0,
        "--seconds": 0 < args.seconds <= 600,
        "--edges": 1 <= args.edges <= 1000,
        "--cycle-ms": 10 <= args.cycle_ms <= 60_000,
        "--saturation-seconds": 0 < args.saturation_seconds <= 120,
        "--window": 1 <= args.window <= 100_000,
        "--users": 1 <= args.users <= 200,
        "--ui-sockets": 1 <= args.ui_sockets <= 64,
        "--workers": 1 <= args.workers <= 16,
    }
    for name, valid in checks.items():
        if not valid:
            parser.error(f"{name} out of range")

    signal.signal(signal.SIGTERM, _terminate)
    edge_ids = [f"bench-{i + 1}" for i in range(args.edges)]
    services = BenchServices(
        Path(tempfile.mkdtemp(prefix="ems-bench-commands-")),
        password=f"Bench-{secrets.token_hex(8)}-1",
        users=[f"bench-op-{i + 1}" for i in range(args.users)],
    )
    try:
        start_services(services, edge_ids, args)
        result = asyncio.run(drive(args, services, edge_ids))
    except Exception as exc:
        tail = services.log_tail()
        traceback.print_exc()
        print(f"bench/commands.py could not run: {exc!r}", file=sys.stderr)
        if tail:
            print(f"end of the cloud's log:\n{tail}", file=sys.stderr)
        return 1
    finally:
        services.stop()
    print(json.dumps(judge(result, args.cycle_ms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
