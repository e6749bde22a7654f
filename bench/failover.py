"""Edge HA failover: how long until the other node controls, and the gap the devices see.

Runs the pair of ``support.ha_pair`` as real processes (SunSpec devices
behind ``ems devices serve``, a witness, two ``ems edge --ha-node``, a scripted
cloud) and fails the leader ``--failovers`` times: ``kill`` (SIGKILL, then the
node is started again as the follower) or ``stop`` (SIGSTOP until the other
took over, then SIGCONT). For each failover:

- ``takeover_s``: from the signal to the other node reporting itself leader
  (its ``GET /ha``, polled every 20 ms);
- ``first_write_s``: from the signal to the new leader's first device write;
- ``control_gap_s``: from the old leader's last device write to the new
  leader's first (the device server's write log), and the same in cycles;
- whether the two nodes' writes ever interleaved (they must not).

Prints one JSON object with p50/p95/max of each and every failover's figures.

    python bench/failover.py [--failovers 20] [--kind kill|stop] [--period-s 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from support.fake_cloud import FakeCloud
from support.ha_pair import HaPair, writer_blocks

WAIT_S = 60.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 3),
        "p95": round(percentile(values, 0.95), 3),
        "max": round(max(values), 3),
    }


async def wait_role(pair: HaPair, name: str, role: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while True:
            status = await pair.status(name)
            if status is not None and status.get("role") == role:
                return
            await asyncio.sleep(0.05)


async def wait_writes_by(pair: HaPair, name: str, after_s: float) -> float:
    """The time of ``name``'s first device write after ``after_s`` (UTC epoch s)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            for write in pair.writes():
                if write.node == name and write.t > after_s:
                    return write.t
            await asyncio.sleep(0.05)


async def run(failovers: int, kind: str, period_s: float, root: Path) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    async with FakeCloud(serve_profiles=True) as cloud:
        pair = HaPair(cloud, root, period_s=period_s)
        try:
            await pair.start()
            for i in range(failovers):
                leader = await pair.wait_leader(WAIT_S)
                other = "b" if leader == "a" else "a"
                await wait_role(pair, other, "follower")
                # Both nodes settled: the leader has been writing for a cycle or more.
                await wait_writes_by(pair, leader, time.time() - period_s)
                failed_at = time.time()
                started = time.monotonic()
                if kind == "kill":
                    pair.edges[leader].kill()
                else:
                    pair.edges[leader].signal(signal.SIGSTOP)
                await pair.wait_leader(WAIT_S, among=(other,), poll_s=0.02)
                takeover_s = time.monotonic() - started
                first_new = await wait_writes_by(pair, other, failed_at - period_s)
                last_old = max(
                    (w.t for w in pair.writes() if w.node == leader and w.t <= first_new),
                    default=failed_at,
                )
                if kind == "kill":
                    pair.start_edge(leader)
                else:
                    pair.edges[leader].signal(signal.SIGCONT)
                await wait_role(pair, leader, "follower")
                gap_s = first_new - last_old
                rows.append(
                    {
                        "failover": i + 1,
                        "from": leader,
                        "takeover_s": round(takeover_s, 3),
                        "first_write_s": round(first_new - failed_at, 3),
                        "control_gap_s": round(gap_s, 3),
                        "control_gap_cycles": round(gap_s / period_s, 2),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            blocks = writer_blocks(pair.writes())
        finally:
            await pair.stop()
    takeovers = [r["takeover_s"] for r in rows]
    gaps = [r["control_gap_s"] for r in rows]
    firsts = [r["first_write_s"] for r in rows]
    return {
        "bench": "failover",
        "kind": kind,
        "failovers": failovers,
        "period_s": period_s,
        "takeover_s": summary(takeovers),
        "first_write_s": summary(firsts),
        "first_write_within_two_cycles": sum(1 for f in firsts if f <= 2 * period_s),
        "control_gap_s": summary(gaps),
        "control_gap_cycles": summary([g / period_s for g in gaps]),
        "gap_within_two_cycles": sum(1 for g in gaps if g <= 2 * period_s),
        # One run of writes per node per term: more runs than terms means interleaving.
        "writer_runs": len(blocks),
        "interleaved": len(blocks) != failovers + 1,
        "note": "measured on a loaded shared 2-core machine",
        "runs": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=20)
    parser.add_argument("--kind", choices=("kill", "stop"), default="kill")
    parser.add_argument("--period-s", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ems-failover-") as tmp:
        result = asyncio.run(run(args.failovers, args.kind, args.period_s, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
