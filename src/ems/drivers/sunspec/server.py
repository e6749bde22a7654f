"""``ems devices serve``: a ``ServedSite`` on loopback Modbus TCP, one port per device.

Each device is a pymodbus server whose registers answer from the device's map
(``SimDevice.action`` copies the map into the response and hands writes to
the site), so reads always see the last step and writes reach the simulator.

Every write can be logged with its **writer**, the client's address and port
(``--write-log``): the HA tests read it to prove that two edges never write
in the same cycle.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from ems.drivers.sunspec.site import ServedSite

__all__ = ["LOOPBACK", "SiteServers", "WriteRecord", "run_site"]

LOOPBACK = "127.0.0.1"
UNIT_ID = 1

#: One logged write: time (UTC epoch s), device, register address, words, writer.
WriteRecord = dict[str, Any]

# The peer of the request being handled: set per request task, read by the action.
_writer: contextvars.ContextVar[str] = contextvars.ContextVar("modbus_writer", default="?")


class _TracingHandler(ServerRequestHandler):
    async def handle_request(self) -> None:
        peer = None
        transport: Any = getattr(self, "transport", None)
        if transport is not None:
            peer = transport.get_extra_info("peername")
        _writer.set("?" if not peer else f"{peer[0]}:{peer[1]}")
        await super().handle_request()  # type: ignore[no-untyped-call]  # unannotated


class _TracingServer(ModbusTcpServer):
    def callback_new_connection(self) -> ServerRequestHandler:
        return _TracingHandler(  # type: ignore[no-untyped-call]  # pymodbus is unannotated
            self, self.trace_packet, self.trace_pdu, self.trace_connect
        )


class SiteServers:
    """The site's Modbus TCP servers, started and stopped in the running event loop."""

    def __init__(
        self,
        site: ServedSite,
        first_port: int,
        clock: Callable[[], float] = time.time,
        on_write: Callable[[WriteRecord], None] | None = None,
    ) -> None:
        """``on_write``: told of every write, with its writer (the client's host:port)."""
        self.site = site
        self._on_write = on_write
        self.first_port = first_port
        self.clock = clock
        self.ports: dict[str, int] = {}
        self._servers: list[ModbusTcpServer] = []

    async def start(self) -> dict[str, int]:
        """Listen: ports ``first_port``, +1, … in the config's order (0: any free port each)."""
        for i, (device_id, device) in enumerate(self.site.devices.items()):
            image = device.served.image
            sim = SimDevice(
                id=UNIT_ID,
                simdata=[
                    SimData(
                        address=image.base, values=list(image.words), datatype=DataType.REGISTERS
                    )
                ],
                action=partial(self._action, device_id),
            )
            port = self.first_port + i if self.first_port else 0
            server = _TracingServer(sim, address=(LOOPBACK, port))
            await server.serve_forever(background=True)
            self._servers.append(server)
            transport: Any = server.transport
            self.ports[device_id] = int(transport.sockets[0].getsockname()[1])
        return self.ports

    async def stop(self) -> None:
        for server in self._servers:
            await server.shutdown()  # type: ignore[no-untyped-call]  # unannotated in pymodbus
        self._servers.clear()

    async def _action(
        self,
        device_id: str,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        offset = address - start_address
        if set_values:
            words = [int(v) for v in set_values]
            now_s = self.clock()
            self.site.write(device_id, address, words, now_s)
            if self._on_write is not None:
                self._on_write(
                    {
                        "t": now_s,
                        "device": device_id,
                        "address": address,
                        "words": words,
                        "writer": _writer.get(),
                    }
                )
        else:
            # The response is cut from ``registers`` after this returns: fill it from the map.
            registers[offset : offset + count] = self.site.read(device_id, address, count)
        return None


async def run_site(
    site: ServedSite,
    first_port: int,
    period_s: float,
    on_ready: Callable[[dict[str, int]], None],
    on_write: Callable[[WriteRecord], None] | None = None,
) -> None:
    """Step the site every ``period_s`` and serve it until cancelled."""
    servers = SiteServers(site, first_port, on_write=on_write)
    site.step(time.time())
    on_ready(await servers.start())
    try:
        loop = asyncio.get_running_loop()
        next_s = loop.time()
        while True:
            next_s += period_s
            await asyncio.sleep(max(0.0, next_s - loop.time()))
            site.step(time.time())
    finally:
        await servers.stop()
