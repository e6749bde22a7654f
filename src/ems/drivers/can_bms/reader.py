"""A python-can bus and the thread that hands its frames to a :class:`FrameCache`.

Its own thread rather than a ``can.Notifier``: when the bus fails under it, the
reader records why and ends, instead of retrying in a tight loop; the device's
next poll reports the failure and the host reopens the bus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ems.drivers.can_bms.frames import FrameCache
from ems.errors import DeviceTimeout

if TYPE_CHECKING:
    import can

__all__ = ["RECV_WAIT_S", "BusFactory", "BusReader"]

#: How long one ``recv`` blocks; bounds how long ``close`` waits for the thread [s].
RECV_WAIT_S = 0.05

BusFactory = Callable[[], "can.BusABC"]


class BusReader:
    """Opens the bus on demand; ``close`` stops the thread and shuts the bus down."""

    def __init__(self, open_bus: BusFactory, cache: FrameCache, name: str) -> None:
        self._open_bus = open_bus
        self._cache = cache
        self._name = name
        self._bus: can.BusABC | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._bus is not None

    def open(self) -> None:
        """Raises :class:`DeviceTimeout` when the interface cannot be opened."""
        import can  # here, not at the top: see the package's docstring

        try:
            bus = self._open_bus()
        except (can.CanError, OSError, ValueError, ImportError) as exc:
            raise DeviceTimeout(f"cannot open the CAN bus: {exc}") from None
        self._cache.clear_bus_error()
        self._stop = threading.Event()
        self._bus = bus
        self._thread = threading.Thread(
            target=self._run, args=(bus, self._stop), name=f"can-{self._name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(RECV_WAIT_S * 20)
            self._thread = None
        if self._bus is not None:
            bus, self._bus = self._bus, None
            bus.shutdown()

    def _run(self, bus: can.BusABC, stop: threading.Event) -> None:
        import can

        while not stop.is_set():
            try:
                msg = bus.recv(RECV_WAIT_S)
            except (can.CanError, OSError, ValueError) as exc:
                self._cache.on_bus_error(str(exc) or type(exc).__name__)
                return
            if msg is not None:
                self._cache.on_frame(msg)
