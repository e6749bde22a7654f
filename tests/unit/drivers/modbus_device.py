"""A real Modbus device for the driver tests: pymodbus's own server on loopback.

The server runs on its own event loop thread, started and stopped by the test.
It can be shut down (nothing listens), frozen (connections stay open but no
request is answered, as a hung device), and thawed again.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import threading
import tty
from collections.abc import Mapping

from pymodbus.client import ModbusTcpClient
from pymodbus.framer import FramerType
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimAction, SimData, SimDevice

UNIT_ID = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def device(
    holding: Mapping[int, int],
    inputs: Mapping[int, int],
    size: int = 200,
    unit_id: int = UNIT_ID,
    action: SimAction | None = None,
) -> SimDevice:
    """A unit with ``size`` holding and input registers (0-based), zero but for those given.

    ``action`` (pymodbus's hook, an async function) sees every request before the
    server answers it: to record writes or refuse them with an exception code.
    """
    hr = [holding.get(a, 0) for a in range(size)]
    ir = [inputs.get(a, 0) for a in range(size)]
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    return SimDevice(
        unit_id,
        simdata=(
            bits,
            bits,
            [SimData(0, values=hr, datatype=DataType.REGISTERS)],
            [SimData(0, values=ir, datatype=DataType.REGISTERS)],
        ),
        action=action,
    )


class ServerThread:
    """pymodbus's TCP server for one :class:`SimDevice`, on a loop thread of its own."""

    def __init__(
        self,
        sim: SimDevice,
        port: int | None = None,
        framer: str = "socket",
        serial_port: str | None = None,
    ) -> None:
        """TCP on loopback ``port``; or RTU on ``serial_port`` (a pty) when given."""
        self.sim = sim
        self.port = port or free_port()
        self.framer = FramerType(framer)
        self.serial_port = serial_port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusBaseServer | None = None
        self._frozen = threading.Event()

    def start(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            if self.serial_port is not None:
                self._server = ModbusSerialServer(
                    self.sim, port=self.serial_port, framer=FramerType.RTU, baudrate=115200
                )
            else:
                self._server = ModbusTcpServer(
                    self.sim, address=("127.0.0.1", self.port), framer=self.framer
                )
            await self._server.serve_forever(background=True)
            ready.set()
            await self._server.serving
            # Transports close on the loop's next turns: let them, so no socket leaks.
            for _ in range(20):
                await asyncio.sleep(0.01)

        def run() -> None:
            loop.run_until_complete(serve())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="modbus-server", daemon=True)
        self._thread.start()
        assert ready.wait(5), "the pymodbus server did not start"

    def stop(self) -> None:
        self.thaw()
        if self._loop is None or self._server is None or self._thread is None:
            return
        # A thawed loop first accepts what queued up while frozen, so shutdown closes it all.
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), self._loop).result(5)
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
        self._thread.join(5)
        self._loop = self._server = self._thread = None

    def freeze(self) -> None:
        """Block the server's loop: connections stay up, no request is answered."""
        assert self._loop is not None
        self._frozen.clear()
        blocked = threading.Event()

        def hang() -> None:
            blocked.set()
            self._frozen.wait(30)

        self._loop.call_soon_threadsafe(hang)
        assert blocked.wait(5)

    def thaw(self) -> None:
        self._frozen.set()

    def client(self) -> ModbusTcpClient:
        """pymodbus's own client on the same server, to check what a write left there."""
        c = ModbusTcpClient("127.0.0.1", port=self.port, timeout=2, retries=1, framer=self.framer)
        assert c.connect()
        return c


def started(server: ServerThread, servers: list[ServerThread]) -> ServerThread:
    """``server``, started and put on ``servers`` (the ``modbus_server`` fixture) to be
    stopped after the test (stopping a stopped one does nothing)."""
    server.start()
    servers.append(server)
    return server


def edge_document(*devices: dict[str, object], manual: bool = False) -> dict[str, object]:
    """An edge YAML document (as decoded) with ``devices``, and a manual override if asked."""
    doc: dict[str, object] = {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": list(devices),
    }
    if manual:
        doc["controllers"] = [{"id": "manual_override", "type": "manual_override", "priority": 100}]
    return doc


def modbus_device(
    device_id: str, profile: str, template: str, port: int, **params: object
) -> dict[str, object]:
    return {
        "id": device_id,
        "profile": profile,
        "driver": "modbus_tcp",
        "params": {
            "host": "127.0.0.1",
            "port": port,
            "unit_id": UNIT_ID,
            "template": template,
            "poll_s": 0.05,
            "timeout_s": 0.2,
            "retries": 1,
            "backoff_s": 0.01,
            **params,
        },
    }


class PtyLink:
    """Two pseudo-terminals wired back to back: a serial line with a path at each end.

    A pty's master side has no path to open, so each end is a pty of its own and
    a thread copies bytes between the two masters (as a null-modem cable would).
    """

    def __init__(self) -> None:
        self._a_master, a_slave = os.openpty()
        self._b_master, b_slave = os.openpty()
        for fd in (a_slave, b_slave):
            tty.setraw(fd)  # no echo, no line editing: bytes pass unchanged
        self.a_path, self.b_path = os.ttyname(a_slave), os.ttyname(b_slave)
        self._slaves = (a_slave, b_slave)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="pty-link", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        peer = {self._a_master: self._b_master, self._b_master: self._a_master}
        while True:
            ready, _, _ = select.select([self._a_master, self._b_master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the slave side is not open (yet): nothing to copy
                    continue
                os.write(peer[fd], data)

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for fd in (self._a_master, self._b_master, *self._slaves, self._stop_r, self._stop_w):
            os.close(fd)
