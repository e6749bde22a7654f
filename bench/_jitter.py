"""What the cycle-jitter benchmarks share: running an edge's cycle and reading its jitter.

``bench/cycle_jitter.py`` (the demo site) and ``bench/devices.py`` (the demo
site with a hung Modbus device) both run an :class:`EdgeRuntime` for a number
of cycles and take the start jitter the cycle publishes on ``_cycle/JitterMs``.
"""

from __future__ import annotations

from ems.dal import Sample
from ems.edge.runtime import EdgeRuntime

__all__ = ["cycle_jitter_ms", "percentile"]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def cycle_jitter_ms(runtime: EdgeRuntime, cycles: int) -> list[float]:
    """Run ``cycles`` cycles with the simulator and driver threads; each start jitter [ms]."""
    jitter: list[float] = []

    def record(_address: str, sample: Sample) -> None:
        jitter.append(float(sample.value))  # type: ignore[arg-type]

    runtime.store.watch("_cycle/JitterMs", record)
    runtime.host.tick_all()
    runtime.host.start()
    runtime.drivers.start()  # none on a site of simulators only
    try:
        await runtime.cycle.run(max_cycles=cycles)
    finally:
        runtime.drivers.stop()
        runtime.host.stop()
    return jitter
