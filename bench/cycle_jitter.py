"""Cycle start jitter against the absolute deadline (DESIGN section 11).

Runs the demo site's edge (simulator threads and the manual override
controller) at a 100 ms period, and in the same run a bare asyncio loop that
sleeps until the same kind of absolute deadlines, as the baseline. Prints one
JSON object: p50/p99/max start jitter in ms, drift_ms (median lateness of the
last tenth of cycles minus that of the first tenth: what accumulates) and the
baseline's p99.

    python bench/cycle_jitter.py [--cycles 600] [--period-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from _jitter import cycle_jitter_ms, percentile  # bench/
from ems.clock import RealClock
from ems.edge.config import load_edge_config
from ems.edge.runtime import EdgeRuntime

BUDGET = {"p99_ms": 2.0, "drift_ms": 0.0}


def drift(values: list[float]) -> float:
    tenth = max(1, len(values) // 10)
    return statistics.median(values[-tenth:]) - statistics.median(values[:tenth])


async def edge_jitter_ms(cycles: int, period_s: float) -> list[float]:
    config = load_edge_config(None)
    config = config.model_copy(
        update={"cycle": config.cycle.model_copy(update={"period_s": period_s})}
    )
    runtime = EdgeRuntime(config, RealClock())
    return await cycle_jitter_ms(runtime, cycles)


async def baseline_jitter_ms(cycles: int, period_s: float) -> list[float]:
    """A bare absolute-deadline loop: the floor this machine's event loop allows."""
    jitter: list[float] = []
    t0 = time.monotonic()
    for k in range(cycles):
        deadline = t0 + k * period_s
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        jitter.append((time.monotonic() - deadline) * 1000.0)
    return jitter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=600)
    parser.add_argument("--period-ms", type=float, default=100.0)
    args = parser.parse_args()
    period_s = args.period_ms / 1000.0
    edge = asyncio.run(edge_jitter_ms(args.cycles, period_s))
    base = asyncio.run(baseline_jitter_ms(args.cycles, period_s))
    result = {
        "cycles": len(edge),
        "period_ms": args.period_ms,
        "p50_ms": round(percentile(edge, 0.50), 3),
        "p99_ms": round(percentile(edge, 0.99), 3),
        "max_ms": round(max(edge), 3),
        "drift_ms": round(drift(edge), 3),
        "baseline_p50_ms": round(percentile(base, 0.50), 3),
        "baseline_p99_ms": round(percentile(base, 0.99), 3),
        "baseline_max_ms": round(max(base), 3),
        "budget": BUDGET,
    }
    result["ok"] = result["p99_ms"] <= BUDGET["p99_ms"] and abs(result["drift_ms"]) < 1.0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
