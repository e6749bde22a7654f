"""SunSpec over loopback Modbus TCP: discovery time and one poll of a device's channels.

Serves the demo site's battery and PV inverter as ``ems devices serve`` does
(pymodbus servers answering from SunSpec maps) and reads them through the
driver library as the edge's polling thread would: ``discover`` once, then
``read_values`` per poll (each poll reads every model the profile needs, in
reads of at most 125 registers). Prints one JSON object: discovery ms, poll
p50/p99/max ms per device, and the registers and requests of one poll.

    python bench/sunspec.py [--polls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from ems.drivers.sunspec import Registers, discover, open_tcp, profile_of, read_values
from ems.drivers.sunspec.server import SiteServers
from ems.drivers.sunspec.site import ServedSite
from ems.edge.config import load_edge_config


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Counting:
    """Counts the registers and requests that pass through."""

    def __init__(self, inner: Registers) -> None:
        self.inner = inner
        self.registers = 0
        self.requests = 0

    def read(self, address: int, count: int) -> list[int]:
        self.registers += count
        self.requests += 1
        return self.inner.read(address, count)

    def write(self, address: int, values: Sequence[int]) -> None:
        self.inner.write(address, values)


def bench_device(port: int, polls: int) -> dict[str, Any]:
    client, plain = open_tcp("127.0.0.1", port, timeout_s=1.0)
    regs = Counting(plain)
    try:
        began = time.perf_counter()
        smap = discover(regs)
        discovery_ms = (time.perf_counter() - began) * 1000
        profile = profile_of(smap)
        assert profile is not None
        poll_ms: list[float] = []
        regs.registers = regs.requests = 0
        for _ in range(polls):
            began = time.perf_counter()
            read_values(regs, smap, profile)
            poll_ms.append((time.perf_counter() - began) * 1000)
    finally:
        client.close()
    return {
        "profile": profile,
        "discovery_ms": round(discovery_ms, 2),
        "poll_p50_ms": round(percentile(poll_ms, 0.5), 3),
        "poll_p99_ms": round(percentile(poll_ms, 0.99), 3),
        "poll_max_ms": round(max(poll_ms), 3),
        "registers_per_poll": regs.registers // polls,
        "requests_per_poll": regs.requests // polls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=300)
    args = parser.parse_args()

    site = ServedSite.from_config(load_edge_config())
    site.step(time.time())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers = SiteServers(site, 0)
    ports = asyncio.run_coroutine_threadsafe(servers.start(), loop).result(30)
    try:
        result = {device: bench_device(port, args.polls) for device, port in ports.items()}
    finally:
        asyncio.run_coroutine_threadsafe(servers.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    print(json.dumps({"polls": args.polls, "devices": result}))


if __name__ == "__main__":
    main()
