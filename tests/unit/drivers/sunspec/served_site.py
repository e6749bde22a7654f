"""A site's simulators served as SunSpec devices on loopback, as ``ems devices serve`` does.

The servers run in an event loop of their own thread (as the CLI's would);
the test steps the simulators itself, so what the maps hold is known.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ems.dal import Value
from ems.drivers.sunspec.server import SiteServers
from ems.drivers.sunspec.site import ServedSite
from ems.edge.config import parse_edge_config

T = TypeVar("T")


class LoopThread:
    """An event loop in its own thread; coroutines run in it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class Served:
    """The site's pv_inverter and battery simulators behind SunSpec maps, stepped by the test."""

    def __init__(self, site: dict[str, Any], now_s: float) -> None:
        self.now_s = now_s
        self.site = ServedSite.from_config(parse_edge_config(site))
        self.channels: dict[str, dict[str, Value]] = self.site.step(self.now_s)
        self.loop = LoopThread()
        self.servers = SiteServers(self.site, 0, clock=lambda: self.now_s)
        self.ports = self.loop.run(self.servers.start())

    def step(self, dt_s: float) -> dict[str, dict[str, Value]]:
        self.now_s += dt_s
        self.channels = self.site.step(self.now_s)
        return self.channels

    def stop_serving(self) -> None:
        """The devices stop answering: their ports close."""
        self.loop.run(self.servers.stop())

    def close(self) -> None:
        self.loop.run(self.servers.stop())
        self.loop.close()
