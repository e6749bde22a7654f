"""The chaos run: real processes, steady traffic, a seeded fault schedule, then the checks.

What runs (all on 127.0.0.1, all started and stopped here):

- a ``redis-server`` with append-only persistence (``appendfsync always``),
- a PostgreSQL server,
- two ``ems cloud`` processes (``cloud-a``, ``cloud-b``) sharing both,
- one ``ems edge`` (simulated site) connected through a :class:`TcpProxy` that
  sends each connection to a live cloud process in turn, like a load balancer,
- a dashboard on each cloud process sending battery setpoints within the
  battery's current limits at a steady rate, some with a short ``ttl_s`` so
  that a command waiting in the offline queue may expire there.

Meanwhile the faults of the schedule happen one after the other; after each
the run waits (by condition, with a timeout) until everything recovered by
itself. At the end: one last command per dashboard must execute, every
command must settle, and :mod:`support.chaos.checks` runs over what the
dashboards saw, what ``GET /api/commands/{id}`` says on both processes, the
edge's execution log and the telemetry stored in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from ems.edge.executions import EXECUTIONS_FILE, read_executions
from support.chaos.checks import (
    TERMINAL,
    CycleRow,
    FaultWindow,
    SentCommand,
    check_executions,
    check_statuses,
    check_telemetry,
)
from support.chaos.dashboard import Dashboard
from support.chaos.proxy import TcpProxy
from support.chaos.schedule import Fault, make_schedule, schedule_text
from support.postgres import RunningPostgres, start_postgres
from support.processes import EmsProcess
from support.redis import RunningRedis, start_redis
from support.site import CloudSite

__all__ = ["ChaosConfig", "ChaosResult", "run_chaos"]

EDGE = "chaos-1"
USER = "olga"
PERIOD_S = 1.0  # the demo site's cycle period
#: Unstored frames come back after the edge's ack timeout (30 s), then at 50 frames/s.
BACKFILL_TIMEOUT_S = 120.0
#: A cloud process restarted after a crash waits for its old lease: keep it short.
REGISTRY_TTL_S = 4


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    seed: int
    rounds: int = 1  # each round: every fault kind once, in a random order
    postgres_down_s: float = 30.0
    command_interval_s: float = 1.0  # per dashboard, on average
    recovery_timeout_s: float = 90.0
    settle_timeout_s: float = 90.0


@dataclass(slots=True)
class ChaosResult:
    problems: list[str]
    report: str
    commands: int
    finals: dict[str, int] = field(default_factory=dict)  # "status(reason)" -> count
    #: The problems by check: "recovery", "statuses", "executions", "telemetry".
    by_check: dict[str, list[str]] = field(default_factory=dict)


class _Run:
    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.schedule = make_schedule(
            config.seed, config.rounds, postgres_down_s=config.postgres_down_s
        )
        self.windows: list[FaultWindow] = []
        self.active: str = "none"
        self.sent: dict[str, SentCommand] = {}
        self.stray_acks: list[dict[str, Any]] = []
        self.processes: list[tuple[str, EmsProcess]] = []  # every incarnation, for the report
        self.events: list[str] = []  # what happened when, for the report
        self.redis: RunningRedis | None = None
        self.postgres: RunningPostgres | None = None
        self.sites: dict[str, CloudSite] = {}
        self.edge: EmsProcess | None = None
        self.proxy: TcpProxy | None = None
        self.dashboards: list[Dashboard] = []
        self.started_s = time.time()

    # -- set-up ------------------------------------------------------------
    def note(self, text: str) -> None:
        self.events.append(f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {text}")

    def start_services(self) -> None:
        self.redis = start_redis(appendonly=True, appendfsync="always")
        self.postgres = start_postgres()
        data = self.workdir / "cloud"
        data.mkdir(parents=True)
        shared = {
            "EMS_REDIS_URL": self.redis.url,
            "EMS_DATABASE_URL": self.postgres.dsn,
            "EMS_REGISTRY_TTL_S": str(REGISTRY_TTL_S),
            # The limit is per client address, and every client here (edge, dashboards,
            # the checks reading hundreds of records) is 127.0.0.1.
            "EMS_HTTP_RATE_PER_S": "1000",
            "EMS_HTTP_BURST": "1000",
        }
        for name in ("a", "b"):
            self.sites[name] = CloudSite(data, env={**shared, "EMS_NODE_ID": f"cloud-{name}"})
        self.sites["a"].create_accounts((EDGE,))
        for name, site in self.sites.items():
            self.processes.append((f"cloud-{name}", site.start_cloud()))

    def start_edge(self) -> EmsProcess:
        assert self.proxy is not None
        site = self.sites["a"]
        edge = EmsProcess(
            [
                "edge",
                "--cloud",
                f"http://127.0.0.1:{self.proxy.port}",
                "--edge-id",
                EDGE,
                "--api-key-file",
                str(site.key_file(EDGE)),
                "--data-dir",
                str(self.edge_dir),
                "--no-table",
            ]
        )
        self.processes.append(("edge", edge))
        self.edge = edge
        self.note(f"edge started (pid {edge.proc.pid})")
        return edge

    @property
    def edge_dir(self) -> Path:
        return self.workdir / "edge"

    @property
    def executions_path(self) -> Path:
        return self.edge_dir / "edge" / EDGE / EXECUTIONS_FILE

    # -- traffic -----------------------------------------------------------
    def on_ack(self, dashboard: str, frame: dict[str, Any]) -> None:
        cmd = self.sent.get(str(frame.get("command_id")))
        if cmd is None:
            self.stray_acks.append(frame)
            return
        cmd.acks.append(frame)
        cmd.seen_by.setdefault(dashboard, []).append(frame)

    def pick_value(self, dashboard: Dashboard) -> float:
        """A setpoint within the battery's current limits [W] (< 0 charging)."""
        charge, discharge = dashboard.limits_w or (1000.0, 1000.0)
        return float(round(self.rng.uniform(-0.8 * min(charge, 3000), 0.8 * min(discharge, 3000))))

    async def send_command(
        self, dashboard: Dashboard, value: float, ttl_s: int | None
    ) -> SentCommand:
        command_id = str(uuid.uuid4())
        frame: dict[str, Any] = {
            "type": "command",
            "command_id": command_id,
            "edge_id": EDGE,
            "device": "battery_1",
            "action": "set_active_power",
            "value": value,
            "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        if ttl_s is not None:
            frame["ttl_s"] = ttl_s
        cmd = SentCommand(command_id, dashboard.name, value, ttl_s, time.time())
        self.sent[command_id] = cmd  # before sending: its acks may come at once
        if not await dashboard.send(frame):
            self.note(f"command {command_id} could not be sent on {dashboard.name}")
        return cmd

    async def traffic(self, dashboard: Dashboard, stop: asyncio.Event) -> None:
        rng = random.Random(self.rng.random())
        while not stop.is_set():
            interval_s = self.config.command_interval_s * rng.uniform(0.5, 1.5)
            try:
                await asyncio.wait_for(stop.wait(), interval_s)  # the traffic's rate
                return
            except TimeoutError:
                pass
            if not dashboard.connected.is_set():
                continue
            # Mostly the default TTL; some short, so that a command queued while
            # the edge is away may expire in the queue (failed timeout_in_queue).
            ttl_s = rng.choice([None, None, 60, 4])
            await self.send_command(dashboard, self.pick_value(dashboard), ttl_s)

    # -- faults --------------------------------------------------------------
    async def inject(self, fault: Fault) -> None:
        assert self.redis is not None
        assert self.postgres is not None
        assert self.proxy is not None
        start = time.time()
        self.active = str(fault)
        self.note(f"fault begins: {fault}")
        match fault.kind:
            case "edge_kill":
                assert self.edge is not None
                await asyncio.to_thread(self.edge.kill)
                await asyncio.sleep(fault.duration_s)  # the schedule: how long it stays dead
                self.start_edge()
            case "edge_freeze":
                assert self.edge is not None
                self.edge.signal(signal.SIGSTOP)
                try:
                    await asyncio.sleep(fault.duration_s)  # the schedule
                finally:
                    self.edge.signal(signal.SIGCONT)
            case "cloud_kill":
                site = self.sites[fault.target]
                assert site.cloud is not None
                await asyncio.to_thread(site.cloud.kill)
                await asyncio.sleep(fault.duration_s)  # the schedule
                process = await asyncio.to_thread(site.start_cloud)
                self.processes.append((f"cloud-{fault.target}", process))
            case "redis_restart":
                await asyncio.to_thread(self.redis.restart)
            case "postgres_stop":
                await asyncio.to_thread(self.postgres.pause)
                try:
                    await asyncio.sleep(fault.duration_s)  # the schedule
                finally:
                    await asyncio.to_thread(self.postgres.resume)
            case "connections_drop":
                self.note(f"proxy dropped {self.proxy.drop_all()} connection(s)")
        self.note(f"fault injected: {fault}")
        recovered = await self.wait_recovered(self.config.recovery_timeout_s, since_s=time.time())
        self.windows.append(FaultWindow(fault.kind, fault.target, start, time.time()))
        self.active = "none"
        if recovered is not None:
            raise _NotRecovered(f"after {fault}: {recovered}")
        self.note(f"recovered from: {fault}")

    async def health(self, since_s: float) -> str | None:
        """``None`` when everything is up, else what is not (one sentence)."""
        if self.edge is None or self.edge.proc.poll() is not None:
            return "the edge process is not running"
        async with httpx.AsyncClient(timeout=3) as client:
            for name, site in self.sites.items():
                try:
                    r = await client.get(site.http("/healthz"))
                    if r.status_code != 200:
                        return f"cloud-{name} /healthz answers {r.status_code}"
                    token = await client.post(
                        site.http("/auth/token"),
                        json={"username": USER, "password": _password()},
                    )
                    if token.status_code != 200:
                        return f"cloud-{name} /auth/token answers {token.status_code}"
                    headers = {"Authorization": f"Bearer {token.json()['access']}"}
                    edges = await client.get(site.http("/api/edges"), headers=headers)
                    if edges.status_code != 200:
                        return f"cloud-{name} /api/edges answers {edges.status_code}"
                    online = {e["edge_id"]: e["online"] for e in edges.json()["edges"]}
                    if not online.get(EDGE):
                        return f"cloud-{name} does not see the edge online"
                except httpx.HTTPError as exc:
                    return f"cloud-{name} does not answer: {exc!r}"
        for dashboard in self.dashboards:
            if not dashboard.connected.is_set():
                return f"dashboard {dashboard.name} is not connected"
            if dashboard.last_telemetry_s is None or dashboard.last_telemetry_s < since_s:
                return f"dashboard {dashboard.name} has had no live telemetry since the fault"
        return None

    async def wait_recovered(self, timeout_s: float, since_s: float) -> str | None:
        """Poll :meth:`health` until all is well; returns the last complaint on timeout."""
        deadline = time.monotonic() + timeout_s
        complaint: str | None = "not checked"
        while time.monotonic() < deadline:
            complaint = await self.health(since_s)
            if complaint is None:
                return None
            await asyncio.sleep(0.5)  # polling interval of a condition
        return complaint

    # -- the end -------------------------------------------------------------
    async def final_commands(self) -> list[str]:
        """One command per dashboard must end ``executed`` now that all recovered."""
        problems = []
        for dashboard in self.dashboards:
            charge, discharge = dashboard.limits_w or (0.0, 0.0)
            value = 100.0 if discharge >= 200 else -100.0 if charge >= 200 else 0.0
            cmd = await self.send_command(dashboard, value, None)
            status = await self.wait_for_terminal(cmd, 30.0)
            if status != ("executed", None):
                problems.append(
                    f"after recovery, command {cmd.command_id} on {dashboard.name} ended "
                    f"{status} instead of executed"
                )
        return problems

    async def wait_for_terminal(
        self, cmd: SentCommand, timeout_s: float
    ) -> tuple[str, str | None] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for ack in cmd.acks:
                if ack["status"] in TERMINAL:
                    return ack["status"], ack.get("reason")
            await asyncio.sleep(0.1)  # polling a condition
        return None

    async def read_records(self) -> dict[str, list[dict[str, Any] | None]]:
        """Every sent command's record as each cloud process reports it."""
        out: dict[str, list[dict[str, Any] | None]] = {c: [] for c in self.sent}
        async with httpx.AsyncClient(timeout=10) as client:
            for site in self.sites.values():
                token = await client.post(
                    site.http("/auth/token"), json={"username": USER, "password": _password()}
                )
                headers = {"Authorization": f"Bearer {token.json()['access']}"}
                for command_id in self.sent:
                    r = await _get_politely(
                        client, site.http(f"/api/commands/{command_id}"), headers
                    )
                    if r.status_code == 404:
                        out[command_id].append(None)
                    else:
                        r.raise_for_status()
                        out[command_id].append(r.json())
        return out

    async def settle(self) -> dict[str, list[dict[str, Any] | None]]:
        """Wait until every command any cloud knows has its terminal status (or time runs out)."""
        deadline = time.monotonic() + self.config.settle_timeout_s
        while True:
            records = await self.read_records()
            open_ = [
                c
                for c, reads in records.items()
                if any(r is not None and not r.get("terminal") for r in reads)
            ]
            if not open_ or time.monotonic() >= deadline:
                if open_:
                    self.note(f"{len(open_)} command(s) still open at the end: {open_[:5]}")
                return records
            await asyncio.sleep(1.0)  # polling a condition

    async def cycle_rows(self) -> list[CycleRow]:
        assert self.postgres is not None
        conn = await asyncpg.connect(self.postgres.dsn)
        try:
            found = await conn.fetch(
                "SELECT extract(epoch FROM time)::float8 AS t, channel, value FROM telemetry "
                "WHERE edge_id = $1 AND channel IN ('_cycle/Index', '_cycle/SkippedCycles')",
                EDGE,
            )
        finally:
            await conn.close()
        by_time: dict[float, dict[str, float]] = {}
        for row in found:
            by_time.setdefault(round(row["t"], 3), {})[row["channel"]] = row["value"]
        return [
            CycleRow(t, int(v["_cycle/Index"]), int(v.get("_cycle/SkippedCycles", 0)))
            for t, v in by_time.items()
            if "_cycle/Index" in v
        ]

    async def wait_stored_complete(self, end_s: float, timeout_s: float) -> list[CycleRow]:
        """The stored cycles once they cover the run up to ``end_s`` without a gap, or
        whatever is stored at ``timeout_s``. Frames the cloud could not store (its
        database was down) stay in the edge's buffer and come back when their ack
        times out (the edge's ``telemetry.ack_timeout_s``, 30 s): recovery includes
        that backfill, so the gap check waits for it, never for a fixed time."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = await self.cycle_rows()
            covered = rows and max(r.time_s for r in rows) >= end_s
            if covered and not check_telemetry(rows, self.windows, end_s=end_s, period_s=PERIOD_S):
                return rows
            if time.monotonic() >= deadline:
                return rows
            await asyncio.sleep(0.5)  # polling a condition

    # -- the report ------------------------------------------------------------
    def report(self, problems: list[str], finals: dict[str, int]) -> str:
        lines = [
            f"chaos run: seed {self.config.seed}, {self.config.rounds} round(s), "
            f"{len(self.sent)} commands, {len(problems)} problem(s)",
            f"replay: EMS_CHAOS_SEED={self.config.seed} EMS_CHAOS_ROUNDS={self.config.rounds}",
            schedule_text(self.config.seed, self.schedule),
            "terminal statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(finals.items())),
            "",
            "PROBLEMS:" if problems else "no problems",
            *(f"  - {p}" for p in problems[:100]),
        ]
        if len(problems) > 100:
            lines.append(f"  … and {len(problems) - 100} more")
        lines += ["", "EVENTS:", *(f"  {e}" for e in self.events)]
        lines += ["", "FAULT WINDOWS:", *(f"  {w}" for w in self.windows)]
        if self.stray_acks:
            lines.append(f"acks for commands no dashboard sent: {self.stray_acks[:5]}")
        logs = self.save_logs()
        lines += ["", f"full process logs: {logs}"]
        if problems:
            for name, process in self.processes:
                lines += ["", f"--- {name} (pid {process.proc.pid}) last lines ---"]
                lines += [line.rstrip() for line in process.lines[-40:]]
            for name, server in (("redis", self.redis), ("postgres", self.postgres)):
                if server is not None:
                    lines += ["", f"--- {name} log ---", server.log_tail(20)]
        return "\n".join(lines)

    def save_logs(self) -> Path:
        """Every process incarnation's whole output, one file each, for a post-mortem."""
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        for n, (name, process) in enumerate(self.processes):
            (logs / f"{n:02d}-{name}-{process.proc.pid}.log").write_text(process.output)
        return logs

    def stop(self) -> None:
        for _name, process in self.processes:
            process.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.redis is not None:
            self.redis.stop()


class _NotRecovered(Exception):
    pass


async def _get_politely(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> httpx.Response:
    """GET, waiting out ``429 Too Many Requests`` as its ``Retry-After`` asks (a few times)."""
    for _ in range(10):
        r = await client.get(url, headers=headers)
        if r.status_code != 429:
            return r
        await asyncio.sleep(float(r.headers.get("retry-after", "1")))  # the server's pace
    return r


def _password() -> str:
    from support.site import PASSWORD

    return PASSWORD


async def _run(run: _Run) -> ChaosResult:
    await asyncio.to_thread(run.start_services)
    sites = run.sites
    run.proxy = TcpProxy([("127.0.0.1", sites["a"].port), ("127.0.0.1", sites["b"].port)])
    await run.proxy.start()
    stop = asyncio.Event()
    run.dashboards = [
        Dashboard(f"dashboard-{name}", site, USER, EDGE, run.on_ack) for name, site in sites.items()
    ]
    tasks = [asyncio.create_task(d.run(stop)) for d in run.dashboards]
    problems: list[str] = []
    by_check: dict[str, list[str]] = {}
    try:
        run.start_edge()
        begun = time.time()
        not_up = await run.wait_recovered(run.config.recovery_timeout_s, since_s=begun)
        if not_up is not None:
            raise _NotRecovered(f"at start: {not_up}")
        run.note("all up; traffic starts")
        traffic_stop = asyncio.Event()
        traffic = [asyncio.create_task(run.traffic(d, traffic_stop)) for d in run.dashboards]
        try:
            for fault in run.schedule:
                await asyncio.sleep(fault.gap_s)  # the schedule: quiet traffic between faults
                await run.inject(fault)
        finally:
            traffic_stop.set()
            await asyncio.gather(*traffic)
        run.note("faults over; traffic stopped")
        not_up = await run.wait_recovered(run.config.recovery_timeout_s, since_s=time.time())
        if not_up is not None:
            raise _NotRecovered(f"at the end: {not_up}")
        by_check["recovery"] = await run.final_commands()
        problems += by_check["recovery"]
        end_s = time.time()
        records = await run.settle()
        rows = await run.wait_stored_complete(end_s, BACKFILL_TIMEOUT_S)
    except _NotRecovered as exc:
        by_check["recovery"] = [f"a service did not recover by itself {exc}"]
        problems += by_check["recovery"]
        records, rows, end_s = {}, [], time.time()
    finally:
        stop.set()
        for dashboard in run.dashboards:
            await dashboard.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await run.proxy.close()
    finals: dict[str, int] = {}
    final_by_id: dict[str, tuple[str, str | None]] = {}
    for command_id, reads in records.items():
        known = next((r for r in reads if r is not None), None)
        if known is not None and known.get("terminal"):
            final_by_id[command_id] = (known["status"], known.get("reason"))
            key = f"{known['status']}({known.get('reason') or ''})"
            finals[key] = finals.get(key, 0) + 1
    if records:
        sent = list(run.sent.values())
        executions = read_executions(run.executions_path)
        by_check["statuses"] = check_statuses(sent, records, run.windows)
        by_check["executions"] = check_executions(sent, final_by_id, executions, run.windows)
        by_check["telemetry"] = check_telemetry(rows, run.windows, end_s=end_s, period_s=PERIOD_S)
        for name in ("statuses", "executions", "telemetry"):
            problems += by_check[name]
    return ChaosResult(problems, run.report(problems, finals), len(run.sent), finals, by_check)


def run_chaos(config: ChaosConfig, workdir: Path) -> ChaosResult:
    """Run the whole thing (blocking); everything started is stopped before it returns."""
    run = _Run(config, workdir)
    try:
        return asyncio.run(_run(run))
    finally:
        run.stop()
