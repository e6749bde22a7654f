"""``ems cloud --workers 2``: two cloud processes behind one port, restarted when they die.

Real processes, a real ``redis-server`` of this module's own and the session's
PostgreSQL. Which worker the kernel hands a connection to is its choice: the
tests hold for either, and look for both names among many connections.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ems.cloud.settings import CloudSettings
from ems.cloud.workers import check_workers
from ems.errors import EmsError
from support.processes import EmsProcess, ExitWatch, free_port
from support.redis import start_redis
from support.site import CloudSite, command, edge_ack, edge_socket, next_of

EDGE = "workers-1"  # this module's own: the session's PostgreSQL is shared
NODE = "wk"


@pytest.fixture(scope="module")
def site(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    data = tmp_path_factory.mktemp("workers")
    with start_redis() as redis:
        site = CloudSite(
            data,
            env={
                "EMS_REDIS_URL": redis.url,
                "EMS_DATABASE_URL": postgres_url,
                "EMS_NODE_ID": NODE,
                "EMS_REGISTRY_TTL_S": "2",  # a killed worker's name is free again soon
            },
        )
        site.create_accounts((EDGE,))
        site.cloud = EmsProcess(
            ["cloud", "--workers", "2", "--port", str(site.port), "--data-dir", str(data)],
            site.env,
        )
        try:
            _wait_for_nodes(site, {f"{NODE}.1", f"{NODE}.2"})
            yield site
        finally:
            site.stop()


def _wait_for_nodes(site: CloudSite, names: set[str], timeout_s: float = 60.0) -> None:
    """Every worker named answers on the one port (new connections, each placed by the kernel)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            # A fresh connection each time: a kept-alive one stays with one worker.
            r = httpx.get(site.http("/healthz"), headers={"Connection": "close"}, timeout=5)
        except httpx.TransportError:
            continue  # no worker listening yet
        seen.add(r.json()["node_id"])
        if names <= seen:
            return
    raise AssertionError(f"only {sorted(seen)} answered of {sorted(names)}")


def _worker_pids(supervisor_pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == supervisor_pid:
            pids.append(int(entry.name))
    return pids


@pytest.mark.asyncio
async def test_a_command_runs_whichever_workers_hold_the_dashboard_and_the_edge(
    site: CloudSite,
) -> None:
    edge = await edge_socket(site, EDGE, site.key(EDGE))
    try:
        assert json.loads(await edge.recv())["type"] == "auth_ok"
        devices = [{"id": "battery_1", "profile": "battery"}]
        await edge.send(json.dumps({"type": "inventory", "devices": devices}))
        assert site.cloud is not None
        site.cloud.wait_for(f"edge {EDGE} inventory", 30)
        # Dashboards on several connections: some land on the other worker.
        for _ in range(4):
            ws = await site.ui()
            try:
                cmd = command(edge_id=EDGE, device="battery_1", action="set_mode", value="auto")
                await ws.send(json.dumps(cmd))
                first = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
                assert first["status"] == "received"
                sent = await next_of(edge, "command", timeout_s=10)
                assert sent["command_id"] == cmd["command_id"]
                await edge_ack(edge, cmd["command_id"], "executed")
                final = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
                assert final["status"] == "executed"
            finally:
                await ws.close()
    finally:
        await edge.close()


def test_one_scrape_shows_every_worker(site: CloudSite) -> None:
    """Whichever worker answers /metrics, it shows both, each labelled by its name."""
    wanted = {f"{NODE}.1", f"{NODE}.2"}
    seen: set[str] = set()
    deadline = time.monotonic() + 30  # each worker publishes its figures every 2 s
    while seen != wanted and time.monotonic() < deadline:
        r = httpx.get(site.http("/metrics"), headers={"Connection": "close"}, timeout=10)
        seen = {
            sample.labels.get("worker", "")
            for family in text_string_to_metric_families(r.text)
            if family.name == "ems_edges_connected"
            for sample in family.samples
        }
    assert seen == wanted


def test_a_worker_that_dies_is_restarted(site: CloudSite) -> None:
    assert site.cloud is not None
    pids = _worker_pids(site.cloud.proc.pid)
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)
    site.cloud.wait_for("restarting in", 30)
    # The new worker takes the dead one's name once its lease has expired.
    _wait_for_nodes(site, {f"{NODE}.1", f"{NODE}.2"})
    after = _worker_pids(site.cloud.proc.pid)
    assert len(after) == 2
    assert pids[0] not in after


def test_workers_stop_when_their_supervisor_is_killed(site: CloudSite) -> None:
    """A supervisor killed outright (SIGKILL: no chance to stop them) leaves no worker
    behind holding the port."""
    port = free_port()
    supervisor = EmsProcess(
        ["cloud", "--workers", "2", "--port", str(port), "--data-dir", str(site.data)],
        {**site.env, "EMS_NODE_ID": "wk-orphan"},
    )
    watches: list[ExitWatch] = []
    try:
        # The first worker up; the other may still be starting: it must stop too.
        supervisor.wait_for("Application startup complete", 60)
        watches = [ExitWatch(pid) for pid in _worker_pids(supervisor.proc.pid)]
        assert watches
        supervisor.proc.kill()
        supervisor.proc.wait(10)
        # The death signal starts a graceful stop; the workers' watchdog bounds it.
        alive = [w.pid for w in watches if not w.wait(timeout_s=30)]
        for pid in alive:  # a clean failure: orphans would keep the output pipe open
            os.kill(pid, signal.SIGKILL)
        assert alive == [], f"workers {alive} outlived their supervisor"
    finally:
        for watch in watches:
            watch.close()
        supervisor.stop()


# The worker command of a supervisor that stops at a gate (a FIFO the test
# opens) before it becomes the real ``ems cloud`` worker: the window between
# the fork and the worker binding itself to its supervisor, held open on purpose.
_GATED_WORKER = """
import os, sys
print(f"worker at the gate: pid {os.getpid()}", flush=True)
with open(sys.argv[1], "rb") as gate:
    gate.read()
os.execv(sys.executable, [sys.executable, "-m", "ems.cli", "cloud"])
"""
_SUPERVISOR = """
import sys
from ems.cloud.settings import CloudSettings
from ems.cloud.workers import Supervisor
from ems.logs import configure_logging

configure_logging()
worker = [sys.executable, "-c", sys.argv[1], sys.argv[2]]
sys.exit(Supervisor(CloudSettings(), command=worker).run())
"""


def test_a_worker_restarting_when_its_supervisor_dies_does_not_outlive_it(
    site: CloudSite, tmp_path: Path
) -> None:
    """The supervisor killed while it restarts a worker: the new worker, forked but
    not yet bound to it, must not become an orphan that runs for ever."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    port = free_port()
    env = {
        **site.env,
        "EMS_NODE_ID": "wk-race",
        "EMS_WORKERS": "1",
        "EMS_PORT": str(port),
        "EMS_DATA_DIR": str(site.data),
    }
    supervisor = EmsProcess(
        ["-c", _SUPERVISOR, _GATED_WORKER, str(gate)], env, program=[sys.executable]
    )
    watch: ExitWatch | None = None
    try:
        first = _gated_pid(supervisor.wait_for("worker at the gate", 30))
        _open_gate(gate)
        supervisor.wait_for("Application startup complete", 60)
        os.kill(first, signal.SIGKILL)  # a crash: the supervisor restarts the worker
        supervisor.wait_for("restarting in", 30)
        restarted = _gated_pid(_next_gated(supervisor, after=first))
        watch = ExitWatch(restarted)
        supervisor.proc.kill()  # mid-restart: the worker is forked, not yet bound
        supervisor.proc.wait(10)
        _open_gate(gate)  # the worker goes on to start, its supervisor gone
        stopped = watch.wait(timeout_s=30)
        if not stopped:
            os.kill(restarted, signal.SIGKILL)
        assert stopped, f"worker {restarted} outlived its supervisor"
        supervisor.wait_for("died before this worker started", 10)
    finally:
        if watch is not None:
            watch.close()
        supervisor.stop()


def _gated_pid(line: str) -> int:
    return int(line.rsplit("pid", 1)[1])


def _next_gated(process: EmsProcess, after: int) -> str:
    """The gate line of the first worker started after the one with pid ``after``."""
    while True:
        line = process.wait_for("worker at the gate", 30)
        if _gated_pid(line) != after:
            return line
        process.lines.remove(line)  # that worker's own line: wait for the next one


def _open_gate(gate: Path) -> None:
    """Let the worker waiting at the gate through: its FIFO read ends when we close."""
    with gate.open("wb"):
        pass


def test_several_workers_need_shared_state(tmp_path: Path) -> None:
    with pytest.raises(EmsError, match="EMS_REDIS_URL and EMS_DATABASE_URL"):
        check_workers(CloudSettings(workers=2, data_dir=tmp_path))
    with pytest.raises(EmsError, match="fixed port"):
        check_workers(
            CloudSettings(
                workers=2,
                port=0,
                data_dir=tmp_path,
                redis_url="redis://127.0.0.1:1",
                database_url="postgresql://x@127.0.0.1/x",
            )
        )
