"""Where a streaming edge's bytes go in the cloud: tracemalloc, N edges against 2N.

DESIGN 11 budgets the cloud's memory per connected edge (≤ 50 KB);
``bench/telemetry.py`` measures it as RSS. This says who owns it: one cloud
process (``ems.cloud.app.create_app``, a throwaway ``redis-server``, the
embedded SQLite stores) traced by ``tracemalloc``; ``--edges`` simulated edges
(real API keys, the real ``/ws/edge`` protocol, ``--channels`` values a second
each, phases spread) connect from this process, then as many again. A
snapshot is taken after each half has streamed for ``--settle`` seconds, and
their difference per edge, grouped by the allocating line, is what one more
streaming edge costs. The telemetry store acknowledges without writing (the
database is not what is measured). Tracing slows the cloud several times, so
on a busy machine frames wait longer in it than untraced (the rows and
receive-queue lines grow with that lag); the shares are what to read.

Prints one JSON object: ``traced_bytes_per_edge``, ``rss_kb_per_edge`` (the
same step in RSS, tracemalloc's own bookkeeping included: about twice the
untraced figure) and ``top`` (bytes and blocks per edge by line).

    .venv/bin/python bench/edge_memory.py [--edges 200] [--channels 50] [--settle 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
import tempfile
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from support.processes import free_port
from support.redis import start_redis

if TYPE_CHECKING:
    from ems.cloud.telemetry import Row

CONNECT_CONCURRENCY = 10
FRAME_PERIOD_S = 1.0


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- the cloud (child process: --role cloud) -----------------------------------------
async def cloud(args: argparse.Namespace) -> None:
    import ems.authsvc as authsvc
    from ems.cloud.app import create_app
    from ems.cloud.serve import make_server
    from ems.cloud.settings import CloudSettings
    from ems.cloud.telemetry import SqliteTelemetryStore

    class DiscardingStore(SqliteTelemetryStore):
        """Acknowledges telemetry without keeping it: the database is not measured
        here, and a store slower than the traced cloud would fill the intake."""

        async def write(self, rows: Sequence[Row]) -> None:
            return None

    data_dir = Path(args.data_dir)
    settings = CloudSettings(
        host="127.0.0.1", port=args.port, data_dir=data_dir, redis_url=args.redis_url
    )
    app = create_app(settings, telemetry_store=DiscardingStore(data_dir / "telemetry.sqlite3"))
    edges = [f"mem-{i}" for i in range(2 * args.edges)]
    keys = await asyncio.to_thread(
        lambda: {e: authsvc.create_edge_key(e, "edge_memory bench") for e in edges}
    )
    server = make_server(app, settings)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)  # uvicorn offers no started event
    tracemalloc.start(1)
    print(json.dumps({"keys": keys}), flush=True)
    loop = asyncio.get_running_loop()
    taken = 0
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "snapshot":
        gc.collect()
        tracemalloc.take_snapshot().dump(str(Path(args.data_dir) / f"snapshot{taken}.bin"))
        print(json.dumps({"rss_kb": rss_kb()}), flush=True)
        taken += 1
    server.should_exit = True
    await task


# -- the edges (this process) --------------------------------------------------------
async def edge(
    url: str, edge_id: str, key: str, phase_s: float, channels: int, stop: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, ping_interval=None, max_size=2**22) as ws:
        auth = {"type": "auth", "edge_id": edge_id, "api_key": key, "edge_time": now_iso()}
        await ws.send(json.dumps(auth))
        hello = json.loads(await ws.recv())
        if hello.get("type") != "auth_ok":
            raise RuntimeError(f"{edge_id} not authenticated: {hello}")
        devices = [
            {"id": "battery_1", "profile": "battery"},
            {"id": "grid", "profile": "grid_meter"},
        ]
        await ws.send(json.dumps({"type": "inventory", "devices": devices}))

        async def read_acks() -> None:
            async for _ in ws:
                pass

        reader = asyncio.create_task(read_acks())
        seq = 0
        loop = asyncio.get_running_loop()
        next_s = loop.time() + phase_s
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_s - loop.time()))  # the frame's cycle, not a sync
            at = now_iso()
            body = ",".join(
                f'"grid/Extra{k}":{{"v":{1000.0 + (seq + k) % 97 * 10.5},"t":"{at}"}}'
                for k in range(channels)
            )
            await ws.send(f'{{"type":"telemetry","seq":{seq},"ts":"{at}","channels":{{{body}}}}}')
            seq += 1
            next_s += FRAME_PERIOD_S
        reader.cancel()


async def main_role(args: argparse.Namespace) -> dict[str, Any]:
    redis = start_redis()
    data_dir = Path(tempfile.mkdtemp(prefix="ems-edge-memory-"))
    port = free_port()
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, __file__, "--role", "cloud", "--port", str(port)),
        *("--data-dir", str(data_dir), "--redis-url", redis.url, "--edges", str(args.edges)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        keys: dict[str, str] = json.loads(await child.stdout.readline())["keys"]
        url = f"ws://127.0.0.1:{port}/ws/edge"
        ids = sorted(keys)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        rss: list[int] = []
        for half in (ids[: args.edges], ids[args.edges :]):
            for i, edge_id in enumerate(half):
                async with gate:
                    phase_s = (i / len(half)) * FRAME_PERIOD_S
                    tasks.append(
                        asyncio.create_task(
                            edge(url, edge_id, keys[edge_id], phase_s, args.channels, stop)
                        )
                    )
            await asyncio.sleep(args.settle)  # let this half stream: the measured state
            child.stdin.write(b"snapshot\n")
            await child.stdin.drain()
            rss.append(json.loads(await child.stdout.readline())["rss_kb"])
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} edges failed: {failed[0].exception()!r}")
    finally:
        stop.set()
        if child.stdin is not None and not child.stdin.is_closing():
            child.stdin.write(b"stop\n")
            await child.stdin.drain()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.wait_for(child.wait(), 60)
        redis.stop()
    try:
        first = tracemalloc.Snapshot.load(str(data_dir / "snapshot0.bin"))
        second = tracemalloc.Snapshot.load(str(data_dir / "snapshot1.bin"))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    stats = second.compare_to(first, "lineno")
    n = args.edges
    return {
        "edges": [n, 2 * n],
        "channels": args.channels,
        "traced_bytes_per_edge": round(sum(s.size_diff for s in stats) / n),
        "rss_kb_per_edge": round((rss[1] - rss[0]) / n, 1),
        "top": [
            {
                "bytes_per_edge": round(s.size_diff / n),
                "blocks_per_edge": round(s.count_diff / n, 1),
                "where": str(s.traceback[0]),
            }
            for s in stats[: args.top]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--edges", type=int, default=200, help="edges in each half (200)")
    parser.add_argument("--channels", type=int, default=50, help="values per frame (50)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds streamed per half (8)")
    parser.add_argument("--top", type=int, default=25, help="lines listed (25)")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.edges <= 5000 or not 1 <= args.channels <= 1000:
        parser.error("--edges or --channels out of range")
    if args.role == "cloud":
        from ems.cloud.serve import run_loop

        run_loop(cloud(args))
        return 0
    print(json.dumps(asyncio.run(main_role(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
