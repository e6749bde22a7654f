"""DAL benchmark: ``set_channel`` throughput and ``snapshot`` latency.

Measures the channel store against DESIGN section 11:

* ``set_per_s``: single-threaded ``ChannelStore.set_channel`` calls per second on
  pre-declared channels, default timestamps from a real clock, no watchers;
  best of several rounds of at least ``--min-seconds`` of work each.
* ``snapshot_10k_ms``: p50 (and p99) wall time of ``snapshot()`` over a store
  holding 10,000 channels that all have a value.

Prints one JSON object. Exit status 0 when within budget, 1 otherwise.

    .venv/bin/python bench/dal.py [--rounds 3] [--min-seconds 1.0] [--snapshots 2000]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

from ems.clock import RealClock
from ems.dal import Category, ChannelStore

BUDGET_SET_PER_S = 300_000
BUDGET_SNAPSHOT_10K_MS = 2.0
N_SNAPSHOT_CHANNELS = 10_000


def _declared_store(n_devices: int, per_device: int) -> tuple[ChannelStore, list[str]]:
    store = ChannelStore(RealClock())
    addresses = [f"device_{d}/Channel{c}" for d in range(n_devices) for c in range(per_device)]
    for address in addresses:
        store.declare(address, Category.INPUT, unit="W")
    return store, addresses


def _quiet(fn: Callable[[], float]) -> float:
    """Run ``fn`` with the cyclic GC paused so a collection does not land in one round."""
    gc.collect()
    gc.disable()
    try:
        return fn()
    finally:
        gc.enable()


def bench_set(rounds: int, min_seconds: float) -> tuple[float, list[float]]:
    """Best-of-``rounds`` ``set_channel`` calls per second."""
    store, addresses = _declared_store(n_devices=20, per_device=50)  # 1,000 channels
    set_channel = store.set_channel
    values = [float(i) for i in range(len(addresses))]
    pairs = list(zip(addresses, values, strict=True))

    def one_pass() -> None:
        for address, value in pairs:
            set_channel(address, value)

    # Calibrate: enough passes for ``min_seconds`` of work per round.
    t0 = time.perf_counter()
    one_pass()
    per_pass = max(time.perf_counter() - t0, 1e-6)
    passes = max(1, int(min_seconds / per_pass) + 1)

    def one_round() -> float:
        start = time.perf_counter()
        for _ in range(passes):
            one_pass()
        elapsed = time.perf_counter() - start
        return passes * len(pairs) / elapsed

    rates = [_quiet(one_round) for _ in range(rounds)]
    return max(rates), rates


def _percentiles(times_ms: list[float]) -> tuple[float, float, float]:
    times_ms = sorted(times_ms)
    p99 = times_ms[min(len(times_ms) - 1, round(0.99 * (len(times_ms) - 1)))]
    return statistics.median(times_ms), p99, times_ms[-1]


def bench_snapshot(
    n_samples: int,
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(p50, p99, max) milliseconds of ``snapshot()`` over 10,000 set channels, and
    the same for ``snapshot(categories=[INPUT])`` (half the channels are outputs)."""
    store, addresses = _declared_store(n_devices=200, per_device=N_SNAPSHOT_CHANNELS // 200)
    assert len(addresses) == N_SNAPSHOT_CHANNELS
    store.set_channels({a: float(i) for i, a in enumerate(addresses)})
    snap = store.snapshot()
    assert len(snap) == N_SNAPSHOT_CHANNELS, len(snap)

    def timed(fn: Callable[[], object]) -> tuple[float, float, float]:
        for _ in range(50):  # warm up
            fn()
        # The GC stays on here: a collection is part of what a real caller pays.
        times_ms: list[float] = []
        for _ in range(n_samples):
            start = time.perf_counter()
            fn()
            times_ms.append((time.perf_counter() - start) * 1e3)
        return _percentiles(times_ms)

    full = timed(store.snapshot)

    mixed, mixed_addresses = _declared_store(n_devices=200, per_device=25)
    for d in range(200):
        for c in range(25):
            mixed.declare(f"device_{d}/SetChannel{c}", Category.OUTPUT)
    mixed.set_channels({i.address: 1.0 for i in mixed.channels()})
    assert len(mixed.snapshot()) == N_SNAPSHOT_CHANNELS
    assert len(mixed.snapshot([Category.INPUT])) == len(mixed_addresses)
    filtered = timed(lambda: mixed.snapshot([Category.INPUT]))
    return full, filtered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="set_channel rounds (best of)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="work per set_channel round")
    parser.add_argument("--snapshots", type=int, default=2000, help="snapshot() samples")
    args = parser.parse_args(argv)

    set_per_s, rates = bench_set(args.rounds, args.min_seconds)
    (p50, p99, worst), (f50, f99, _) = bench_snapshot(args.snapshots)
    ok = set_per_s >= BUDGET_SET_PER_S and p50 <= BUDGET_SNAPSHOT_10K_MS
    result = {
        "set_per_s": round(set_per_s),
        "set_per_s_rounds": [round(r) for r in rates],
        "snapshot_10k_ms": round(p50, 4),
        "snapshot_10k_p99_ms": round(p99, 4),
        "snapshot_10k_max_ms": round(worst, 4),
        "snapshot_10k_filtered_ms": round(f50, 4),
        "snapshot_10k_filtered_p99_ms": round(f99, 4),
        "snapshot_samples": args.snapshots,
        "budget": {"set_per_s": BUDGET_SET_PER_S, "snapshot_10k_ms": BUDGET_SNAPSHOT_10K_MS},
        "ok": ok,
        "python": platform.python_version(),
    }
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
