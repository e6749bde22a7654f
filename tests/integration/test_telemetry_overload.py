"""Twice the telemetry a cloud process can store: bounded, nothing lost, commands answered.

The cloud (``throttled_cloud.py``, a real ``ems cloud`` app in a child process)
stores at most ``STORE_ROWS_PER_S`` values a second; edges speaking the wire
protocol offer twice that for ``LOAD_S`` seconds. They behave as the real
edge's link does: every frame stays in the edge's buffer until its
``telemetry_ack``; acks of commands are written before telemetry; a frame not
acked within ``ACK_TIMEOUT_S`` is sent again as backfill. The test checks that

- the values the cloud holds stay within its intake bound and its RSS stays
  flat once the load is on, while ``/metrics`` shows it shedding;
- a dashboard's command to an overloaded edge is answered, to ``executed``;
- after the load stops, every frame of every edge is stored exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from support.processes import free_port

pytestmark = pytest.mark.asyncio

STORE_ROWS_PER_S = 1000.0
INTAKE_ROWS = 400
EDGES = 8
CHANNELS = 10  # per frame, the cycle index among them
FRAMES_PER_S = 2 * STORE_ROWS_PER_S / CHANNELS / EDGES  # per edge: twice the capacity in all
LOAD_S = 20.0
ACK_TIMEOUT_S = 5.0
INFLIGHT_BACKFILL = 32  # the edge's inflight_frames: frames sent again, unacked, at most
DRAIN_TIMEOUT_S = 180.0
RUNNER = Path(__file__).with_name("throttled_cloud.py")
PASSWORD = "overload-Password-1"


def now_iso(at: float | None = None) -> str:
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class SimEdge:
    """An edge's link, reduced to what matters here (see the module docstring)."""

    edge_id: str
    key: str
    url: str
    seq: int = 0
    buffered: dict[int, str] = field(default_factory=dict)  # seq -> text, until acked
    sent_at: dict[int, float] = field(default_factory=dict)  # seq -> monotonic, unacked
    due: list[int] = field(default_factory=list)  # seqs to send (new or again)
    acks: list[str] = field(default_factory=list)  # command acks to send first
    commands: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    acked: asyncio.Event = field(default_factory=asyncio.Event)  # set on every telemetry_ack
    ws: ClientConnection | None = None

    async def connect(self) -> None:
        self.ws = await connect(self.url, ping_interval=None, max_size=2**22)
        auth = {"type": "auth", "edge_id": self.edge_id, "api_key": self.key}
        await self.ws.send(json.dumps({**auth, "edge_time": now_iso()}))
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert hello["type"] == "auth_ok", hello
        devices = [{"id": "battery_1", "profile": "battery"}]
        await self.ws.send(json.dumps({"type": "inventory", "devices": devices}))

    def capture(self) -> None:
        """One cycle: a new frame into the buffer, to be sent."""
        self.seq += 1
        at = now_iso()
        channels = {
            "_cycle/Index": {"v": self.seq, "t": at},
            "battery_1/MaxChargePower": {"v": 5000.0, "t": at},
            "battery_1/MaxDischargePower": {"v": 5000.0, "t": at},
        }
        for k in range(CHANNELS - len(channels)):
            channels[f"grid/Extra{k}"] = {"v": 1000.0 + k, "t": at}
        frame = {"type": "telemetry", "seq": self.seq, "ts": at, "channels": channels}
        self.buffered[self.seq] = json.dumps(frame, separators=(",", ":"))
        self.due.append(self.seq)
        self.wake.set()

    def resend_unacked(self) -> None:
        """Frames sent longer than the ack timeout ago go out again, as backfill."""
        limit = time.monotonic() - ACK_TIMEOUT_S
        late = [seq for seq, at in self.sent_at.items() if at < limit]
        for seq in late:
            del self.sent_at[seq]
            self.due.append(seq)
        if late:
            self.wake.set()

    async def write(self) -> None:
        assert self.ws is not None
        while True:
            self.wake.clear()
            if self.acks:
                await self.ws.send(self.acks.pop(0))
                continue
            # The newest frame goes out live; older ones as backfill, a window at a time.
            live = self.due and self.due[-1] == self.seq and self.seq not in self.sent_at
            if live or (self.due and len(self.sent_at) < INFLIGHT_BACKFILL):
                seq = self.due.pop() if live else self.due.pop(0)
                text = self.buffered.get(seq)
                if text is None:  # acked meanwhile
                    continue
                if not live:
                    text = text[:-1] + ',"backfill":true}'
                await self.ws.send(text)  # waits while the cloud does not read (TCP)
                self.sent_at[seq] = time.monotonic()
                continue
            await self.wake.wait()

    async def read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "telemetry_ack":
                    self.buffered.pop(frame["seq"], None)
                    self.sent_at.pop(frame["seq"], None)
                    self.acked.set()
                    self.wake.set()  # room in the window
                elif frame["type"] == "command":
                    self.commands += 1
                    for status in ("delivered", "executed"):
                        ack = {
                            "type": "ack",
                            "command_id": frame["command_id"],
                            "status": status,
                            "at": now_iso(),
                        }
                        self.acks.append(json.dumps(ack))
                    self.wake.set()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def scrape(base: str) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://{base}/metrics", timeout=10)).text
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, str]]]:
    port = free_port()
    argv = [sys.executable, str(RUNNER), "--port", str(port), "--data-dir", str(tmp_path)]
    argv += ["--rows-per-s", str(STORE_ROWS_PER_S), "--intake-rows", str(INTAKE_ROWS)]
    for i in range(EDGES):
        argv += ["--edge", f"ov-{i + 1}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the runner's one line once it listens
        if not line:
            raise AssertionError(f"throttled cloud exited ({proc.wait()})")
        yield proc, f"127.0.0.1:{port}", json.loads(line)["keys"]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:  # else the pipe is left to the GC, in a later test
            proc.stdout.close()


@pytest.mark.timeout(300)  # every wait inside has its own bound
async def test_twice_the_capacity_is_bounded_lossless_and_commands_are_answered(
    cloud: tuple[subprocess.Popen[str], str, dict[str, str]], tmp_path: Path
) -> None:
    proc, base, keys = cloud
    edges = [SimEdge(e, k, f"ws://{base}/ws/edge") for e, k in sorted(keys.items())]
    await asyncio.gather(*(edge.connect() for edge in edges))
    tasks = [asyncio.create_task(t) for e in edges for t in (e.write(), e.read())]
    samples: list[dict[str, float]] = []
    rss: list[tuple[float, int]] = []
    verdicts: dict[str, float] = {}

    async def load() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while loop.time() - start < LOAD_S:
            n += 1
            # Absolute deadlines: the offered rate does not sag when the loop is late.
            await asyncio.sleep(max(0.0, start + n / FRAMES_PER_S - loop.time()))
            for edge in edges:
                edge.capture()
                edge.resend_unacked()

    async def watch(stop: asyncio.Event) -> None:
        start = time.monotonic()
        while not stop.is_set():
            samples.append(await scrape(base))
            rss.append((time.monotonic() - start, rss_kb(proc.pid)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    async def operator() -> None:
        await asyncio.sleep(LOAD_S / 2)  # well into the overload
        async with httpx.AsyncClient() as client:
            r = await client.post(
                f"http://{base}/auth/token", json={"username": "olga", "password": PASSWORD}
            )
        token = r.json()["access"]
        async with connect(f"ws://{base}/ws/ui?token={token}") as ui:
            assert json.loads(await asyncio.wait_for(ui.recv(), 10))["type"] == "auth_ok"
            command_id = str(uuid.uuid4())
            sent = time.monotonic()
            command = {
                "type": "command",
                "command_id": command_id,
                "edge_id": edges[0].edge_id,
                "device": "battery_1",
                "action": "set_active_power",
                "value": -1000,
                "issued_at": now_iso(),
            }
            await ui.send(json.dumps(command))
            while "executed" not in verdicts:
                frame = json.loads(await asyncio.wait_for(ui.recv(), 30))
                if frame.get("type") == "ack" and frame["command_id"] == command_id:
                    assert frame["status"] not in ("rejected", "failed"), (
                        frame,
                        verdicts,
                        time.monotonic() - sent,
                    )
                    verdicts.setdefault(frame["status"], time.monotonic() - sent)

    stop_watch = asyncio.Event()
    watcher = asyncio.create_task(watch(stop_watch))
    try:
        await asyncio.gather(load(), operator())
        load_samples = list(samples)
        load_rss = list(rss)
        # Drained: every frame acked, resending what was shed (as the edge does).
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while any(edge.buffered for edge in edges):
            assert time.monotonic() < deadline, [len(e.buffered) for e in edges]
            for edge in edges:
                edge.resend_unacked()
                edge.acked.clear()
            with contextlib.suppress(TimeoutError):  # an ack, or time to resend
                await asyncio.wait_for(
                    asyncio.gather(*(e.acked.wait() for e in edges if e.buffered)), ACK_TIMEOUT_S
                )
    finally:
        stop_watch.set()
        await watcher
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for edge in edges:
            if edge.ws is not None:
                await edge.ws.close()

    # Bounded: never more held than the intake (plus one frame), shedding visible.
    assert max(s["ems_telemetry_intake_values"] for s in load_samples) <= INTAKE_ROWS + CHANNELS
    assert max(s["ems_telemetry_shedding"] for s in load_samples) == 1
    assert max(s["ems_telemetry_paused_edges"] for s in load_samples) >= 1
    # RSS flat after the first quarter of the load (a scaled-down "first minute").
    settled = [kb for at, kb in load_rss if at >= LOAD_S / 4]
    assert settled and max(settled) - settled[0] < 20_000, load_rss
    # Commands answered during the overload.
    assert "received" in verdicts and verdicts["received"] < 5.0, verdicts
    assert verdicts["executed"] < 15.0, verdicts
    assert edges[0].commands == 1
    # Nothing lost, nothing twice: every seq of every edge stored once.
    proc.terminate()
    proc.wait(20)
    with contextlib.closing(sqlite3.connect(tmp_path / "telemetry.sqlite3")) as db:
        for edge in edges:
            stored = [
                int(v)
                for (v,) in db.execute(
                    "SELECT value FROM telemetry WHERE edge_id = ? AND channel = '_cycle/Index' "
                    "ORDER BY value",
                    (edge.edge_id,),
                )
            ]
            assert stored == list(range(1, edge.seq + 1)), (edge.edge_id, len(stored), edge.seq)
    assert edges[0].seq >= LOAD_S * FRAMES_PER_S * 0.9  # the load was offered in full
