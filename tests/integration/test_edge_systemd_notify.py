"""A real ``ems edge`` under a stand-in for systemd: a unix datagram socket named by
``NOTIFY_SOCKET`` receives ``READY=1`` once the edge runs, ``WATCHDOG=1`` while its
cycles run (``WATCHDOG_USEC`` set) and ``STOPPING=1`` on SIGTERM, as the
``Type=notify`` + ``WatchdogSec=`` unit in deploy/systemd expects."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.edge_process import START_S, edge_started, start_edge
from support.fake_cloud import FakeCloud

#: The watchdog timeout given to the edge [µs]: it pings every half of it.
WATCHDOG_USEC = 1_000_000


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    # A short directory: a unix socket path has at most 107 bytes.
    with tempfile.TemporaryDirectory(prefix="ems-sd-") as directory:
        path = str(Path(directory) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.setblocking(False)
        yield sock, path
        sock.close()


async def _message(sock: socket.socket, timeout_s: float) -> bytes:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout_s)


@pytest.mark.asyncio
async def test_edge_says_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    async with FakeCloud(serve_profiles=True) as cloud:
        edge = start_edge(
            cloud, tmp_path, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        )
        try:
            assert await _message(sock, START_S) == b"READY=1"
            await edge_started(cloud, datetime.now(UTC))
            for _ in range(2):
                assert await _message(sock, START_S) == b"WATCHDOG=1"
            edge.stop()  # SIGTERM
            messages = []
            while not messages or messages[-1] == b"WATCHDOG=1":
                messages.append(await _message(sock, START_S))
            assert messages[-1] == b"STOPPING=1"
        finally:
            edge.stop()
