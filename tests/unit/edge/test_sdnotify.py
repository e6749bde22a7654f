"""systemd notify protocol over a real unix datagram socket standing in for systemd."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ems.edge.sdnotify import notify, watchdog_interval_s, watchdog_loop

RECV_TIMEOUT_S = 5.0


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    """A bound datagram socket and the environment that names it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(RECV_TIMEOUT_S)
    yield sock, {"NOTIFY_SOCKET": str(path)}
    sock.close()


def _pending(sock: socket.socket) -> list[bytes]:
    sock.setblocking(False)
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096))
        except BlockingIOError:
            return messages


def test_notify_sends_one_datagram(systemd: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = systemd
    assert notify("READY=1", env)
    assert sock.recv(4096) == b"READY=1"


def test_abstract_socket_address() -> None:
    name = f"ems-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(RECV_TIMEOUT_S)
        assert notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STOPPING=1"


def test_without_systemd_nothing_is_sent() -> None:
    assert not notify("READY=1", {})


def test_a_socket_that_is_gone_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "absent.sock")})
    assert "cannot notify systemd" in caplog.text


def test_watchdog_interval() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    own = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(own) == 2.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None


def test_watchdog_pings_while_cycles_advance(
    systemd: tuple[socket.socket, dict[str, str]],
) -> None:
    sock, env = systemd
    cycles = iter(range(1000))

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            watchdog_loop(lambda: next(cycles), 0.02, stop, lambda m: notify(m, env))
        )
        loop = asyncio.get_running_loop()
        for _ in range(3):  # three pings, each waited for with a timeout
            assert await loop.run_in_executor(None, sock.recv, 4096) == b"WATCHDOG=1"
        stop.set()
        await asyncio.wait_for(task, RECV_TIMEOUT_S)

    asyncio.run(run())


def test_a_stuck_cycle_gets_no_ping(
    systemd: tuple[socket.socket, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    sock, env = systemd

    async def run() -> None:
        stop = asyncio.Event()
        checks = 0

        def progress() -> int:
            nonlocal checks
            checks += 1
            if checks == 4:  # the first reading, then three checks without progress
                stop.set()
            return 7

        await asyncio.wait_for(
            watchdog_loop(progress, 0.02, stop, lambda m: notify(m, env)), RECV_TIMEOUT_S
        )

    asyncio.run(run())
    assert _pending(sock) == []
    assert "no control cycle" in caplog.text
