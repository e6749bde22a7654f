"""systemd's notify protocol for ``ems edge`` under ``Type=notify`` and ``WatchdogSec=``.

The protocol is one datagram per message to the unix socket named by
``NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace), so no library is
needed. Without ``NOTIFY_SOCKET`` (not under systemd) every call does nothing.

The watchdog pings only while the control cycle makes progress: a process that is
alive but whose cycle is stuck (a hung device call, a deadlock) stops pinging, and
systemd kills and restarts it, which a plain ``Restart=`` on exit cannot do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

__all__ = ["notify", "watchdog_interval_s", "watchdog_loop"]

log = logging.getLogger(__name__)


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send ``message`` (e.g. ``READY=1``) to systemd; whether it was sent.

    A failure is logged, never raised: the edge keeps controlling its site.
    """
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode("utf-8"), address)
    except OSError as exc:
        log.warning("cannot notify systemd through %r: %s", environ.get("NOTIFY_SOCKET"), exc)
        return False
    return True


def watchdog_interval_s(environ: Mapping[str, str] = os.environ) -> float | None:
    """systemd's watchdog timeout for this process [s], or ``None`` when there is none.

    ``WATCHDOG_PID``, when set, must be this process (a child must not ping for it).
    """
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        interval_s = int(usec) / 1e6
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds; no watchdog", usec)
        return None
    return interval_s if interval_s > 0 else None


async def watchdog_loop(
    progress: Callable[[], int],
    timeout_s: float,
    stop: asyncio.Event,
    send: Callable[[str], bool] = notify,
) -> None:
    """Until ``stop``: every ``timeout_s / 2``, ping ``WATCHDOG=1`` if ``progress()``
    (e.g. the number of cycles run) grew since the last check."""
    last = progress()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout_s / 2)
        now = progress()
        if now > last:
            send("WATCHDOG=1")
        elif not stop.is_set():
            log.warning(
                "no control cycle for %.1f s: not pinging systemd's watchdog", timeout_s / 2
            )
        last = now
